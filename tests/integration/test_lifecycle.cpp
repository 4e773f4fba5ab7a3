// Lifecycle: create, start, state, kill, delete, run, list.
#include "harness.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

using itest::contains;
using itest::trim;

TestSuite(lifecycle, .init = itest::setup, .fini = itest::teardown, .timeout = 90);

Test(lifecycle, create_start_kill_delete) {
    auto c = itest::container();
    c.sh("echo started; exec sleep 60");
    std::string pid_file = c.bundle + "/pid";
    auto r = c.create(pid_file);
    IT_ASSERT_OK(r);

    // created: the init waits; the pid file names it; its cgroup exists.
    auto st = c.state();
    IT_ASSERT_OK(st);
    IT_ASSERT_STR_EQ(itest::json_field(st.out, "status"), "created", st.describe());
    IT_ASSERT_STR_EQ(itest::json_field(st.out, "id"), c.id, st.describe());
    IT_ASSERT_STR_EQ(itest::json_field(st.out, "bundle"), c.bundle, st.describe());
    std::string pid = itest::json_field(st.out, "pid");
    IT_ASSERT_STR_EQ(trim(itest::read_file(pid_file)), pid, st.describe());
    cr_assert(std::atoi(pid.c_str()) > 0, "%s", st.describe().c_str());
    cr_assert(itest::exists("/proc/" + pid), "init %s is not alive", pid.c_str());
    std::string cg = itest::cgroup_parent() + "/" + c.id;
    cr_assert(!itest::cgroup_dirs_for(cg).empty(), "no cgroup dir for %s", cg.c_str());
    cr_assert(contains(itest::read_file("/proc/" + pid + "/cgroup"), cg), "init not in %s", cg.c_str());
    IT_ASSERT_STR_EQ(c.output(), "", "the process ran before start");

    IT_ASSERT_OK(c.start());
    cr_assert(c.wait_status("running"), "not running after start: %s", c.state().describe().c_str());
    IT_ASSERT_STR_EQ(std::to_string(c.pid()), pid, "pid changed on start");
    // The user's process ran (its stdout is create's stdout).
    bool printed = false;
    for (int i = 0; i < 500 && !printed; ++i) {
        printed = c.output() == "started\n";
        if (!printed) ::usleep(10000);
    }
    IT_ASSERT_STR_EQ(c.output(), "started\n", "container output");

    IT_ASSERT_OK(c.kill("KILL"));
    cr_assert(c.wait_status("stopped"), "not stopped after kill: %s", c.state().describe().c_str());

    IT_ASSERT_OK(c.del());
    cr_assert(!itest::exists(itest::state_root() + "/" + c.id), "state dir remains");
    auto dirs = itest::cgroup_dirs_for(cg);
    cr_assert(dirs.empty(), "cgroup dir remains: %s", dirs.empty() ? "" : dirs[0].c_str());
    IT_ASSERT_FAIL(c.state(), c.id);
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(lifecycle, delete_running_needs_force) {
    auto c = itest::container();
    c.sh("exec sleep 60");
    IT_ASSERT_OK(c.run({"-d"}));
    cr_assert(c.wait_status("running"), "%s", c.state().describe().c_str());
    pid_t pid = c.pid();

    auto r = c.del(false);
    IT_ASSERT_FAIL(r, c.id);
    IT_ASSERT_STR_EQ(c.status(), "running", "a failed delete changed the container\n" + r.describe());
    cr_assert(::kill(pid, 0) == 0, "init %d died", pid);

    IT_ASSERT_OK(c.del(true));
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    cr_assert(!itest::exists("/proc/" + std::to_string(pid)) ||
                  contains(itest::read_file("/proc/" + std::to_string(pid) + "/stat"), ") Z"),
              "init %d still alive after delete --force", pid);
    itest::finish();
}

Test(lifecycle, delete_created_needs_no_force) {
    // runc deletes a created (not running) container without --force.
    auto c = itest::container();
    c.sh("exit 0");
    IT_ASSERT_OK(c.create());
    IT_ASSERT_STR_EQ(c.status(), "created", "");
    IT_ASSERT_OK(c.del(false));
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(lifecycle, start_running_fails) {
    auto c = itest::container();
    c.sh("exec sleep 60");
    IT_ASSERT_OK(c.run({"-d"}));
    cr_assert(c.wait_status("running"), "%s", c.state().describe().c_str());
    auto r = c.start();
    IT_ASSERT_FAIL(r, c.id, "running");
    IT_ASSERT_STR_EQ(c.status(), "running", r.describe());
    itest::finish();
}

Test(lifecycle, kill_unknown_fails) {
    std::string id = itest::new_id();
    auto r = itest::berth({"kill", id, "KILL"});
    IT_ASSERT_FAIL(r, id);
    itest::finish();
}

Test(lifecycle, kill_stopped_fails) {
    auto c = itest::container();
    c.sh("exit 0");
    IT_ASSERT_OK(c.run({"-d", "--keep"}));
    cr_assert(c.wait_status("stopped"), "%s", c.state().describe().c_str());
    IT_ASSERT_FAIL(c.kill("KILL"), c.id);
    IT_ASSERT_OK(c.del());
    itest::finish();
}

Test(lifecycle, run_returns_exit_status) {
    auto c = itest::container();
    c.sh("echo out; exit 7");
    auto r = c.run();
    cr_assert_eq(r.status, 7, "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(r.out, "out\n", r.describe());
    // Without --keep, run deletes the container.
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(lifecycle, run_killed_by_signal_returns_128_plus_n) {
    auto c = itest::container();
    c.sh("exec sleep 60");
    c.write_config();
    auto child = itest::berth_spawn({"run", "--bundle", c.bundle, c.id});
    bool running = c.wait_status("running");
    if (running) IT_ASSERT_OK(c.kill("KILL"));
    auto r = itest::wait(child);
    cr_assert(running, "never running; run gave:\n%s", r.describe().c_str());
    cr_assert_eq(r.status, 128 + SIGKILL, "%s", r.describe().c_str());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(lifecycle, run_killed_inside_returns_128_plus_n) {
    // Without a pid namespace the shell is not an init and can kill itself.
    auto c = itest::container();
    auto& ns = c.cfg.linux->namespaces;
    ns.erase(std::remove_if(ns.begin(), ns.end(),
                            [](const berth::spec::Namespace& n) { return n.type == berth::spec::NsType::pid; }),
             ns.end());
    c.sh("kill -TERM $$; sleep 5");
    auto r = c.run();
    cr_assert_eq(r.status, 128 + SIGTERM, "%s", r.describe().c_str());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

namespace {

// Poll a file until it holds `want` (bounded).
bool wait_for_text(const std::string& path, const std::string& want, int timeout_ms = 15000) {
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (contains(itest::read_file(path), want)) return true;
        ::usleep(10000);
    }
    return false;
}

// A shell that exits 42 on SIGTERM, once it says it is ready.
const char* kTrapTerm = "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.05; done";

} // namespace

Test(lifecycle, run_forwards_signals) {
    // SIGTERM to a foreground `berth run` reaches the container's process.
    auto c = itest::container();
    c.sh(kTrapTerm);
    c.write_config();
    itest::SpawnOpts o;
    o.stdout_path = c.out_path;
    auto child = itest::berth_spawn({"run", "--bundle", c.bundle, c.id}, o);
    bool ready = wait_for_text(c.out_path, "ready\n");
    if (ready) ::kill(child.pid, SIGTERM);
    auto r = itest::wait(child);
    cr_assert(ready, "never ready; output [%s]\n%s", c.output().c_str(), r.describe().c_str());
    cr_assert_eq(r.status, 42, "%s\noutput: [%s]", r.describe().c_str(), c.output().c_str());
    IT_ASSERT_STR_EQ(c.output(), "ready\ngot-term\n", r.describe());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(lifecycle, kill_default_signal_is_term) {
    auto c = itest::container();
    c.sh(kTrapTerm);
    IT_ASSERT_OK(c.run({"-d"}));
    cr_assert(wait_for_text(c.out_path, "ready\n"), "output [%s]", c.output().c_str());
    IT_ASSERT_OK(itest::berth({"kill", c.id}));
    cr_assert(c.wait_status("stopped"), "%s", c.state().describe().c_str());
    IT_ASSERT_STR_EQ(c.output(), "ready\ngot-term\n", "");
    IT_ASSERT_OK(c.del());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(lifecycle, kill_all) {
    // --all signals every process in the container's cgroup.
    auto c = itest::container();
    c.sh(kTrapTerm);
    IT_ASSERT_OK(c.run({"-d"}));
    cr_assert(wait_for_text(c.out_path, "ready\n"), "output [%s]", c.output().c_str());
    IT_ASSERT_OK(itest::berth({"kill", "--all", c.id, "KILL"}));
    cr_assert(c.wait_status("stopped"), "%s", c.state().describe().c_str());
    IT_ASSERT_OK(c.del());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(lifecycle, run_keep_leaves_stopped_container) {
    auto c = itest::container();
    c.sh("exit 3");
    auto r = c.run({"--keep"});
    cr_assert_eq(r.status, 3, "%s", r.describe().c_str());
    auto st = c.state();
    IT_ASSERT_OK(st);
    IT_ASSERT_STR_EQ(itest::json_field(st.out, "status"), "stopped", st.describe());
    IT_ASSERT_STR_EQ(itest::json_field(st.out, "pid"), "0", st.describe());
    IT_ASSERT_OK(c.del());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(lifecycle, run_detached) {
    auto c = itest::container();
    c.sh("exec sleep 60");
    // If run waited for the container, this would time out (sleep 60 > 20s).
    c.write_config();
    itest::SpawnOpts o;
    o.stdout_path = c.out_path;
    o.timeout_ms = 20000;
    auto r = itest::berth({"run", "-d", "--bundle", c.bundle, c.id}, o);
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(c.status(), "running", c.state().describe());
    pid_t pid = c.pid();
    cr_assert(pid > 0 && ::kill(pid, 0) == 0, "init %d not alive", pid);
    // run -d returns once start is signalled (as runc's does); the process
    // may still be on its way through exec (sh, then sleep).
    std::string comm;
    for (int i = 0; i < 500 && comm != "sleep"; ++i) {
        comm = trim(itest::read_file("/proc/" + std::to_string(pid) + "/comm"));
        if (comm != "sleep") ::usleep(10000);
    }
    IT_ASSERT_STR_EQ(comm, "sleep", "");
    itest::finish();
}

Test(lifecycle, no_pivot) {
    auto c = itest::container();
    c.sh("ls /bin/busybox; hostname; awk '$5 == \"/\" {print \"root-mount\"}' /proc/self/mountinfo | head -n 1");
    auto r = c.run({"--no-pivot"});
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "/bin/busybox\nberth\nroot-mount\n", r.describe());
    itest::finish();
}

Test(lifecycle, list_json) {
    auto a = itest::container();
    a.sh("exit 0");
    IT_ASSERT_OK(a.create());
    auto b = itest::container();
    b.sh("exec sleep 60");
    IT_ASSERT_OK(b.run({"-d"}));
    cr_assert(b.wait_status("running"));

    auto r = itest::berth({"list", "--format", "json"});
    IT_ASSERT_OK(r);
    std::string out = r.out;
    for (const auto& [c, want] : {std::pair{&a, "created"}, std::pair{&b, "running"}}) {
        auto at = out.find("\"" + c->id + "\"");
        cr_assert(at != std::string::npos, "%s not listed:\n%s", c->id.c_str(), r.describe().c_str());
        // The object holding this id: from its '{' to its '}'.
        auto open = out.rfind('{', at), close = out.find('}', at);
        auto obj = out.substr(open, close - open + 1);
        IT_ASSERT_STR_EQ(itest::json_field(obj, "status"), want, obj);
        IT_ASSERT_STR_EQ(itest::json_field(obj, "bundle"), c->bundle, obj);
    }
    auto q = itest::berth({"list", "-q"});
    IT_ASSERT_OK(q);
    IT_ASSERT_STR_EQ(q.out, a.id + "\n" + b.id + "\n", q.describe());
    itest::finish();
}

Test(lifecycle, twenty_concurrent_creates) {
    constexpr int N = 20;
    std::vector<itest::Container> cs;
    for (int i = 0; i < N; ++i) {
        cs.push_back(itest::container());
        cs.back().sh("exit 0");
        cs.back().write_config();
    }
    std::vector<itest::Child> kids;
    for (auto& c : cs) {
        itest::SpawnOpts o;
        o.stdout_path = c.out_path;
        o.timeout_ms = 60000;
        kids.push_back(itest::berth_spawn({"create", "--bundle", c.bundle, c.id}, o));
    }
    std::vector<itest::Result> rs;
    for (auto& k : kids) rs.push_back(itest::wait(k));
    for (int i = 0; i < N; ++i) IT_ASSERT_OK(rs[i]);
    for (auto& c : cs) IT_ASSERT_STR_EQ(c.status(), "created", c.id);

    auto l = itest::berth({"list", "-q"});
    IT_ASSERT_OK(l);
    cr_assert_eq(itest::lines(l.out).size(), static_cast<size_t>(N), "%s", l.describe().c_str());

    for (auto& c : cs) IT_ASSERT_OK(c.del(true));
    for (auto& c : cs) IT_ASSERT_NO_TRACE(c.id, c.bundle);
    auto after = itest::berth({"list", "-q"});
    IT_ASSERT_OK(after);
    IT_ASSERT_STR_EQ(after.out, "", after.describe());
    itest::finish();
}

Test(lifecycle, twenty_concurrent_deletes) {
    constexpr int N = 20;
    std::vector<itest::Container> cs;
    for (int i = 0; i < N; ++i) {
        cs.push_back(itest::container());
        cs.back().sh("exit 0");
        IT_ASSERT_OK(cs.back().create());
    }
    std::vector<itest::Child> kids;
    for (auto& c : cs) kids.push_back(itest::berth_spawn({"delete", "--force", c.id}));
    for (auto& k : kids) IT_ASSERT_OK(itest::wait(k));
    for (auto& c : cs) IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(lifecycle, concurrent_starts_run_the_process_once) {
    auto c = itest::container();
    c.sh("echo ran; exec sleep 60");
    IT_ASSERT_OK(c.create());
    std::vector<itest::Child> kids;
    for (int i = 0; i < 4; ++i) kids.push_back(itest::berth_spawn({"start", c.id}));
    std::string all;
    int ok = itest::count_successes(kids, c.id, all);
    cr_assert_eq(ok, 1, "%d starts succeeded:\n%s", ok, all.c_str());
    cr_assert(c.wait_status("running"), "%s", c.state().describe().c_str());
    cr_assert(wait_for_text(c.out_path, "ran\n"));
    IT_ASSERT_STR_EQ(c.output(), "ran\n", all);
    itest::finish();
}

Test(lifecycle, init_killed_from_outside) {
    // The init dies behind berth's back: state says stopped, start refuses,
    // delete (no --force) cleans up.
    auto c = itest::container();
    c.sh("exit 0");
    IT_ASSERT_OK(c.create());
    pid_t pid = c.pid();
    cr_assert(pid > 0);
    cr_assert(::kill(pid, SIGKILL) == 0);
    cr_assert(c.wait_status("stopped"), "%s", c.state().describe().c_str());
    IT_ASSERT_FAIL(c.start(), c.id);
    IT_ASSERT_OK(c.del());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

// NOTIFY_SOCKET (podman --sdnotify=container, systemd Type=notify): start
// returns only once the container says READY=, which reaches the host
// socket with MAINPID; other notifications stay inside.
Test(lifecycle, notify_socket_ready_is_forwarded) {
    const char* helper = std::getenv("BERTH_SD_NOTIFY");
    if (!helper || access(helper, X_OK) != 0) itest::skip("the sd-notify test helper was not built");
    auto c = itest::container();
    std::string root = c.copy_rootfs();
    auto cp = itest::run_cmd({"/bin/cp", helper, root + "/bin/sd-notify"});
    IT_ASSERT_OK(cp);
    c.sh("sd-notify STATUS=starting; while [ ! -e /dev/shm/go ]; do sleep 0.05; done; sd-notify READY=1; exec sleep 600");

    std::string host = itest::work_dir() + "/host-notify.sock";
    int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, host.c_str(), sizeof a.sun_path - 1);
    cr_assert_eq(bind(sock, reinterpret_cast<sockaddr*>(&a), sizeof a), 0, "bind %s", host.c_str());
    setenv("NOTIFY_SOCKET", host.c_str(), 1);
    auto created = c.create();
    auto starter = itest::berth_spawn({"start", c.id});
    unsetenv("NOTIFY_SOCKET");
    IT_ASSERT_OK(created);
    std::string pid = std::to_string(c.pid());

    // Not ready yet: start is still waiting, and nothing reached the host.
    ::usleep(300000);
    std::string st = itest::read_file("/proc/" + std::to_string(starter.pid) + "/stat");
    cr_assert(!st.empty() && st[st.rfind(')') + 2] != 'Z', "start returned before READY=1");
    char buf[512];
    cr_assert_lt(recv(sock, buf, sizeof buf, MSG_DONTWAIT), 0, "a notification reached the host before READY");

    IT_ASSERT_OK(itest::berth({"exec", c.id, "touch", "/dev/shm/go"}));
    auto r = itest::wait(starter);
    IT_ASSERT_OK(r);
    ssize_t n = recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    cr_assert_gt(n, 0, "no notification on the host socket after start returned");
    IT_ASSERT_STR_EQ(std::string(buf, static_cast<size_t>(n)), "READY=1\nMAINPID=" + pid + "\n", "notification");
    // The init's environment reads as the container's once it has exec'd
    // `sleep` (busybox sh overwrites its own); READY= comes just before
    // that exec, so allow it time (a slow guest lost this race).
    const std::string want = std::string("NOTIFY_SOCKET=/run/notify/notify.sock") + '\0';
    std::string env;
    for (int i = 0; i < 100 && !contains(env, want); ++i) {
        if (i) ::usleep(50000);
        env = itest::read_file("/proc/" + pid + "/environ");
    }
    cr_assert(contains(env, want), "container env lacks NOTIFY_SOCKET");
    close(sock);
    IT_ASSERT_OK(c.del(true));
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

// A created container's init (waiting for start) can be signalled: the
// container stops, and its process never runs.
Test(lifecycle, kill_created_container) {
    auto c = itest::container();
    c.sh("echo ran");
    IT_ASSERT_OK(c.create());
    IT_ASSERT_OK(c.kill("KILL"));
    cr_assert(c.wait_status("stopped"), "%s", c.state().describe().c_str());
    IT_ASSERT_FAIL(c.start(), c.id);
    IT_ASSERT_OK(c.del());
    IT_ASSERT_STR_EQ(c.output(), "", "the process ran");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}
