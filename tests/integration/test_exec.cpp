// exec: a process in an existing container, observed from inside and from
// the host: its namespaces and cgroup are the init's, the container's
// seccomp filter and capabilities apply, runc's flags amend the process,
// and exec into a stopped or paused container fails clearly.
#include "harness.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <cstring>

using itest::contains;
using itest::trim;

TestSuite(exec, .init = itest::setup, .fini = itest::teardown, .timeout = 90);

namespace {

// A container whose init sleeps, created and started.
itest::Container running(const std::function<void(itest::Container&)>& tweak = {}) {
    auto c = itest::container();
    c.sh("exec sleep 600");
    if (tweak) tweak(c);
    IT_ASSERT_OK(c.create());
    IT_ASSERT_OK(c.start());
    cr_assert(c.wait_status("running"), "%s", c.state().describe().c_str());
    return c;
}

itest::Result exec(const itest::Container& c, std::vector<std::string> args) {
    std::vector<std::string> a = {"exec"};
    // Flags first, then the id and the command (runc's order): split at "--".
    auto dash = std::find(args.begin(), args.end(), "--");
    a.insert(a.end(), args.begin(), dash);
    a.push_back(c.id);
    if (dash != args.end()) a.insert(a.end(), dash + 1, args.end());
    return itest::berth(a);
}

void stop(itest::Container& c) {
    IT_ASSERT_OK(c.del(true));
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
}

berth::spec::SeccompSyscall deny(std::vector<std::string> names) {
    berth::spec::SeccompSyscall s;
    s.names = std::move(names);
    s.action = "SCMP_ACT_ERRNO";
    return s;
}

} // namespace

Test(exec, joins_every_namespace_and_the_cgroup) {
    auto c = running([](itest::Container& c) { c.cfg.hostname = "exec-host"; });
    std::string pid = std::to_string(c.pid());
    auto r = exec(c, {"--", "sh", "-c",
                      "for n in pid net mnt ipc uts cgroup; do echo $n $(readlink /proc/self/ns/$n); done;"
                      "hostname; echo pid $$; exit 7"});
    cr_assert_eq(r.status, 7, "exit status not passed on: %s", r.describe().c_str());
    for (const char* n : {"pid", "net", "mnt", "ipc", "uts", "cgroup"}) {
        std::string want = std::string(n) + " " + itest::readlink_str("/proc/" + pid + "/ns/" + n);
        cr_assert(contains(r.out, want), "not in the init's %s namespace (want %s):\n%s", n, want.c_str(),
                  r.describe().c_str());
    }
    cr_assert(contains(r.out, "exec-host\n"), "%s", r.describe().c_str());
    // Not pid 1: the container's init is.
    cr_assert(!contains(r.out, "pid 1\n"), "%s", r.describe().c_str());

    // In the container's cgroup: a process there shows up in `berth ps`.
    auto d = exec(c, {"-d", "--pid-file", c.bundle + "/exec.pid", "--", "sleep", "300"});
    IT_ASSERT_OK(d);
    std::string epid = trim(itest::read_file(c.bundle + "/exec.pid"));
    std::string cgroup = itest::read_file("/proc/" + epid + "/cgroup");
    cr_assert(contains(cgroup, itest::cgroup_parent() + "/" + c.id), "exec'd process not in the cgroup:\n%s",
              cgroup.c_str());
    auto ps = itest::berth({"ps", "--format", "json", c.id});
    IT_ASSERT_OK(ps);
    cr_assert(contains(ps.out, epid), "ps does not list %s: %s", epid.c_str(), ps.out.c_str());
    // Detached: berth is gone, the process lives on in the container's pid
    // namespace (NSpid has a second, container-side pid).
    std::string status = itest::read_file("/proc/" + epid + "/status");
    bool nested = false;
    for (const auto& l : itest::lines(status))
        if (l.rfind("NSpid:", 0) == 0) nested = std::count(l.begin(), l.end(), '\t') == 2;
    cr_assert(nested, "not in a nested pid namespace:\n%s", status.c_str());
    stop(c);
    cr_assert(!itest::exists("/proc/" + epid + "/status") ||
                  contains(itest::read_file("/proc/" + epid + "/status"), "zombie"),
              "exec'd process outlived delete --force");
    itest::finish();
}

