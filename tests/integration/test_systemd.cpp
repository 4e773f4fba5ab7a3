// The systemd cgroup driver (`berth --systemd-cgroup`). Where systemd is not
// PID 1 (this dev host) the driver must fail clearly and leave nothing; the
// cases that need systemd skip there and run in the VM lane (tests/vm),
// where systemd is PID 1 on a pure cgroup v2 host.
#include "harness.hpp"

#include <unistd.h>

#include <string>
#include <vector>

using itest::contains;
using itest::trim;

TestSuite(systemd, .init = itest::setup, .fini = itest::teardown, .timeout = 120);

namespace {

bool systemd_up() { return itest::exists("/run/systemd/private"); }

void require_systemd() {
    if (!systemd_up())
        itest::skip("systemd is not PID 1 here (no /run/systemd/private); the VM lane (tests/vm) runs this");
    if (!itest::exists("/sys/fs/cgroup/cgroup.controllers")) itest::skip("checks are written for a cgroup v2 host");
}

// The unit the driver makes for cgroupsPath "system.slice:berth-itest:<id>".
std::string unit_of(const itest::Container& c) { return "berth-itest-" + c.id + ".scope"; }
void use_unit(itest::Container& c) { c.cfg.linux->cgroupsPath = "system.slice:berth-itest:" + c.id; }
std::string unit_dir(const std::string& unit) { return "/sys/fs/cgroup/system.slice/" + unit; }

itest::Result sd(std::vector<std::string> args, const itest::SpawnOpts& o = {}) {
    args.insert(args.begin(), "--systemd-cgroup");
    return itest::berth(args, o);
}

// `berth --systemd-cgroup run [extra] --bundle B ID`.
itest::Result sd_run(const itest::Container& c, const std::vector<std::string>& extra = {}) {
    c.write_config();
    std::vector<std::string> a = {"run"};
    a.insert(a.end(), extra.begin(), extra.end());
    a.insert(a.end(), {"--bundle", c.bundle, c.id});
    itest::SpawnOpts o;
    for (const auto& e : extra)
        if (e == "-d") o.stdout_path = c.out_path;   // the container keeps berth's stdout
    return sd(a, o);
}

std::string systemctl_path() {
    return itest::exists("/usr/bin/systemctl") ? "/usr/bin/systemctl" : "/bin/systemctl";
}

// `systemctl show -p PROPS UNIT`: "Key=value" lines, sorted as systemd prints them.
std::string show(const std::string& unit, const std::string& props) {
    auto r = itest::run_cmd({systemctl_path(), "show", "-p", props, unit});
    return r.out;
}

std::string prop(const std::string& unit, const std::string& name) {
    for (const auto& l : itest::lines(show(unit, name)))
        if (l.rfind(name + "=", 0) == 0) return l.substr(name.size() + 1);
    return "";
}

// "" when the unit is stopped (inactive, or unloaded once systemd has
// collected it) and its cgroup removed; else what remains.
std::string unit_gone(const std::string& unit) {
    std::string out;
    auto active = prop(unit, "ActiveState");
    if (active != "inactive") out += "unit " + unit + ": ActiveState=" + active + " (" + prop(unit, "LoadState") + ")\n";
    if (itest::exists(unit_dir(unit))) out += "cgroup " + unit_dir(unit) + " left\n";
    return out;
}

} // namespace

Test(systemd, invalid_cgroups_path_names_the_field) {
    // Checked before systemd is asked anything: the same on every host.
    auto c = itest::container();
    c.cfg.linux->cgroupsPath = itest::cgroup_parent() + "/" + c.id;
    auto r = sd_run(c);
    IT_ASSERT_FAIL(r, "linux.cgroupsPath", "slice:prefix:name", c.cfg.linux->cgroupsPath);
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    auto d = itest::container();
    d.cfg.linux->cgroupsPath = "no-suffix:berth-itest:" + d.id;
    auto r2 = sd_run(d);
    IT_ASSERT_FAIL(r2, "linux.cgroupsPath", "invalid slice name");
    IT_ASSERT_NO_TRACE(d.id, d.bundle);
    itest::finish();
}

Test(systemd, without_systemd_fails_clearly) {
    if (systemd_up()) itest::skip("systemd runs here; this checks a host without it");
    auto c = itest::container();
    use_unit(c);
    auto r = sd_run(c);
    IT_ASSERT_FAIL(r, "--systemd-cgroup: systemd is not running", "/run/systemd/private");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    cr_assert(!itest::exists(itest::state_root() + "/" + c.id), "state dir left: %s", r.describe().c_str());
    // The default path needs systemd just the same, and leaves nothing either.
    auto d = itest::container();
    d.cfg.linux->cgroupsPath.clear();
    auto r2 = sd_run(d);
    IT_ASSERT_FAIL(r2, "systemd is not running");
    IT_ASSERT_NO_TRACE(d.id, d.bundle);
    itest::finish();
}

