#include "metrics.hpp"

#include "metrics.pb.h"
#include "metrics_v2.pb.h"

namespace berth::shim {

namespace {

// A memory.stat field, 0 when the kernel has no such key.
uint64_t raw(const cgroup::Stats& st, const char* key) {
    auto it = st.memory_raw.find(key);
    return it == st.memory_raw.end() ? 0 : it->second;
}

} // namespace

AnyMetrics metrics_v1(const cgroup::Stats& st) {
    berth::cgroups::v1::Metrics mt;
    mt.mutable_pids()->set_current(st.pids_current);
    mt.mutable_pids()->set_limit(st.pids_limit);
    auto* cu = mt.mutable_cpu()->mutable_usage();
    cu->set_total(st.cpu_total_ns);
    cu->set_kernel(st.cpu_kernel_ns);
    cu->set_user(st.cpu_user_ns);
    for (uint64_t v : st.cpu_percpu_ns) cu->add_per_cpu(v);
    auto* th = mt.mutable_cpu()->mutable_throttling();
    th->set_periods(st.cpu_periods);
    th->set_throttled_periods(st.cpu_throttled_periods);
    th->set_throttled_time(st.cpu_throttled_ns);
    auto* mem = mt.mutable_memory();
    mem->set_cache(raw(st, "cache"));
    mem->set_rss(raw(st, "rss"));
    mem->set_rss_huge(raw(st, "rss_huge"));
    mem->set_mapped_file(raw(st, "mapped_file"));
    mem->set_dirty(raw(st, "dirty"));
    mem->set_writeback(raw(st, "writeback"));
    mem->set_pg_pg_in(raw(st, "pgpgin"));
    mem->set_pg_pg_out(raw(st, "pgpgout"));
    mem->set_pg_fault(raw(st, "pgfault"));
    mem->set_pg_maj_fault(raw(st, "pgmajfault"));
    mem->set_inactive_anon(raw(st, "inactive_anon"));
    mem->set_active_anon(raw(st, "active_anon"));
    mem->set_inactive_file(raw(st, "inactive_file"));
    mem->set_active_file(raw(st, "active_file"));
    mem->set_unevictable(raw(st, "unevictable"));
    mem->set_hierarchical_memory_limit(raw(st, "hierarchical_memory_limit"));
    mem->set_hierarchical_swap_limit(raw(st, "hierarchical_memsw_limit"));
    auto entry = [](berth::cgroups::v1::MemoryEntry* e, const cgroup::MemoryUsage& u) {
        e->set_limit(u.limit);
        e->set_usage(u.usage);
        e->set_max(u.max);
        e->set_failcnt(u.failcnt);
    };
    entry(mem->mutable_usage(), st.memory);
    entry(mem->mutable_swap(), st.swap);
    entry(mem->mutable_kernel(), st.kernel);
    entry(mem->mutable_kernel_tcp(), st.kernel_tcp);
    mt.mutable_memory_oom_control()->set_oom_kill(st.oom_kills);
    return {"io.containerd.cgroups.v1.Metrics", mt.SerializeAsString()};
}

AnyMetrics metrics_v2(const cgroup::Stats& st) {
    // Stats reads a "max" limit as 0 (runc's events convention); containerd's
    // v2 Metrics say "max" as the largest uint64, as its own shim does.
    auto limit = [](uint64_t v) { return v == 0 ? UINT64_MAX : v; };
    berth::cgroups::v2::Metrics mt;
    mt.mutable_pids()->set_current(st.pids_current);
    mt.mutable_pids()->set_limit(limit(st.pids_limit));
    auto* cpu = mt.mutable_cpu();
    cpu->set_usage_usec(st.cpu_total_ns / 1000);
    cpu->set_user_usec(st.cpu_user_ns / 1000);
    cpu->set_system_usec(st.cpu_kernel_ns / 1000);
    cpu->set_nr_periods(st.cpu_periods);
    cpu->set_nr_throttled(st.cpu_throttled_periods);
    cpu->set_throttled_usec(st.cpu_throttled_ns / 1000);
    auto* mem = mt.mutable_memory();
    mem->set_anon(raw(st, "anon"));
    mem->set_file(raw(st, "file"));
    mem->set_kernel_stack(raw(st, "kernel_stack"));
    mem->set_slab(raw(st, "slab"));
    mem->set_sock(raw(st, "sock"));
    mem->set_shmem(raw(st, "shmem"));
    mem->set_file_mapped(raw(st, "file_mapped"));
    mem->set_file_dirty(raw(st, "file_dirty"));
    mem->set_file_writeback(raw(st, "file_writeback"));
    mem->set_anon_thp(raw(st, "anon_thp"));
    mem->set_inactive_anon(raw(st, "inactive_anon"));
    mem->set_active_anon(raw(st, "active_anon"));
    mem->set_inactive_file(raw(st, "inactive_file"));
    mem->set_active_file(raw(st, "active_file"));
    mem->set_unevictable(raw(st, "unevictable"));
    mem->set_slab_reclaimable(raw(st, "slab_reclaimable"));
    mem->set_slab_unreclaimable(raw(st, "slab_unreclaimable"));
    mem->set_pgfault(raw(st, "pgfault"));
    mem->set_pgmajfault(raw(st, "pgmajfault"));
    mem->set_workingset_refault(raw(st, "workingset_refault_file") + raw(st, "workingset_refault_anon") +
                                raw(st, "workingset_refault"));
    mem->set_workingset_activate(raw(st, "workingset_activate_file") + raw(st, "workingset_activate_anon") +
                                 raw(st, "workingset_activate"));
    mem->set_workingset_nodereclaim(raw(st, "workingset_nodereclaim"));
    mem->set_pgrefill(raw(st, "pgrefill"));
    mem->set_pgscan(raw(st, "pgscan"));
    mem->set_pgsteal(raw(st, "pgsteal"));
    mem->set_pgactivate(raw(st, "pgactivate"));
    mem->set_pgdeactivate(raw(st, "pgdeactivate"));
    mem->set_pglazyfree(raw(st, "pglazyfree"));
    mem->set_pglazyfreed(raw(st, "pglazyfreed"));
    mem->set_thp_fault_alloc(raw(st, "thp_fault_alloc"));
    mem->set_thp_collapse_alloc(raw(st, "thp_collapse_alloc"));
    mem->set_usage(st.memory.usage);
    mem->set_usage_limit(limit(st.memory.limit));
    mem->set_max_usage(st.memory.max);
    mem->set_swap_usage(st.swap.usage);
    mem->set_swap_limit(limit(st.swap.limit));
    mem->set_swap_max_usage(st.swap.max);
    mt.mutable_memory_events()->set_oom_kill(st.oom_kills);
    return {"io.containerd.cgroups.v2.Metrics", mt.SerializeAsString()};
}

} // namespace berth::shim
