// linux.resources through real cgroups (this host: v1 hybrid), observed
// from inside and from the host; update, pause/resume, ps.
#include "harness.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

using berth::spec::DeviceCgroup;
using berth::spec::Resources;
using itest::contains;
using itest::trim;

TestSuite(cgroups, .init = itest::setup, .fini = itest::teardown, .timeout = 90);

namespace {

Resources& res(itest::Container& c) {
    if (!c.cfg.linux->resources) c.cfg.linux->resources.emplace();
    return *c.cfg.linux->resources;
}

// Pure cgroup v2 (the VM lane), or v1/hybrid (this dev host).
bool v2() { return itest::exists("/sys/fs/cgroup/cgroup.controllers"); }

// A cgroup file of the container, on the host: v1 under its controller's
// hierarchy, v2 in the unified one.
std::string host_file(const itest::Container& c, const std::string& ctl, const std::string& file) {
    return "/sys/fs/cgroup/" + (v2() ? std::string() : ctl) + itest::cgroup_parent() + "/" + c.id + "/" + file;
}

// The same file as the container sees it in its /sys/fs/cgroup.
std::string inside(const std::string& v1_ctl, const std::string& v1_file, const std::string& v2_file) {
    return v2() ? "/sys/fs/cgroup/" + v2_file : "/sys/fs/cgroup/" + v1_ctl + "/" + v1_file;
}

void require_v1(const char* ctl) {
    if (v2()) return;
    if (!itest::exists(std::string("/sys/fs/cgroup/") + ctl + "/cgroup.procs"))
        itest::skip(std::string("no cgroup v1 ") + ctl + " hierarchy on this host");
}

} // namespace

Test(cgroups, limits_visible_inside) {
    require_v1("memory");
    auto c = itest::container();
    auto& r = res(c);
    r.memory = berth::spec::Memory{};
    r.memory->limit = 64 << 20;
    r.cpu = berth::spec::Cpu{};
    r.cpu->shares = 512;
    r.cpu->quota = 50000;
    r.cpu->period = 100000;
    r.cpu->cpus = "0";
    r.pids = berth::spec::Pids{32};
    if (v2()) {
        // shares 512 -> weight 1 + (510 * 9999) / 262142 = 20
        c.sh("cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/cpu.max "
             "/sys/fs/cgroup/cpuset.cpus /sys/fs/cgroup/pids.max");
        auto out = c.run();
        IT_ASSERT_OK(out);
        IT_ASSERT_STR_EQ(out.out, "67108864\n20\n50000 100000\n0\n32\n", out.describe());
        itest::finish();
        return;
    }
    c.sh("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares "
         "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpuset/cpuset.cpus "
         "/sys/fs/cgroup/pids/pids.max");
    auto out = c.run();
    IT_ASSERT_OK(out);
    IT_ASSERT_STR_EQ(out.out, "67108864\n512\n50000\n100000\n0\n32\n", out.describe());
    itest::finish();
}