Test(exec, flags_amend_the_container_process) {
    auto c = running([](itest::Container& c) { c.cfg.process->env.push_back("KEEP=config"); });
    auto r = exec(c, {"-e", "FOO=bar", "-e", "KEEP=override", "--cwd", "/tmp", "-u", "1000:1001", "-g", "5",
                      "-g", "6", "--no-new-privs", "--", "sh", "-c",
                      "echo FOO=$FOO KEEP=$KEEP; pwd; id -u; id -g; grep -E '^(Groups|NoNewPrivs)' /proc/self/status"});
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "FOO=bar KEEP=override\n"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "/tmp\n1000\n1001\n"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "Groups:\t5 6"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "NoNewPrivs:\t1"), "%s", r.describe().c_str());

    // --cap adds to the container's sets.
    auto before = exec(c, {"--", "grep", "CapEff", "/proc/self/status"});
    auto after = exec(c, {"--cap", "CAP_SYS_ADMIN", "--", "grep", "CapEff", "/proc/self/status"});
    IT_ASSERT_OK(before);
    IT_ASSERT_OK(after);
    unsigned long long b = std::strtoull(trim(before.out.substr(before.out.find(':') + 1)).c_str(), nullptr, 16);
    unsigned long long a = std::strtoull(trim(after.out.substr(after.out.find(':') + 1)).c_str(), nullptr, 16);
    cr_assert_eq(b & (1ULL << 21), 0ULL, "CAP_SYS_ADMIN before --cap: %s", before.out.c_str());
    cr_assert_eq(a, b | (1ULL << 21), "--cap CAP_SYS_ADMIN: %s -> %s", before.out.c_str(), after.out.c_str());

    // Bad values are named.
    IT_ASSERT_FAIL(exec(c, {"-u", "root", "--", "true"}), "--user");
    IT_ASSERT_FAIL(exec(c, {"-e", "NOEQUALS", "--", "true"}), "--env");
    // An unknown capability is left out with a warning, as runc does.
    auto nope = exec(c, {"--cap", "CAP_NOPE", "--", "true"});
    IT_ASSERT_OK(nope);
    cr_assert(contains(nope.err, "unknown capability \"CAP_NOPE\""), "%s", nope.describe().c_str());
    stop(c);
    itest::finish();
}

Test(exec, process_json) {
    auto c = running();
    std::string file = c.bundle + "/process.json";
    itest::write_file(file, R"({"args":["sh","-c","echo $A; pwd; id -u"],"env":["A=from-json","PATH=/bin"],)"
                            R"("cwd":"/etc","user":{"uid":123,"gid":456},"terminal":false})");
    auto r = exec(c, {"--process", file});
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "from-json\n/etc\n123\n", r.describe());
    itest::write_file(file, R"({"args":"not-a-list"})");
    IT_ASSERT_FAIL(exec(c, {"--process", file}), "process.json", "args");
    stop(c);
    itest::finish();
}

Test(exec, container_seccomp_and_capabilities_apply) {
    auto c = running([](itest::Container& c) {
        berth::spec::Seccomp s;
        s.defaultAction = "SCMP_ACT_ALLOW";
        s.syscalls = {deny({"mkdir", "mkdirat"})};
        c.cfg.linux->seccomp = s;
        c.cfg.process->capabilities->bounding = {"CAP_CHOWN"};
        c.cfg.process->capabilities->effective = {"CAP_CHOWN"};
        c.cfg.process->capabilities->permitted = {"CAP_CHOWN"};
    });
    auto r = exec(c, {"--", "sh", "-c", "grep -E '^(Seccomp|CapEff|CapBnd):' /proc/self/status; mkdir /tmp/x"});
    cr_assert_neq(r.status, 0, "mkdir was allowed: %s", r.describe().c_str());
    cr_assert(contains(r.err, "Operation not permitted"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "Seccomp:\t2"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "CapEff:\t0000000000000001"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "CapBnd:\t0000000000000001"), "%s", r.describe().c_str());
    stop(c);
    itest::finish();
}

Test(exec, no_host_fd_crosses_in) {
    auto c = running();
    auto r = exec(c, {"--", "ls", "/proc/self/fd"});
    IT_ASSERT_OK(r);
    // 0-2, and the fd ls itself opened to read the directory.
    IT_ASSERT_STR_EQ(r.out, "0\n1\n2\n3\n", r.describe());
    stop(c);
    itest::finish();
}

