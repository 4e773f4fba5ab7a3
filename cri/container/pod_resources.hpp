// The limits of a pod cgroup berthd makes itself, where no kubelet names
// one (an execution manager, crictl without a cgroup_parent): what the
// pod's containers may use together (PodSandboxConfig.linux.resources)
// plus the pod's overhead (linux.overhead), summed as kubelet sizes the pod
// cgroups it makes. Where kubelet names the parent it has sized it already,
// and berthd leaves it alone, as containerd and CRI-O do.
#pragma once

#include "api.pb.h"
#include "config.hpp"
#include "spec_builder.hpp"

namespace berth::cri {

// Throws Error(EINVAL) naming config.linux.resources.* or
// config.linux.overhead.* for a bad value.
spec::Resources pod_cgroup_resources(const runtime::v1::LinuxPodSandboxConfig& linux, const HostFeatures& host);

} // namespace berth::cri
