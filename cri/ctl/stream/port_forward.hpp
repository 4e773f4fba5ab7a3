// berthctl port-forward: listens on 127.0.0.1 for each LOCAL:REMOTE pair
// and carries each connection it accepts over a WebSocket of its own to
// REMOTE inside the pod (kubelet's port-forward over WebSocket:
// v4.channel.k8s.io, `port` in the query, data on channel 0 and errors on
// channel 1, each opened by the port in 2 little-endian bytes). A
// streaming URL is single-use, so every connection asks for a new one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace berth::ctl {

struct PortPair {
    uint16_t local = 0;   // 0: any free port
    uint16_t remote = 0;
};

// kubectl's forms: "8080:80", ":80" (a free local port), "80" (the same
// on both ends). Throws Error(EINVAL) naming the argument.
PortPair parse_port_pair(const std::string& arg);

// Serves until killed. new_url(remote) returns a fresh streaming URL for
// the pod (a PortForward call); each failure of one connection is printed
// and the others go on. Throws Error when a local port cannot be bound.
[[noreturn]] void run_port_forward(const std::vector<PortPair>& pairs,
                                   const std::function<std::string(uint16_t remote)>& new_url,
                                   std::chrono::milliseconds dial_timeout);

} // namespace berth::ctl
