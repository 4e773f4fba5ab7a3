// The cgroup writers' plans: exact files and values for v1 and v2,
// conversions, ordering, and what v2 refuses.
#include <criterion/criterion.h>

#include "cgroup_resources.hpp"
#include "error.hpp"

#include <algorithm>
#include <string>

using namespace berth;
using cgroup::Write;

namespace {

// A reference, not a copy: Criterion's string asserts keep the c_str().
const std::string& find(const std::vector<Write>& plan, const std::string& file) {
    static const std::string absent = "<absent>";
    for (const auto& w : plan)
        if (w.file == file) return w.value;
    return absent;
}

size_t index_of(const std::vector<Write>& plan, const std::string& file) {
    for (size_t i = 0; i < plan.size(); ++i)
        if (plan[i].file == file) return i;
    return SIZE_MAX;
}

std::string error_of(const spec::Resources& r) {
    try {
        cgroup::plan_v2(r);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

spec::Resources full() {
    spec::Resources r;
    r.memory = spec::Memory{};
    r.memory->limit = 1 << 30;
    r.memory->reservation = 1 << 29;
    r.memory->swap = (1 << 30) + (1 << 28);
    r.cpu = spec::Cpu{};
    r.cpu->shares = 1024;
    r.cpu->quota = 50000;
    r.cpu->period = 100000;
    r.cpu->cpus = "0-1";
    r.cpu->mems = "0";
    r.pids = spec::Pids{100};
    r.blockIO = spec::BlockIO{};
    r.blockIO->weight = 500;
    r.blockIO->throttleReadBpsDevice = {{8, 0, 1048576}};
    r.blockIO->throttleWriteIOPSDevice = {{8, 0, 100}};
    r.hugepageLimits = {{"2MB", 4194304}};
    return r;
}

} // namespace

Test(cgroup_plan, v1_files_and_values) {
    auto p = cgroup::plan_v1(full());
    cr_assert_str_eq(find(p, "memory.limit_in_bytes").c_str(), "1073741824");
    cr_assert_str_eq(find(p, "memory.soft_limit_in_bytes").c_str(), "536870912");
    cr_assert_str_eq(find(p, "memory.memsw.limit_in_bytes").c_str(), "1342177280");
    cr_assert_str_eq(find(p, "cpu.shares").c_str(), "1024");
    cr_assert_str_eq(find(p, "cpu.cfs_quota_us").c_str(), "50000");
    cr_assert_str_eq(find(p, "cpu.cfs_period_us").c_str(), "100000");
    cr_assert_str_eq(find(p, "cpuset.cpus").c_str(), "0-1");
    cr_assert_str_eq(find(p, "pids.max").c_str(), "100");
    cr_assert_str_eq(find(p, "blkio.weight").c_str(), "500");
    cr_assert_str_eq(find(p, "blkio.throttle.read_bps_device").c_str(), "8:0 1048576");
    cr_assert_str_eq(find(p, "blkio.throttle.write_iops_device").c_str(), "8:0 100");
    cr_assert_str_eq(find(p, "hugetlb.2MB.limit_in_bytes").c_str(), "4194304");
    // The period before the quota, the limit before memsw.
    cr_assert_lt(index_of(p, "cpu.cfs_period_us"), index_of(p, "cpu.cfs_quota_us"));
    cr_assert_lt(index_of(p, "memory.limit_in_bytes"), index_of(p, "memory.memsw.limit_in_bytes"));
    for (const auto& w : p) cr_assert(w.field.rfind("linux.resources.", 0) == 0, "%s", w.field.c_str());
}

Test(cgroup_plan, v2_files_and_conversions) {
    auto p = cgroup::plan_v2(full());
    cr_assert_str_eq(find(p, "memory.max").c_str(), "1073741824");
    cr_assert_str_eq(find(p, "memory.low").c_str(), "536870912");
    // v2's swap.max is swap only: (limit + swap) - limit.
    cr_assert_str_eq(find(p, "memory.swap.max").c_str(), "268435456");
    // shares 1024 -> weight 1 + (1022 * 9999) / 262142 = 39
    cr_assert_str_eq(find(p, "cpu.weight").c_str(), "39");
    cr_assert_str_eq(find(p, "cpu.max").c_str(), "50000 100000");
    cr_assert_str_eq(find(p, "pids.max").c_str(), "100");
    cr_assert_str_eq(find(p, "io.max").c_str(), "8:0 rbps=1048576 wiops=100");
    cr_assert_str_eq(find(p, "hugetlb.2MB.max").c_str(), "4194304");
    auto w = std::find_if(p.begin(), p.end(), [](const Write& x) { return x.file == "io.bfq.weight"; });
    cr_assert(w != p.end());
    cr_assert_str_eq(w->value.c_str(), "500");
    cr_assert_str_eq(w->alt_file.c_str(), "io.weight");
    cr_assert_str_eq(w->alt_value.c_str(), "default 4950");   // 1 + (490 * 9999) / 990
}

Test(cgroup_plan, conversions_at_the_edges) {
    cr_assert_eq(cgroup::shares_to_weight(2), 1u);
    cr_assert_eq(cgroup::shares_to_weight(262144), 10000u);
    cr_assert_eq(cgroup::shares_to_weight(0), 0u);
    cr_assert_eq(cgroup::blkio_to_io_weight(10), 1u);
    cr_assert_eq(cgroup::blkio_to_io_weight(1000), 10000u);
    cr_assert_eq(cgroup::swap_to_v2(-1, 100), -1);
}

Test(cgroup_plan, unlimited_values) {
    spec::Resources r;
    r.memory = spec::Memory{};
    r.memory->limit = -1;
    r.pids = spec::Pids{-1};
    r.cpu = spec::Cpu{};
    r.cpu->quota = -1;
    auto v2 = cgroup::plan_v2(r);
    cr_assert_str_eq(find(v2, "memory.max").c_str(), "max");
    cr_assert_str_eq(find(v2, "pids.max").c_str(), "max");
    cr_assert_str_eq(find(v2, "cpu.max").c_str(), "max 100000");
    auto v1 = cgroup::plan_v1(r);
    cr_assert_str_eq(find(v1, "memory.limit_in_bytes").c_str(), "-1");
    cr_assert_str_eq(find(v1, "pids.max").c_str(), "max");
}

Test(cgroup_plan, v1_devices_deny_then_rules_then_defaults) {
    spec::Resources r;
    spec::DeviceCgroup deny;
    deny.allow = false;
    deny.access = "rwm";
    spec::DeviceCgroup fuse;
    fuse.allow = true;
    fuse.type = "c";
    fuse.major = 10;
    fuse.minor = 229;
    fuse.access = "rw";
    r.devices = {deny, fuse};
    auto p = cgroup::plan_v1(r);
    cr_assert_geq(p.size(), 3u);
    cr_assert_str_eq(p[0].file.c_str(), "devices.deny");
    cr_assert_str_eq(p[0].value.c_str(), "a");
    cr_assert_str_eq(p[1].file.c_str(), "devices.deny");   // the config's own deny-all
    cr_assert_str_eq(p[2].file.c_str(), "devices.allow");
    cr_assert_str_eq(p[2].value.c_str(), "c 10:229 rw");
    bool null_allowed = false;
    for (size_t i = 3; i < p.size(); ++i) null_allowed = null_allowed || p[i].value == "c 1:3 rwm";
    cr_assert(null_allowed, "runc's default devices must follow the config's rules");
}

Test(cgroup_plan, v2_refuses_what_it_cannot_express) {
    auto with = [](auto fn) {
        spec::Resources r;
        fn(r);
        return error_of(r);
    };
    cr_assert(with([](auto& r) { r.memory = spec::Memory{}; r.memory->swappiness = 10; }).find("memory.swappiness") != std::string::npos);
    cr_assert(with([](auto& r) { r.memory = spec::Memory{}; r.memory->kernel = 1; }).find("memory.kernel") != std::string::npos);
    cr_assert(with([](auto& r) { r.network = spec::Network{}; r.network->classID = 1; }).find("network") != std::string::npos);
    cr_assert(with([](auto& r) { r.cpu = spec::Cpu{}; r.cpu->realtimeRuntime = 1; }).find("cpu.realtime") != std::string::npos);
    cr_assert(with([](auto& r) { r.memory = spec::Memory{}; r.memory->swap = 100; }).find("memory.swap") != std::string::npos);
    cr_assert(with([](auto& r) { r.unified = {{"../escape", "1"}}; }).find("unified") != std::string::npos);
}

Test(cgroup_plan, v1_refuses_unified) {
    spec::Resources r;
    r.unified = {{"memory.high", "100"}};
    try {
        cgroup::plan_v1(r);
        cr_assert_fail("unified accepted on v1");
    } catch (const Error& e) {
        cr_assert(std::string(e.what()).find("linux.resources.unified") != std::string::npos);
    }
}

Test(cgroup_plan, unified_keys_map_to_controllers) {
    spec::Resources r;
    r.unified = {{"memory.high", "1000"}, {"cgroup.max.depth", "3"}};
    auto p = cgroup::plan_v2(r);
    cr_assert_eq(p.size(), 2u);
    for (const auto& w : p) {
        if (w.file == "memory.high") cr_assert_str_eq(w.controller.c_str(), "memory");
        if (w.file == "cgroup.max.depth") cr_assert_str_eq(w.controller.c_str(), "");
    }
}

Test(cgroup_plan, v1_narrow_all_type_rules_become_char_and_block) {
    spec::Resources r;
    spec::DeviceCgroup d;
    d.allow = true;
    d.type = "a";
    d.major = 1;
    d.minor = 3;
    d.access = "r";
    spec::DeviceCgroup all;
    all.allow = false;
    all.access = "rwm";
    r.devices = {all, d};
    auto p = cgroup::plan_v1(r);
    // deny "a" (fresh start), the config's deny-all as "a", then the narrow rule as c and b.
    cr_assert_str_eq(p[1].value.c_str(), "a");
    cr_assert_str_eq(p[2].value.c_str(), "c 1:3 r");
    cr_assert_str_eq(p[3].value.c_str(), "b 1:3 r");
}

// Docker sends these zeros for every container meaning "not set"; runc
// leaves the files alone, and so must berth (blkio.weight 0 is out of range,
// cpu.shares 0 would become the kernel's minimum).
Test(cgroup_plan, zero_means_not_set) {
    spec::Resources r;
    r.memory = spec::Memory{};
    r.memory->limit = 0;
    r.memory->reservation = 0;
    r.memory->swap = 0;
    r.memory->kernel = 0;
    r.cpu = spec::Cpu{};
    r.cpu->shares = 0;
    r.cpu->quota = 0;
    r.cpu->period = 0;
    r.cpu->realtimeRuntime = 0;
    r.pids = spec::Pids{0};
    r.blockIO = spec::BlockIO{};
    r.blockIO->weight = 0;
    r.blockIO->leafWeight = 0;
    auto v1 = cgroup::plan_v1(r);
    cr_expect(v1.empty(), "v1 plan has %zu writes, first %s", v1.size(), v1.empty() ? "" : v1[0].file.c_str());
    auto v2 = cgroup::plan_v2(r);
    cr_expect(v2.empty(), "v2 plan has %zu writes, first %s", v2.size(), v2.empty() ? "" : v2[0].file.c_str());
    // A real value next to the zeros still counts.
    r.cpu->shares = 512;
    auto again = cgroup::plan_v1(r);
    cr_expect_str_eq(find(again, "cpu.shares").c_str(), "512");
    cr_expect_str_eq(find(again, "blkio.weight").c_str(), "<absent>");
}
