// Task metrics for containerd: libberth's cgroup::Stats as containerd's
// cgroup v1 or v2 Metrics message, in the protobuf Any containerd decodes
// by its type URL.
#pragma once

#include "cgroup.hpp"

#include <string>

namespace berth::shim {

struct AnyMetrics {
    std::string type_url;
    std::string value;   // the serialized Metrics message
};

AnyMetrics metrics_v1(const cgroup::Stats& st);
AnyMetrics metrics_v2(const cgroup::Stats& st);

} // namespace berth::shim
