// berth-shim's task metrics: cgroup::Stats as containerd's cgroup v1 and v2
// Metrics, with the type URL containerd decodes by and the field numbers
// checked against hand-encoded bytes (containerd/cgroups' protos).
#include <criterion/criterion.h>

#include "metrics.hpp"
#include "metrics.pb.h"
#include "metrics_v2.pb.h"

#include <string>

using namespace berth;

namespace {

cgroup::Stats sample() {
    cgroup::Stats st;
    st.pids_current = 5;
    st.pids_limit = 100;
    st.cpu_total_ns = 3'000'000;
    st.cpu_user_ns = 2'000'000;
    st.cpu_kernel_ns = 1'000'000;
    st.cpu_periods = 7;
    st.cpu_throttled_periods = 2;
    st.cpu_throttled_ns = 4'000;
    st.memory.usage = 1 << 20;
    st.memory.limit = 64 << 20;
    st.memory.max = 2 << 20;
    st.swap.usage = 4096;
    st.memory_raw = {{"anon", 1000}, {"file", 2000}, {"workingset_refault_file", 3}, {"workingset_refault_anon", 4}};
    st.oom_kills = 1;
    return st;
}

} // namespace

Test(shim_metrics, v2_type_url_and_fields) {
    auto any = shim::metrics_v2(sample());
    cr_assert_str_eq(any.type_url.c_str(), "io.containerd.cgroups.v2.Metrics");
    berth::cgroups::v2::Metrics m;
    cr_assert(m.ParseFromString(any.value));
    cr_assert_eq(m.pids().current(), 5u);
    cr_assert_eq(m.pids().limit(), 100u);
    cr_assert_eq(m.cpu().usage_usec(), 3000u);
    cr_assert_eq(m.cpu().user_usec(), 2000u);
    cr_assert_eq(m.cpu().system_usec(), 1000u);
    cr_assert_eq(m.cpu().nr_periods(), 7u);
    cr_assert_eq(m.cpu().nr_throttled(), 2u);
    cr_assert_eq(m.cpu().throttled_usec(), 4u);
    cr_assert_eq(m.memory().usage(), 1u << 20);
    cr_assert_eq(m.memory().usage_limit(), 64u << 20);
    cr_assert_eq(m.memory().max_usage(), 2u << 20);
    cr_assert_eq(m.memory().swap_usage(), 4096u);
    cr_assert_eq(m.memory().anon(), 1000u);
    cr_assert_eq(m.memory().file(), 2000u);
    cr_assert_eq(m.memory().workingset_refault(), 7u, "file + anon refaults (kernels >= 5.9 split them)");
    cr_assert_eq(m.memory_events().oom_kill(), 1u);
}

// Field numbers as upstream: pids = 1, cpu = 2, memory = 4, memory_events
// = 8; memory.usage = 32 (a two-byte tag), memory_events.oom_kill = 5.
Test(shim_metrics, v2_field_numbers) {
    cgroup::Stats st;
    st.pids_current = 5;
    st.pids_limit = 3;
    berth::cgroups::v2::Metrics m;
    cr_assert(m.ParseFromString(shim::metrics_v2(st).value));
    // current = 1, limit = 2; every sub-message present.
    std::string pids = m.pids().SerializeAsString();
    cr_assert_eq(pids, std::string("\x08\x05\x10\x03", 4));
    berth::cgroups::v2::Metrics only;
    only.mutable_memory()->set_usage(1);
    cr_assert_eq(only.SerializeAsString(), std::string("\x22\x03\x80\x02\x01", 5));
    berth::cgroups::v2::Metrics ev;
    ev.mutable_memory_events()->set_oom_kill(1);
    cr_assert_eq(ev.SerializeAsString(), std::string("\x42\x02\x28\x01", 4));
    berth::cgroups::v2::Metrics cpu;
    cpu.mutable_cpu()->set_usage_usec(1);
    cr_assert_eq(cpu.SerializeAsString(), std::string("\x12\x02\x08\x01", 4));
}

Test(shim_metrics, v1_type_url) {
    auto any = shim::metrics_v1(sample());
    cr_assert_str_eq(any.type_url.c_str(), "io.containerd.cgroups.v1.Metrics");
    berth::cgroups::v1::Metrics m;
    cr_assert(m.ParseFromString(any.value));
    cr_assert_eq(m.pids().current(), 5u);
    cr_assert_eq(m.cpu().usage().total(), 3'000'000u);
    cr_assert_eq(m.memory_oom_control().oom_kill(), 1u);
}

// No limit ("max", read as 0): the largest uint64, as containerd's shim says it.
Test(shim_metrics, v2_unlimited_is_max) {
    cgroup::Stats st;
    st.pids_current = 2;
    berth::cgroups::v2::Metrics m;
    cr_assert(m.ParseFromString(shim::metrics_v2(st).value));
    cr_assert_eq(m.pids().limit(), UINT64_MAX);
    cr_assert_eq(m.memory().usage_limit(), UINT64_MAX);
    cr_assert_eq(m.memory().swap_limit(), UINT64_MAX);
}