Test(exec, stopped_paused_and_missing_command) {
    auto c = running();
    IT_ASSERT_FAIL(exec(c, {"--", "no-such-command"}), "no-such-command", "executable file not found");
    IT_ASSERT_OK(itest::berth({"pause", c.id}));
    IT_ASSERT_FAIL(exec(c, {"--", "true"}), "paused", "--ignore-paused");
    // --ignore-paused: the process waits, frozen, until the container resumes.
    auto kid = itest::berth_spawn({"exec", "--ignore-paused", c.id, "echo", "after-resume"});
    ::usleep(300000);
    IT_ASSERT_OK(itest::berth({"resume", c.id}));
    auto r = itest::wait(kid);
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "after-resume\n", r.describe());

    IT_ASSERT_OK(c.kill("KILL"));
    cr_assert(c.wait_status("stopped"));
    IT_ASSERT_FAIL(exec(c, {"--", "true"}), c.id, "stopped");
    IT_ASSERT_FAIL(itest::berth({"exec", "no-such-container", "true"}), "no-such-container");
    stop(c);
    itest::finish();
}

Test(exec, signals_are_forwarded_in_the_foreground) {
    auto c = running();
    auto kid = itest::berth_spawn({"exec", c.id, "sh", "-c", "trap 'echo got-term; exit 5' TERM; echo ready; "
                                                             "while :; do sleep 0.1; done"});
    // Wait until the trap is in place.
    for (int i = 0; i < 100; ++i) {
        auto ps = itest::berth({"ps", "--format", "json", c.id});
        if (std::count(ps.out.begin(), ps.out.end(), ',') >= 2) break;   // init, sh, and a sleep
        ::usleep(50000);
    }
    ::usleep(200000);
    ::kill(kid.pid, SIGTERM);
    auto r = itest::wait(kid);
    cr_assert_eq(r.status, 5, "SIGTERM not forwarded: %s", r.describe().c_str());
    cr_assert(contains(r.out, "got-term"), "%s", r.describe().c_str());
    stop(c);
    itest::finish();
}

Test(exec, user_namespace_container) {
    auto c = running([](itest::Container& c) {
        c.cfg.linux->namespaces.push_back({berth::spec::NsType::user, ""});
        c.cfg.linux->uidMappings = {{0, 100000, 65536}};
        c.cfg.linux->gidMappings = {{0, 100000, 65536}};
    });
    std::string pid = std::to_string(c.pid());
    auto r = exec(c, {"--", "sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user"});
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "0\n"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "100000"), "not in the mapped user namespace: %s", r.describe().c_str());
    cr_assert(contains(r.out, itest::readlink_str("/proc/" + pid + "/ns/user")), "%s", r.describe().c_str());
    stop(c);
    itest::finish();
}

Test(exec, tty_with_console_socket) {
    auto c = running();
    std::string sock = itest::work_dir() + "/exec-console.sock";
    int lfd = itest::listen_unix(sock);
    auto kid = itest::berth_spawn({"exec", "-t", "--console-socket", sock, c.id, "sh", "-c",
                                   "tty; test -t 0 && test -t 1 && echo all-tty; exit 4"});
    pollfd p{lfd, POLLIN, 0};
    cr_assert_eq(poll(&p, 1, 10000), 1, "no connection on the console socket");
    int conn = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    std::vector<int> fds;
    itest::recv_with_fds(conn, fds);
    cr_assert_eq(fds.size(), 1u, "the console message carries one fd");
    int master = fds[0];
    char buf[256];
    std::string out;
    pollfd mp{master, POLLIN, 0};
    while (poll(&mp, 1, 5000) > 0) {
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    auto r = itest::wait(kid);
    close(master);
    close(conn);
    close(lfd);
    cr_assert_eq(r.status, 4, "%s", r.describe().c_str());
    cr_assert(contains(out, "/dev/pts/"), "no pty: %s", out.c_str());
    cr_assert(contains(out, "all-tty"), "%s", out.c_str());
    // -d with -t needs a console socket.
    IT_ASSERT_FAIL(exec(c, {"-t", "-d", "--", "true"}), "--console-socket");
    stop(c);
    itest::finish();
}

namespace {

// The container's cgroup dir in each hierarchy on this host.
std::vector<std::string> container_cgroups(const itest::Container& c) {
    std::vector<std::string> roots;
    if (itest::exists("/sys/fs/cgroup/cgroup.controllers")) roots = {"/sys/fs/cgroup"};
    else
        for (const char* h : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd",
                              "unified", "hugetlb", "net_cls", "perf_event", "rdma", "misc"})
            if (itest::exists(std::string("/sys/fs/cgroup/") + h + "/cgroup.procs"))
                roots.push_back(std::string("/sys/fs/cgroup/") + h);
    std::vector<std::string> out;
    for (auto& r : roots)
        if (itest::exists(r + itest::cgroup_parent() + "/" + c.id)) out.push_back(r + itest::cgroup_parent() + "/" + c.id);
    return out;
}

// mkdir DIR/name in each (cpuset's cpus and mems copied down).
void make_sub(const std::vector<std::string>& dirs, const std::string& name) {
    for (auto& d : dirs) {
        std::string s = d + "/" + name;
        cr_assert_eq(mkdir(s.c_str(), 0755), 0, "mkdir %s: %s", s.c_str(), strerror(errno));
        if (d.find("/cpuset/") != std::string::npos)
            for (const char* f : {"cpuset.cpus", "cpuset.mems"}) itest::write_file(s + "/" + f, itest::read_file(d + "/" + f));
    }
}

// /proc/PID/cgroup of a detached exec'd process.
std::string exec_cgroups(const itest::Container& c, std::vector<std::string> flags) {
    std::string pidfile = c.bundle + "/sub-exec.pid";
    unlink(pidfile.c_str());
    std::vector<std::string> args = {"exec", "-d", "--pid-file", pidfile};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {c.id, "sleep", "300"});
    auto r = itest::berth(args);
    cr_assert(itest::check_ok(r).empty(), "%s", itest::check_ok(r).c_str());
    return itest::read_file("/proc/" + trim(itest::read_file(pidfile)) + "/cgroup");
}

