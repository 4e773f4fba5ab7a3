// The systemd cgroup driver's pure parts: cgroupsPath ("slice:prefix:name")
// and slice expansion, the AllowedCPUs bitmask, the unit properties for
// linux.resources, and the StartTransientUnit call.
#include <criterion/criterion.h>

#include "cgroup_systemd.hpp"
#include "error.hpp"

#include <string>

// Criterion's string asserts read c_str() after temporaries die: compare copies.
#define STR_EQ(got, want, ...)                                                                      \
    do {                                                                                            \
        std::string g_ = (got), w_ = (want);                                                        \
        cr_assert(g_ == w_, "got:  [%s]\nwant: [%s]", g_.c_str(), w_.c_str());                      \
    } while (0)

using namespace berth;
using namespace berth::cgroup::systemd;
using berth::dbus::Value;

namespace {

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// name -> value of the "(sv)" properties.
std::map<std::string, Value> by_name(const std::vector<Value>& props) {
    std::map<std::string, Value> out;
    for (const auto& p : props) out.emplace(p.items().at(0).as_str(), p.items().at(1).inner());
    return out;
}

uint64_t u64(const std::map<std::string, Value>& m, const std::string& k) {
    auto it = m.find(k);
    cr_assert(it != m.end(), "no property %s", k.c_str());
    return it->second.as_u64();
}

std::vector<uint8_t> bytes(const Value& v) {
    std::vector<uint8_t> out;
    for (const auto& b : v.items()) out.push_back(static_cast<uint8_t>(b.as_u64()));
    return out;
}

} // namespace

Test(cgroup_systemd, expand_slice) {
    STR_EQ(expand_slice("system.slice").c_str(), "/system.slice");
    STR_EQ(expand_slice("a-b-c.slice").c_str(), "/a.slice/a-b.slice/a-b-c.slice");
    STR_EQ(expand_slice("user-1000.slice").c_str(), "/user.slice/user-1000.slice");
    STR_EQ(expand_slice("-.slice").c_str(), "/");
    for (const char* bad : {"", ".slice", "a--b.slice", "-a.slice", "a-.slice", "a/b.slice", "system", "system.scope"})
        cr_assert(!error_of([&] { expand_slice(bad); }).empty(), "accepted slice \"%s\"", bad);
}

Test(cgroup_systemd, default_path) {
    auto u = parse_path("", "c1", false);
    STR_EQ(u.slice.c_str(), "system.slice");
    STR_EQ(u.name.c_str(), "berth-c1.scope");
    STR_EQ(u.path.c_str(), "/system.slice/berth-c1.scope");
    STR_EQ(u.cgroups_path.c_str(), "system.slice:berth:c1");
    cr_assert(!u.is_slice());
    auto r = parse_path("", "c1", true);
    STR_EQ(r.path.c_str(), "/user.slice/berth-c1.scope");
    // What state.json keeps parses to the same unit (the id no longer matters).
    auto again = parse_path(u.cgroups_path, "", true);
    STR_EQ(again.path.c_str(), u.path.c_str());
    STR_EQ(again.name.c_str(), u.name.c_str());
}

Test(cgroup_systemd, given_paths) {
    auto a = parse_path("machine.slice:libpod:abc", "x", false);
    STR_EQ(a.name.c_str(), "libpod-abc.scope");
    STR_EQ(a.path.c_str(), "/machine.slice/libpod-abc.scope");
    auto b = parse_path("a-b.slice:p:n", "x", false);
    STR_EQ(b.slice.c_str(), "a-b.slice");
    STR_EQ(b.path.c_str(), "/a.slice/a-b.slice/p-n.scope");
    auto root = parse_path("-.slice:p:n", "x", false);
    STR_EQ(root.path.c_str(), "/p-n.scope");
    auto noprefix = parse_path("system.slice::n", "x", false);
    STR_EQ(noprefix.name.c_str(), "n.scope");
    // A name ending in .slice is a slice unit, placed by its own name.
    auto s = parse_path(":ignored:x-y.slice", "x", false);
    cr_assert(s.is_slice());
    STR_EQ(s.name.c_str(), "x-y.slice");
    STR_EQ(s.path.c_str(), "/x.slice/x-y.slice");
    STR_EQ(s.slice.c_str(), "system.slice");
    auto itest = parse_path("system.slice:berth-itest:it1-2", "x", false);
    STR_EQ(itest.name.c_str(), "berth-itest-it1-2.scope");
    STR_EQ(itest.path.c_str(), "/system.slice/berth-itest-it1-2.scope");
}

Test(cgroup_systemd, invalid_paths_name_the_field) {
    for (const char* bad : {"/berth/c1", "a:b", "a:b:c:d", "system.slice:p:", "bad:p:n", "system.slice:p:a/b",
                            "system.slice:p:a b", ":p:-.slice", ":p:a--b.slice", "x/y.slice:p:n"}) {
        auto why = error_of([&] { parse_path(bad, "c1", false); });
        cr_assert(why.find("linux.cgroupsPath") != std::string::npos, "\"%s\": %s", bad, why.c_str());
        cr_assert(why.find(bad) != std::string::npos, "\"%s\" not named: %s", bad, why.c_str());
    }
    auto why = error_of([] { parse_path("/berth/c1", "c1", false); });
    cr_assert(why.find("slice:prefix:name") != std::string::npos, "%s", why.c_str());
}