Test(systemd, scope_limits_update_pause_delete) {
    require_systemd();
    auto c = itest::container();
    use_unit(c);
    auto& res = c.cfg.linux->resources.emplace();
    res.memory = berth::spec::Memory{};
    res.memory->limit = 64 << 20;
    res.pids = berth::spec::Pids{32};
    res.cpu = berth::spec::Cpu{};
    res.cpu->quota = 50000;
    res.cpu->period = 100000;
    c.sh("cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; echo started; exec sleep 60");
    auto r = sd_run(c, {"-d"});
    IT_ASSERT_OK(r);
    cr_assert(c.wait_status("running"));
    std::string unit = unit_of(c), dir = unit_dir(unit);

    // systemd's view: an active scope with delegation, our limits as properties.
    auto sh = show(unit, "ActiveState,Delegate,MemoryMax,TasksMax");
    cr_assert(contains(sh, "ActiveState=active"), "%s", sh.c_str());
    cr_assert(contains(sh, "Delegate=yes"), "%s", sh.c_str());
    cr_assert(contains(sh, "MemoryMax=67108864"), "%s", sh.c_str());
    cr_assert(contains(sh, "TasksMax=32"), "%s", sh.c_str());
    // The kernel's: the init is in the unit's cgroup, which carries the limits.
    pid_t pid = c.pid();
    IT_ASSERT_STR_EQ(trim(itest::read_file("/proc/" + std::to_string(pid) + "/cgroup")), "0::/system.slice/" + unit, sh);
    IT_ASSERT_STR_EQ(trim(itest::read_file(dir + "/memory.max")), "67108864", "memory.max");
    IT_ASSERT_STR_EQ(trim(itest::read_file(dir + "/pids.max")), "32", "pids.max");
    IT_ASSERT_STR_EQ(trim(itest::read_file(dir + "/cpu.max")), "50000 100000", "cpu.max");
    // And the container's own /sys/fs/cgroup is that cgroup.
    auto out = itest::wait_output(c, "started");
    IT_ASSERT_STR_EQ(out, "67108864\n32\nstarted\n", "inside the container");
    // state.json names the driver and the unit, so the commands below need no flag.
    auto st = itest::read_file(itest::state_root() + "/" + c.id + "/state.json");
    cr_assert(contains(st, "\"cgroupDriver\":\"systemd\""), "%s", st.c_str());
    cr_assert(contains(st, "\"systemdUnit\":\"" + unit + "\""), "%s", st.c_str());

    // update: the cgroup file and systemd's property both change.
    auto u = itest::berth({"update", "--memory", "96m", "--pids-limit", "40", c.id});
    IT_ASSERT_OK(u);
    IT_ASSERT_STR_EQ(trim(itest::read_file(dir + "/memory.max")), "100663296", u.describe());
    IT_ASSERT_STR_EQ(trim(itest::read_file(dir + "/pids.max")), "40", u.describe());
    IT_ASSERT_STR_EQ(prop(unit, "MemoryMax"), "100663296", u.describe());
    IT_ASSERT_STR_EQ(prop(unit, "TasksMax"), "40", u.describe());

    // pause/resume through the unit's cgroup.
    IT_ASSERT_OK(itest::berth({"pause", c.id}));
    IT_ASSERT_STR_EQ(c.status(), "paused", "after pause");
    IT_ASSERT_STR_EQ(trim(itest::read_file(dir + "/cgroup.freeze")), "1", "cgroup.freeze");
    IT_ASSERT_OK(itest::berth({"resume", c.id}));
    IT_ASSERT_STR_EQ(c.status(), "running", "after resume");

    // exec: the new process joins the unit's cgroup too.
    auto ex = itest::berth({"exec", c.id, "cat", "/proc/self/cgroup"});
    IT_ASSERT_OK(ex);
    IT_ASSERT_STR_EQ(trim(ex.out), "0::/system.slice/" + unit, ex.describe());   // (no cgroup namespace here)
    auto exd = itest::berth({"exec", "-d", "--pid-file", c.bundle + "/exec.pid", c.id, "sleep", "50"});
    IT_ASSERT_OK(exd);
    std::string epid = trim(itest::read_file(c.bundle + "/exec.pid"));
    IT_ASSERT_STR_EQ(trim(itest::read_file("/proc/" + epid + "/cgroup")), "0::/system.slice/" + unit, exd.describe());

    // ps and events read the same cgroup.
    auto ps = itest::berth({"ps", "--format", "json", c.id});
    IT_ASSERT_OK(ps);
    cr_assert(contains(ps.out, std::to_string(pid)), "%s", ps.describe().c_str());
    auto ev = itest::berth({"events", "--stats", c.id});
    IT_ASSERT_OK(ev);
    cr_assert(contains(ev.out, "\"limit\":40"), "pids limit: %s", ev.describe().c_str());

    // delete stops the unit and its cgroup goes.
    IT_ASSERT_OK(c.del(true));
    IT_ASSERT_STR_EQ(unit_gone(unit), "", "after delete");
    itest::finish();
}

