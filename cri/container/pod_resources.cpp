#include "pod_resources.hpp"

namespace berth::cri {

namespace v1 = runtime::v1;

spec::Resources pod_cgroup_resources(const v1::LinuxPodSandboxConfig& linux, const HostFeatures& host) {
    const v1::LinuxContainerResources& r = linux.resources();
    const v1::LinuxContainerResources& o = linux.overhead();
    // Each checked on its own first, so an error names the field given.
    oci_resources(r, host, "config.linux.resources");
    oci_resources(o, host, "config.linux.overhead");

    v1::LinuxContainerResources sum;
    // A limit stays unlimited unless the containers' sum has one; the
    // overhead is added to a limit, never made one by itself (kubelet).
    if (r.memory_limit_in_bytes() > 0) sum.set_memory_limit_in_bytes(r.memory_limit_in_bytes() + o.memory_limit_in_bytes());
    if (r.memory_swap_limit_in_bytes() > 0)
        sum.set_memory_swap_limit_in_bytes(r.memory_swap_limit_in_bytes() + o.memory_swap_limit_in_bytes());
    else
        sum.set_memory_swap_limit_in_bytes(r.memory_swap_limit_in_bytes());
    if (r.cpu_quota() > 0) {
        int64_t period = r.cpu_period() > 0 ? r.cpu_period() : 100000;
        int64_t extra = o.cpu_quota() > 0 ? o.cpu_quota() : 0;
        // The overhead's quota counts in its own period.
        if (extra && o.cpu_period() > 0 && o.cpu_period() != period) extra = extra * period / o.cpu_period();
        sum.set_cpu_period(period);
        sum.set_cpu_quota(r.cpu_quota() + extra);
    }
    if (r.cpu_shares() > 0 || o.cpu_shares() > 0) sum.set_cpu_shares(r.cpu_shares() + o.cpu_shares());
    sum.set_cpuset_cpus(r.cpuset_cpus());
    sum.set_cpuset_mems(r.cpuset_mems());
    for (const auto& h : r.hugepage_limits()) {
        auto* x = sum.add_hugepage_limits();
        *x = h;
        for (const auto& oh : o.hugepage_limits())
            if (oh.page_size() == h.page_size()) x->set_limit(h.limit() + oh.limit());
    }
    *sum.mutable_unified() = r.unified();
    return oci_resources(sum, host, "config.linux.resources");
}

} // namespace berth::cri