Test(cgroup_systemd, cpuset_bits) {
    cr_assert(cpuset_bits("0", "f") == std::vector<uint8_t>{0x01});
    cr_assert(cpuset_bits("0-2,5", "f") == std::vector<uint8_t>{0x27});
    cr_assert(cpuset_bits("8", "f") == (std::vector<uint8_t>{0x00, 0x01}));
    cr_assert(cpuset_bits("1,3-4, 9,", "f") == (std::vector<uint8_t>{0x1a, 0x02}));
    cr_assert(cpuset_bits("0-15", "f") == (std::vector<uint8_t>{0xff, 0xff}));
    for (const char* bad : {"", ",", "3-1", "x", "1-", "-1", "1.5"}) {
        auto why = error_of([&] { cpuset_bits(bad, "linux.resources.cpu.cpus"); });
        cr_assert(why.find("linux.resources.cpu.cpus") != std::string::npos, "\"%s\": %s", bad, why.c_str());
    }
}

Test(cgroup_systemd, v2_resource_properties) {
    spec::Resources r;
    r.memory = spec::Memory{};
    r.memory->limit = 64 << 20;
    r.memory->reservation = 32 << 20;
    r.memory->swap = 96 << 20;
    r.cpu = spec::Cpu{};
    r.cpu->shares = 512;
    r.cpu->quota = 50000;
    r.cpu->period = 100000;
    r.cpu->cpus = "0-1";
    r.cpu->mems = "0";
    r.pids = spec::Pids{32};
    r.blockIO = spec::BlockIO{};
    r.blockIO->weight = 500;
    auto p = by_name(resource_properties(r, true, 252));
    cr_assert_eq(u64(p, "MemoryMax"), 64u << 20);
    cr_assert_eq(u64(p, "MemoryLow"), 32u << 20);
    cr_assert_eq(u64(p, "MemorySwapMax"), 32u << 20);   // swap is memory+swap in the spec
    cr_assert_eq(u64(p, "CPUWeight"), 20u);
    cr_assert_eq(u64(p, "CPUQuotaPeriodUSec"), 100000u);
    cr_assert_eq(u64(p, "CPUQuotaPerSecUSec"), 500000u);
    cr_assert_eq(u64(p, "TasksMax"), 32u);
    cr_assert_eq(u64(p, "IOWeight"), 1 + (500u - 10) * 9999 / 990);
    cr_assert(bytes(p.at("AllowedCPUs")) == std::vector<uint8_t>{0x03});
    cr_assert(bytes(p.at("AllowedMemoryNodes")) == std::vector<uint8_t>{0x01});
    cr_assert(!p.count("MemoryLimit") && !p.count("CPUShares"));
    // The property types systemd expects.
    for (const auto& [k, v] : p)
        STR_EQ(v.sig().c_str(), k.starts_with("Allowed") ? "ay" : "t", "%s", k.c_str());

    // Older systemd: no period (v242) and no AllowedCPUs (v244) properties.
    auto old = by_name(resource_properties(r, true, 241));
    cr_assert(!old.count("CPUQuotaPeriodUSec") && !old.count("AllowedCPUs") && !old.count("AllowedMemoryNodes"));
    cr_assert_eq(u64(old, "CPUQuotaPerSecUSec"), 500000u);
}

Test(cgroup_systemd, limits_and_rounding) {
    spec::Resources r;
    r.memory = spec::Memory{};
    r.memory->limit = -1;
    r.memory->swap = -1;
    r.cpu = spec::Cpu{};
    r.cpu->quota = 1234;   // 1.234% of a CPU: rounded up to whole percent (10 ms per s)
    r.pids = spec::Pids{-1};
    auto p = by_name(resource_properties(r, true, 252));
    cr_assert_eq(u64(p, "MemoryMax"), UINT64_MAX);
    cr_assert_eq(u64(p, "MemorySwapMax"), UINT64_MAX);
    cr_assert_eq(u64(p, "TasksMax"), UINT64_MAX);
    cr_assert_eq(u64(p, "CPUQuotaPerSecUSec"), 20000u);
    cr_assert(!p.count("CPUQuotaPeriodUSec"));
    r.cpu->quota = -1;   // no quota
    r.cpu->period = 50000;
    p = by_name(resource_properties(r, true, 252));
    cr_assert_eq(u64(p, "CPUQuotaPerSecUSec"), UINT64_MAX);
    cr_assert_eq(u64(p, "CPUQuotaPeriodUSec"), 50000u);
    // Nothing asked for, nothing sent.
    cr_assert(resource_properties(spec::Resources{}, true, 252).empty());
}