Test(systemd, default_path_and_exit) {
    require_systemd();
    auto c = itest::container();
    c.cfg.linux->cgroupsPath.clear();   // ":berth:<id>" -> system.slice/berth-<id>.scope
    c.sh("exec sleep 60");
    IT_ASSERT_OK(sd_run(c, {"-d"}));
    cr_assert(c.wait_status("running"));
    std::string unit = "berth-" + c.id + ".scope";
    IT_ASSERT_STR_EQ(trim(itest::read_file("/proc/" + std::to_string(c.pid()) + "/cgroup")), "0::/system.slice/" + unit,
                     show(unit, "ActiveState"));
    IT_ASSERT_OK(c.del(true));
    IT_ASSERT_STR_EQ(unit_gone(unit), "", "after delete");

    // A container that simply exits: run waits, deletes, and nothing stays.
    auto d = itest::container();
    use_unit(d);
    d.sh("cat /proc/self/cgroup; exit 3");
    auto r = sd_run(d);
    cr_assert_eq(r.status, 3, "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(unit_gone(unit_of(d)), "", r.describe());
    IT_ASSERT_NO_TRACE(d.id, d.bundle);
    itest::finish();
}

Test(systemd, failed_create_leaves_no_unit) {
    require_systemd();
    auto c = itest::container();
    use_unit(c);
    c.cfg.process->cwd = "/no-such-dir";
    c.write_config();
    auto r = sd({"create", "--bundle", c.bundle, c.id});
    IT_ASSERT_FAIL(r, "process.cwd", "/no-such-dir");
    IT_ASSERT_STR_EQ(unit_gone(unit_of(c)), "", r.describe());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);

    // A limit the kernel refuses fails after the unit exists: it goes too.
    auto d = itest::container();
    use_unit(d);
    auto& res = d.cfg.linux->resources.emplace();
    res.unified = {{"memory.nonexistent", "1"}};
    auto r2 = sd_run(d);
    IT_ASSERT_FAIL(r2, "linux.resources.unified");
    IT_ASSERT_STR_EQ(unit_gone(unit_of(d)), "", r2.describe());
    IT_ASSERT_NO_TRACE(d.id, d.bundle);
    itest::finish();
}

Test(systemd, cpuset_and_weight_reach_systemd) {
    require_systemd();
    if (trim(itest::read_file("/sys/devices/system/cpu/online")) == "0") itest::skip("needs a second CPU");
    auto c = itest::container();
    use_unit(c);
    auto& res = c.cfg.linux->resources.emplace();
    res.cpu = berth::spec::Cpu{};
    res.cpu->cpus = "1";     // AllowedCPUs: a bitmask systemd reads lowest bit first
    res.cpu->shares = 512;   // CPUWeight 20
    c.sh("exec sleep 60");
    IT_ASSERT_OK(sd_run(c, {"-d"}));
    cr_assert(c.wait_status("running"));
    std::string unit = unit_of(c);
    IT_ASSERT_STR_EQ(prop(unit, "AllowedCPUs"), "1", show(unit, "AllowedCPUs,CPUWeight"));
    IT_ASSERT_STR_EQ(prop(unit, "CPUWeight"), "20", show(unit, "AllowedCPUs,CPUWeight"));
    IT_ASSERT_STR_EQ(trim(itest::read_file(unit_dir(unit) + "/cpuset.cpus")), "1", "cpuset.cpus");
    IT_ASSERT_STR_EQ(trim(itest::read_file(unit_dir(unit) + "/cpu.weight")), "20", "cpu.weight");
    IT_ASSERT_OK(c.del(true));
    IT_ASSERT_STR_EQ(unit_gone(unit), "", "after delete");
    itest::finish();
}