// The line of /proc/PID/cgroup for a hierarchy ("memory", "" for cgroup2).
std::string cgroup_line(const std::string& text, const std::string& ctl) {
    for (auto& l : itest::lines(text)) {
        auto a = l.find(':'), b = l.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        if (("," + l.substr(a + 1, b - a - 1) + ",").find("," + ctl + ",") != std::string::npos) return l;
    }
    return "";
}

} // namespace

// runc's exec --cgroup: PATH for every hierarchy, or CONTROLLER:PATH per
// controller; the sub-cgroup must exist inside the container's cgroup, and
// goes with the container at delete.
Test(exec, cgroup_runs_the_process_in_a_sub_cgroup) {
    auto c = running();
    auto dirs = container_cgroups(c);
    cr_assert(!dirs.empty(), "the container has no cgroup dirs");
    make_sub(dirs, "sub");
    auto all = exec_cgroups(c, {"--cgroup", "sub"});
    for (auto& l : itest::lines(all))
        cr_assert(l.ends_with(itest::cgroup_parent() + "/" + c.id + "/sub"), "not in the sub-cgroup: %s\n%s", l.c_str(),
                  all.c_str());

    bool v2 = itest::exists("/sys/fs/cgroup/cgroup.controllers");
    if (!v2) {
        make_sub(dirs, "sub2");
        auto some = exec_cgroups(c, {"--cgroup", "memory:sub2", "--cgroup", "pids,freezer:sub2"});
        for (const char* ctl : {"memory", "pids", "freezer"})
            cr_assert(cgroup_line(some, ctl).ends_with("/" + c.id + "/sub2"), "%s:\n%s", ctl, some.c_str());
        cr_assert(cgroup_line(some, "cpu").ends_with("/" + c.id), "cpu stays in the container's:\n%s", some.c_str());
        IT_ASSERT_FAIL(itest::berth({"exec", "--cgroup", "nosuchctl:sub", c.id, "true"}), "nosuchctl");
    } else {
        IT_ASSERT_FAIL(itest::berth({"exec", "--cgroup", "memory:sub", c.id, "true"}), "without a controller");
    }
    IT_ASSERT_FAIL(itest::berth({"exec", "--cgroup", "missing", c.id, "true"}), "no sub-cgroup", "missing");
    IT_ASSERT_FAIL(itest::berth({"exec", "--cgroup", "../escape", c.id, "true"}), "inside the container's cgroup");
    IT_ASSERT_FAIL(itest::berth({"exec", "--cgroup", "a", "--cgroup", "b", c.id, "true"}), "CONTROLLER:PATH");
    // delete removes the sub-cgroups with the container's.
    stop(c);
    itest::finish();
}