Test(cgroup_systemd, v1_resource_properties) {
    spec::Resources r;
    r.memory = spec::Memory{};
    r.memory->limit = 64 << 20;
    r.memory->reservation = 1 << 20;
    r.cpu = spec::Cpu{};
    r.cpu->shares = 512;
    r.blockIO = spec::BlockIO{};
    r.blockIO->weight = 500;
    r.pids = spec::Pids{10};
    auto p = by_name(resource_properties(r, false, 252));
    cr_assert_eq(u64(p, "MemoryLimit"), 64u << 20);
    cr_assert_eq(u64(p, "CPUShares"), 512u);
    cr_assert_eq(u64(p, "BlockIOWeight"), 500u);
    cr_assert_eq(u64(p, "TasksMax"), 10u);
    cr_assert(!p.count("MemoryMax") && !p.count("MemoryLow") && !p.count("CPUWeight") && !p.count("IOWeight"));
}

Test(cgroup_systemd, unified_properties) {
    spec::Resources r;
    r.unified = {{"memory.high", "max"}, {"memory.min", " 4096\n"}, {"pids.max", "10"}, {"cpu.max", "max 50000"},
                 {"cpu.weight", "100"}, {"io.max", "8:0 rbps=1"}};
    auto p = by_name(resource_properties(r, true, 252));
    cr_assert_eq(u64(p, "MemoryHigh"), UINT64_MAX);
    cr_assert_eq(u64(p, "MemoryMin"), 4096u);
    cr_assert_eq(u64(p, "TasksMax"), 10u);
    cr_assert_eq(u64(p, "CPUQuotaPerSecUSec"), UINT64_MAX);
    cr_assert_eq(u64(p, "CPUQuotaPeriodUSec"), 50000u);
    cr_assert_eq(u64(p, "CPUWeight"), 100u);
    cr_assert_eq(p.size(), 6u);   // io.max goes to cgroupfs only
    r.unified = {{"pids.max", "lots"}};
    auto why = error_of([&] { resource_properties(r, true, 252); });
    cr_assert(why.find("linux.resources.unified[\"pids.max\"]") != std::string::npos, "%s", why.c_str());
}

Test(cgroup_systemd, start_message) {
    auto u = parse_path("system.slice:berth-itest:c1", "", false);
    auto m = start_message(u, 4242, true, {});
    STR_EQ(m.member.c_str(), "StartTransientUnit");
    STR_EQ(m.destination.c_str(), "org.freedesktop.systemd1");
    STR_EQ(m.path.c_str(), "/org/freedesktop/systemd1");
    STR_EQ(m.interface.c_str(), "org.freedesktop.systemd1.Manager");
    STR_EQ(m.signature.c_str(), "ssa(sv)a(sa(sv))");
    auto a = m.args();
    STR_EQ(a[0].as_str().c_str(), "berth-itest-c1.scope");
    STR_EQ(a[1].as_str().c_str(), "replace");
    auto p = by_name(a[2].items());
    STR_EQ(p.at("Slice").as_str().c_str(), "system.slice");
    cr_assert(p.at("Delegate").as_bool());
    cr_assert_eq(p.at("PIDs").sig(), "au");
    cr_assert_eq(p.at("PIDs").items().at(0).as_u64(), 4242u);
    cr_assert(!p.at("DefaultDependencies").as_bool());
    for (const char* k : {"MemoryAccounting", "CPUAccounting", "IOAccounting", "TasksAccounting"}) cr_assert(p.at(k).as_bool(), "%s", k);
    cr_assert(p.at("Description").as_str().find("berth-itest-c1.scope") != std::string::npos);
    cr_assert(a[3].items().empty());

    // Resource properties follow; v1 names BlockIOAccounting.
    spec::Resources r;
    r.pids = spec::Pids{5};
    auto v1 = by_name(start_message(u, 1, false, resource_properties(r, false, 252)).args()[2].items());
    cr_assert(v1.count("BlockIOAccounting") && !v1.count("IOAccounting"));
    cr_assert_eq(v1.at("TasksMax").as_u64(), 5u);

    // A slice: Wants= its parent, no PIDs and no Delegate.
    auto s = parse_path("system.slice:x:berth-test.slice", "", false);
    auto sp = by_name(start_message(s, 1, true, {}).args()[2].items());
    cr_assert(!sp.count("PIDs") && !sp.count("Delegate") && !sp.count("Slice"));
    cr_assert_eq(sp.at("Wants").sig(), "as");
    STR_EQ(sp.at("Wants").items().at(0).as_str().c_str(), "system.slice");
}

Test(cgroup_systemd, parse_version) {
    cr_assert_eq(parse_version("252.38-1~deb12u1"), 252);
    cr_assert_eq(parse_version("\"v245.4-1.fc32\""), 245);
    cr_assert_eq(parse_version("255"), 255);
    cr_assert_eq(parse_version("unknown"), -1);
    cr_assert_eq(parse_version(""), -1);
}
