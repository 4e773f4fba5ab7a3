// Port-forward over SPDY/3.1 (portforward.k8s.io), as kubelet serves it
// (pkg/kubelet/cri/streaming/portforward/httpstream.go): for each
// connection the client forwards it opens an error stream and a data
// stream, both naming the port and a requestID; berthd connects to that
// port inside the pod (the backend's connect) and copies both ways. One
// SPDY connection carries any number of such pairs until the client leaves.
#pragma once

#include "fd.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::stream {

// A socket connected to the port in the pod; Error with the reason.
using PortConnect = std::function<UniqueFd(uint16_t port)>;

// `allowed`: the ports the request named (empty: any). `what` names the
// pod in error messages.
void run_portforward_session(int sock, std::string_view initial, const std::vector<int32_t>& allowed,
                             const PortConnect& connect, const std::string& what);

} // namespace berth::stream
