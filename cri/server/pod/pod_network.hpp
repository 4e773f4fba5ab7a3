// A pod's CNI network: what its ADD is given from the PodSandboxConfig
// (CNI_ARGS, and the runtimeConfig capabilities portMappings, bandwidth,
// ipRanges, dns and the pod's annotations, as containerd passes them).
#pragma once

#include "api.pb.h"
#include "cni_network.hpp"

#include <string>
#include <vector>

namespace berth::cri {

// Error(EINVAL) naming the field for what CNI cannot carry (a ';' in a
// name for CNI_ARGS, a bad bandwidth annotation).
net::PodNetwork pod_network(const runtime::v1::PodSandboxConfig& cfg, const std::string& pod_id,
                            const std::string& netns, const std::vector<std::string>& pod_cidrs);

// A Kubernetes quantity ("10M", "1Gi", "500k") in units: bandwidth
// annotations are bits per second.
uint64_t parse_quantity(const std::string& s, const std::string& field);

} // namespace berth::cri