Test(cgroups, memory_hog_is_oom_killed) {
    require_v1("memory");
    auto c = itest::container();
    auto& r = res(c);
    r.memory = berth::spec::Memory{};
    r.memory->limit = 32 << 20;
    if (v2() || itest::exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")) r.memory->swap = 32 << 20;   // no swap
    // dd's one 100 MB block is read from /dev/zero into its buffer, touching
    // every page at once (a byte-by-byte hog takes over 30 s in the VM lane's
    // emulated guest); an oom_score_adj of 1000 makes it, not the init, the
    // OOM killer's pick.
    c.sh("echo 1000 > /proc/self/oom_score_adj; dd if=/dev/zero of=/dev/null bs=100000000 count=1 2>/dev/null && echo survived");
    c.cfg.process->args = {"sh", "-c", "sh -c \"$0\"; echo child=$?", c.cfg.process->args[2]};
    auto out = c.run();
    IT_ASSERT_OK(out);
    cr_assert(contains(out.out, "child=137"), "the hog was not OOM-killed: %s", out.describe().c_str());
    cr_assert(!contains(out.out, "survived"), "%s", out.describe().c_str());
    itest::finish();
}

Test(cgroups, fork_bomb_stops_at_pids_limit) {
    require_v1("pids");
    auto c = itest::container();
    res(c).pids = berth::spec::Pids{8};
    // The bomb runs in a child shell (busybox's shell exits when a fork
    // fails); afterwards only builtins, since at the limit $(...) can't fork.
    c.sh("sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 2 & done' 2>&1; echo bomb=$?; "
         "read n < " + inside("pids", "pids.current", "pids.current") + "; echo current=$n");
    auto out = c.run();
    IT_ASSERT_OK(out);
    cr_assert(contains(out.out, "can't fork") || contains(out.out, "Resource temporarily unavailable"), "%s",
              out.describe().c_str());
    cr_assert(contains(out.out, "bomb=2"), "%s", out.describe().c_str());
    auto pos = out.out.find("current=");
    cr_assert(pos != std::string::npos, "%s", out.describe().c_str());
    int current = std::atoi(out.out.c_str() + pos + 8);
    cr_assert(current >= 2 && current <= 8, "pids.current %d with a limit of 8: %s", current, out.describe().c_str());
    itest::finish();
}

Test(cgroups, cpu_quota_throttles) {
    require_v1("cpu");
    auto c = itest::container();
    auto& r = res(c);
    r.cpu = berth::spec::Cpu{};
    r.cpu->quota = 10000;    // 10% of one CPU
    r.cpu->period = 100000;
    c.sh("timeout 1 sh -c 'while :; do :; done'; grep -E 'nr_throttled' " + inside("cpu", "cpu.stat", "cpu.stat"));
    auto out = c.run();
    IT_ASSERT_OK(out);
    auto l = itest::lines(out.out);
    cr_assert(!l.empty() && l.back().rfind("nr_throttled ", 0) == 0, "%s", out.describe().c_str());
    int throttled = std::atoi(l.back().substr(13).c_str());
    cr_assert_gt(throttled, 0, "a busy loop at 10%% quota was never throttled: %s", out.describe().c_str());
    itest::finish();
}

Test(cgroups, devices_deny_all_keeps_defaults) {
    require_v1("devices");   // on v2 the same rules go through the BPF program
    auto c = itest::container();
    DeviceCgroup deny;
    deny.allow = false;
    deny.access = "rwm";
    res(c).devices = {deny};
    // A node the config creates but the cgroup does not allow (loop0, c 7:0).
    berth::spec::Device loop;
    loop.type = "b";
    loop.path = "/dev/berthloop";
    loop.major = 7;
    loop.minor = 0;
    c.cfg.linux->devices.push_back(loop);
    c.sh("head -c1 /dev/zero | wc -c; echo x > /dev/null && echo null-ok; head -c1 /dev/berthloop 2>&1; echo loop=$?");
    auto out = c.run();
    IT_ASSERT_OK(out);
    cr_assert(contains(out.out, "1\nnull-ok\n"), "%s", out.describe().c_str());
    cr_assert(contains(out.out, "Operation not permitted"), "%s", out.describe().c_str());
    cr_assert(contains(out.out, "loop=1"), "%s", out.describe().c_str());
    itest::finish();
}

Test(cgroups, update_running_container) {
    require_v1("memory");
    auto c = itest::container();
    c.sh("exec sleep 30");
    IT_ASSERT_OK(c.run({"-d"}));
    cr_assert(c.wait_status("running"));
    auto r = itest::berth({"update", "--memory", "96m", "--pids-limit", "40", "--cpu-quota", "30000", "--cpu-period",
                           "100000", c.id});
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(trim(itest::read_file(host_file(c, "memory", v2() ? "memory.max" : "memory.limit_in_bytes"))),
                     "100663296", r.describe());
    IT_ASSERT_STR_EQ(trim(itest::read_file(host_file(c, "pids", "pids.max"))), "40", r.describe());
    IT_ASSERT_STR_EQ(trim(itest::read_file(host_file(c, "cpu", v2() ? "cpu.max" : "cpu.cfs_quota_us"))),
                     v2() ? "30000 100000" : "30000", r.describe());
    // -r: a LinuxResources document.
    std::string file = itest::work_dir() + "/res.json";
    itest::write_file(file, "{\"pids\":{\"limit\":12}}");
    IT_ASSERT_OK(itest::berth({"update", "-r", file, c.id}));
    IT_ASSERT_STR_EQ(trim(itest::read_file(host_file(c, "pids", "pids.max"))), "12", "after -r");
    // A bad value names the flag and changes nothing.
    auto bad = itest::berth({"update", "--memory", "lots", c.id});
    cr_assert_neq(bad.status, 0);
    cr_assert(contains(bad.err, "--memory"), "%s", bad.describe().c_str());
    IT_ASSERT_OK(c.del(true));
    itest::finish();
}

Test(cgroups, pause_and_resume) {
    require_v1("freezer");
    auto c = itest::container();
    c.sh("exec sleep 30");
    IT_ASSERT_OK(c.run({"-d"}));
    cr_assert(c.wait_status("running"));
    IT_ASSERT_OK(itest::berth({"pause", c.id}));
    IT_ASSERT_STR_EQ(c.status(), "paused", "after pause");
    if (v2()) IT_ASSERT_STR_EQ(trim(itest::read_file(host_file(c, "", "cgroup.freeze"))), "1", "cgroup.freeze");
    else IT_ASSERT_STR_EQ(trim(itest::read_file(host_file(c, "freezer", "freezer.state"))), "FROZEN", "freezer");
    auto again = itest::berth({"pause", c.id});
    cr_assert_neq(again.status, 0, "pausing a paused container: %s", again.describe().c_str());
    IT_ASSERT_OK(itest::berth({"resume", c.id}));
    IT_ASSERT_STR_EQ(c.status(), "running", "after resume");
    auto resume_running = itest::berth({"resume", c.id});
    cr_assert_neq(resume_running.status, 0);
    // A paused container can be deleted with --force (SIGKILL reaches frozen tasks once thawed).
    IT_ASSERT_OK(itest::berth({"pause", c.id}));
    IT_ASSERT_OK(c.del(true));
    itest::finish();
}

Test(cgroups, ps_lists_container_processes) {
    auto c = itest::container();
    c.sh("sleep 30 & exec sleep 31");
    IT_ASSERT_OK(c.run({"-d"}));
    cr_assert(c.wait_status("running"));
    itest::Result js;
    for (int i = 0; i < 200; ++i) {   // until both sleeps are there
        js = itest::berth({"ps", "--format", "json", c.id});
        if (std::count(js.out.begin(), js.out.end(), ',') == 1) break;
        ::usleep(10000);
    }
    IT_ASSERT_OK(js);
    cr_assert(contains(js.out, std::to_string(c.pid())), "%s", js.describe().c_str());
    auto table = itest::berth({"ps", c.id});
    IT_ASSERT_OK(table);
    cr_assert(contains(table.out, "PID"), "%s", table.describe().c_str());
    cr_assert(contains(table.out, "sleep 31"), "%s", table.describe().c_str());
    cr_assert(!contains(table.out, "berth ps"), "host processes leaked into ps: %s", table.describe().c_str());
    IT_ASSERT_OK(c.del(true));
    itest::finish();
}

Test(cgroups, unsupported_resources_fail_cleanly) {
    auto c = itest::container();
    // Refused on v1 (no unified hierarchy) and on v2 (no such file).
    res(c).unified = {{"memory.nonexistent", "1000000"}};
    auto r = c.run();
    cr_assert_neq(r.status, 0, "%s", r.describe().c_str());
    cr_assert(contains(r.err, "linux.resources.unified"), "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(itest::check_no_trace(c.id, c.bundle), "", r.describe());
    auto d = itest::container();
    res(d).memory = berth::spec::Memory{};
    res(d).memory->limit = 1 << 20;
    res(d).memory->kernel = -5;   // the kernel rejects it
    auto r2 = d.run();
    cr_assert_neq(r2.status, 0, "%s", r2.describe().c_str());
    cr_assert(contains(r2.err, "linux.resources.memory.kernel"), "%s", r2.describe().c_str());
    IT_ASSERT_STR_EQ(itest::check_no_trace(d.id, d.bundle), "", r2.describe());
    itest::finish();
}

Test(cgroups, events_stats_snapshot) {
    auto c = itest::container();
    res(c).pids = berth::spec::Pids{50};
    c.sh("exec sleep 30");
    IT_ASSERT_OK(c.run({"-d"}));
    cr_assert(c.wait_status("running"));
    auto r = itest::berth({"events", "--stats", c.id});
    IT_ASSERT_OK(r);
    for (const char* key : {"\"type\":\"stats\"", "\"cpu\":", "\"memory\":", "\"usage\":", "\"pids\":"})
        cr_assert(contains(r.out, key), "missing %s: %s", key, r.describe().c_str());
    cr_assert(contains(r.out, "\"limit\":50"), "pids limit: %s", r.describe().c_str());
    IT_ASSERT_OK(c.del(true));
    auto gone = itest::berth({"events", "--stats", c.id});
    cr_assert_neq(gone.status, 0, "%s", gone.describe().c_str());
    itest::finish();
}

Test(cgroups, events_stream_reports_oom) {
    require_v1("memory");
    auto c = itest::container();
    auto& r = res(c);
    r.memory = berth::spec::Memory{};
    r.memory->limit = 32 << 20;
    if (v2() || itest::exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")) r.memory->swap = 32 << 20;
    // The hog starts once the events stream is watching (the go file).
    std::string shared = itest::make_dir("shared");
    c.cfg.mounts.push_back(berth::spec::Mount{"/shared", "bind", shared, {"rbind", "rw"}});
    // After the hog dies the container lives 2 s more, then stops, which
    // ends the event stream (a slow machine, such as the TCG guest, may
    // take many seconds to reach the limit).
    c.sh("while [ ! -e /shared/go ]; do sleep 0.05; done; sh -c 'echo 1000 > /proc/self/oom_score_adj; x=$(head -c 100000000 /dev/zero | tr \"\\0\" a)'; "
         "sleep 2");
    IT_ASSERT_OK(c.run({"-d"}));
    cr_assert(c.wait_status("running"));
    itest::SpawnOpts eo;
    eo.timeout_ms = 70000;
    auto ev = itest::spawn({"/usr/bin/timeout", "60", std::getenv("BERTH"), "--root", itest::state_root(), "events",
                            "--interval", "1s", c.id}, eo);
    ::usleep(300000);
    itest::write_file(shared + "/go", "");
    auto r2 = itest::wait(ev);
    cr_assert(contains(r2.out, "{\"type\":\"oom\",\"id\":\"" + c.id + "\"}"), "%s", r2.describe().c_str());
    cr_assert(contains(r2.out, "\"type\":\"stats\""), "%s", r2.describe().c_str());
    IT_ASSERT_OK(r2);   // the stream ended by itself when the container stopped
    IT_ASSERT_OK(c.del(true));
    itest::finish();
}

// memory.checkBeforeUpdate: a new limit below what the container uses now
// is refused (and the old limit stays); without it the kernel would have
// to reclaim or OOM-kill.
Test(cgroups, update_check_before_update_refuses_limit_below_usage) {
    require_v1("memory");
    auto c = itest::container();
    res(c).memory = berth::spec::Memory{};
    res(c).memory->limit = 256LL << 20;
    // 24 MiB of tmpfs pages, charged to the container's memory cgroup.
    c.sh("dd if=/dev/zero of=/dev/shm/fill bs=1M count=24 2>/dev/null; echo filled; exec sleep 60");
    IT_ASSERT_OK(c.run({"-d"}));
    itest::wait_output(c, "filled");
    std::string limit_file = host_file(c, "memory", v2() ? "memory.max" : "memory.limit_in_bytes");
    std::string file = itest::work_dir() + "/res.json";
    itest::write_file(file, R"({"memory":{"limit":4194304,"checkBeforeUpdate":true}})");
    auto r = itest::berth({"update", "-r", file, c.id});
    IT_ASSERT_FAIL(r, "checkBeforeUpdate", "below the current usage");
    IT_ASSERT_STR_EQ(trim(itest::read_file(limit_file)), std::to_string(256 << 20), r.describe());
    // Above the usage it applies.
    itest::write_file(file, R"({"memory":{"limit":134217728,"checkBeforeUpdate":true}})");
    IT_ASSERT_OK(itest::berth({"update", "-r", file, c.id}));
    IT_ASSERT_STR_EQ(trim(itest::read_file(limit_file)), "134217728", "after a limit above usage");
    IT_ASSERT_OK(c.del(true));
    itest::finish();
}

namespace {

// The container's cgroup made beforehand, as someone else would have: its
// dir in every hierarchy (cpuset's cpus and mems copied down). Returns the
// dirs, deepest last, for the test to remove.
std::vector<std::string> premade_cgroup(const std::string& id) {
    std::vector<std::string> made;
    std::vector<std::string> roots;
    if (v2()) roots = {"/sys/fs/cgroup"};
    else
        for (const char* h : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd",
                              "unified"})
            if (itest::exists(std::string("/sys/fs/cgroup/") + h + "/cgroup.procs")) roots.push_back(std::string("/sys/fs/cgroup/") + h);
    for (const auto& root : roots) {
        for (const std::string& d : {root + itest::cgroup_parent(), root + itest::cgroup_parent() + "/" + id}) {
            if (mkdir(d.c_str(), 0755) == 0) made.push_back(d);
            if (root.ends_with("/cpuset"))
                for (const char* f : {"cpuset.cpus", "cpuset.mems"})
                    itest::write_file(d + "/" + f, itest::read_file(d.substr(0, d.rfind('/')) + "/" + f));
        }
    }
    return made;
}

void remove_cgroups(std::vector<std::string> dirs) {
    std::sort(dirs.begin(), dirs.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
    for (auto& d : dirs) rmdir(d.c_str());
}

} // namespace

// A cgroup frozen before create: the init would stop as it joined, and
// create wait for it forever. runc refuses it ("container's cgroup
// unexpectedly frozen"); so does berth, quickly, naming the file.
Test(cgroups, create_refuses_a_frozen_cgroup) {
    struct Freezer {
        std::string root, file, on, off;
    };
    std::vector<Freezer> kinds;
    if (v2()) {
        kinds.push_back({"/sys/fs/cgroup", "cgroup.freeze", "1", "0"});
    } else {
        if (itest::exists("/sys/fs/cgroup/freezer/cgroup.procs"))
            kinds.push_back({"/sys/fs/cgroup/freezer", "freezer.state", "FROZEN", "THAWED"});
        // The hybrid host's cgroup2 freezes too, whatever berth pauses with.
        if (itest::exists("/sys/fs/cgroup/unified/cgroup.procs"))
            kinds.push_back({"/sys/fs/cgroup/unified", "cgroup.freeze", "1", "0"});
    }
    if (kinds.empty()) itest::skip("no cgroup freezer on this host");
    for (const auto& k : kinds) {
        auto c = itest::container();
        auto made = premade_cgroup(c.id);
        std::string dir = k.root + itest::cgroup_parent() + "/" + c.id;
        itest::write_file(dir + "/" + k.file, k.on);
        c.sh("true");
        itest::SpawnOpts o;
        o.timeout_ms = 10000;
        c.write_config();
        auto r = itest::berth({"run", "--bundle", c.bundle, c.id}, o);
        itest::write_file(dir + "/" + k.file, k.off);
        remove_cgroups(made);
        cr_assert(!r.timed_out, "create hung on a frozen cgroup: %s", r.describe().c_str());
        IT_ASSERT_FAIL(r, "container's cgroup unexpectedly frozen", dir + "/" + k.file);
    }
    itest::finish();
}

// runc's warning for a cgroup that already holds processes; the container
// still runs.
Test(cgroups, create_warns_when_the_cgroup_is_not_empty) {
    auto c = itest::container();
    auto made = premade_cgroup(c.id);
    pid_t kid = fork();
    cr_assert_geq(kid, 0);
    if (kid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl("/bin/sleep", "sleep", "60", nullptr);
        _exit(127);
    }
    for (auto& d : made)
        if (d.ends_with("/" + c.id)) itest::write_file(d + "/cgroup.procs", std::to_string(kid));
    c.sh("echo ran");
    auto r = c.run();
    kill(kid, SIGKILL);
    waitpid(kid, nullptr, 0);
    remove_cgroups(made);
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "ran"), "%s", r.describe().c_str());
    cr_assert(contains(r.err, "container's cgroup is not empty: 1 process(es) found"), "%s", r.describe().c_str());
    itest::finish();
}

// Under a parent with a CPU quota, a smaller period is refused while the
// old quota stands (old quota / new period would exceed the parent's
// share): the quota has to be written first. runc retries in that order.
// (cgroup v2 writes both in one cpu.max line.)
Test(cgroups, cpu_period_and_quota_under_a_parent_quota) {
    if (v2()) itest::skip("cgroup v2 sets quota and period in one write (cpu.max)");
    require_v1("cpu");
    std::string parent = "/sys/fs/cgroup/cpu" + itest::cgroup_parent();
    mkdir(parent.c_str(), 0755);
    itest::write_file(parent + "/cpu.cfs_quota_us", "50000");   // half a CPU (period 100000)

    // update: from 25000/100000 to 5000/10000.
    auto c = itest::container();
    res(c).cpu = berth::spec::Cpu{};
    res(c).cpu->quota = 25000;
    res(c).cpu->period = 100000;
    c.sh("exec sleep 600");
    IT_ASSERT_OK(c.run({"-d"}));
    auto r = itest::berth({"update", "--cpu-period", "10000", "--cpu-quota", "5000", c.id});
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(trim(itest::read_file(host_file(c, "cpu", "cpu.cfs_period_us"))), "10000", r.describe());
    IT_ASSERT_STR_EQ(trim(itest::read_file(host_file(c, "cpu", "cpu.cfs_quota_us"))), "5000", r.describe());
    IT_ASSERT_OK(c.del(true));
    itest::finish();
}

// The same at create, over a container cgroup that already has a quota.
Test(cgroups, cpu_period_and_quota_at_create_under_a_parent_quota) {
    if (v2()) itest::skip("cgroup v2 sets quota and period in one write (cpu.max)");
    require_v1("cpu");
    std::string parent = "/sys/fs/cgroup/cpu" + itest::cgroup_parent();
    mkdir(parent.c_str(), 0755);
    itest::write_file(parent + "/cpu.cfs_quota_us", "50000");
    auto d = itest::container();
    auto made = premade_cgroup(d.id);
    itest::write_file(host_file(d, "cpu", "cpu.cfs_quota_us"), "25000");
    res(d).cpu = berth::spec::Cpu{};
    res(d).cpu->quota = 5000;
    res(d).cpu->period = 10000;
    d.sh("cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us");
    auto out = d.run();
    remove_cgroups(made);
    IT_ASSERT_OK(out);
    IT_ASSERT_STR_EQ(out.out, "5000\n10000\n", out.describe());
    itest::finish();
}
