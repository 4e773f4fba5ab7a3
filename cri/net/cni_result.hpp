// What berthd reads of a CNI result: the pod's IP addresses.
#pragma once

#include <string>
#include <vector>

namespace berth::cri::net {

// The addresses (without prefix length) a result gives the pod's side:
// every "ips" entry whose interface is in the sandbox (or names none), for
// results of 0.3.0 and later; "ip4"/"ip6" for 0.1.0 and 0.2.0. The first
// IPv4 address comes first, as containerd orders a pod's IPs; then the
// rest in the result's order. Error(EINVAL) naming the field for a result
// that is not one.
std::vector<std::string> result_ips(const std::string& result, const std::string& what);

} // namespace berth::cri::net
