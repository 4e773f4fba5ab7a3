// linux.seccomp observed from inside: errno actions with errnoRet, killed
// processes, argument conditions, the notify listener, and bad profiles.
#include "harness.hpp"

#include "json.hpp"

#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>

using berth::spec::Seccomp;
using berth::spec::SeccompArg;
using berth::spec::SeccompSyscall;
using itest::contains;

TestSuite(seccomp, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

namespace {

Seccomp allow_all_but(std::vector<SeccompSyscall> rules) {
    Seccomp s;
    s.defaultAction = "SCMP_ACT_ALLOW";
    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    s.syscalls = std::move(rules);
    return s;
}

SeccompSyscall rule(std::vector<std::string> names, std::string action) {
    SeccompSyscall r;
    r.names = std::move(names);
    r.action = std::move(action);
    return r;
}

} // namespace

Test(seccomp, errno_action_with_errno_ret) {
    auto c = itest::container();
    auto r0 = rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO");
    r0.errnoRet = 38;   // ENOSYS
    c.cfg.linux->seccomp = allow_all_but({r0});
    c.sh("mkdir /tmp/x 2>&1; grep Seccomp: /proc/self/status");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "Function not implemented"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "Seccomp:\t2"), "no filter in force: %s", r.describe().c_str());
    itest::finish();
}

Test(seccomp, errno_default_is_eperm) {
    auto c = itest::container();
    c.cfg.linux->seccomp = allow_all_but({rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO")});
    c.sh("mkdir /tmp/x 2>&1");
    auto r = c.run();
    cr_assert(contains(r.out, "Operation not permitted"), "%s", r.describe().c_str());
    itest::finish();
}

Test(seccomp, kill_process_action) {
    auto c = itest::container();
    c.cfg.linux->seccomp = allow_all_but({rule({"sethostname"}, "SCMP_ACT_KILL_PROCESS")});
    c.sh("hostname changed; echo rc=$?");
    auto r = c.run();
    IT_ASSERT_OK(r);
    // busybox runs the hostname applet in a child, which dies of SIGSYS (31).
    cr_assert(contains(r.out, "rc=159"), "%s", r.describe().c_str());
    itest::finish();
}

Test(seccomp, argument_condition) {
    auto c = itest::container();
    // kill(pid, 0) is refused; kill(pid, SIGCONT) is not.
    auto r0 = rule({"kill"}, "SCMP_ACT_ERRNO");
    SeccompArg a;
    a.index = 1;
    a.value = 0;
    a.op = "SCMP_CMP_EQ";
    r0.args = {a};
    c.cfg.linux->seccomp = allow_all_but({r0});
    c.sh("kill -0 1 2>/dev/null; echo zero=$?; kill -CONT 1; echo cont=$?");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "zero=1"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "cont=0"), "%s", r.describe().c_str());
    itest::finish();
}

Test(seccomp, unknown_syscall_names_are_skipped) {
    auto c = itest::container();
    c.cfg.linux->seccomp = allow_all_but({rule({"no_such_syscall_berth", "mkdirat"}, "SCMP_ACT_ERRNO")});
    c.sh("echo ran");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "ran"), "%s", r.describe().c_str());
    itest::finish();
}

Test(seccomp, filter_does_not_imply_no_new_privs) {
    auto c = itest::container();
    c.cfg.process->noNewPrivileges = false;
    c.cfg.linux->seccomp = allow_all_but({rule({"mkdirat"}, "SCMP_ACT_ERRNO")});
    c.sh("grep NoNewPrivs: /proc/self/status");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "NoNewPrivs:\t0"), "%s", r.describe().c_str());
    itest::finish();
}

Test(seccomp, deny_by_default_profile) {
    auto c = itest::container();
    // Errno by default; allow what sh, echo and the runtime's last steps need.
    Seccomp s;
    s.defaultAction = "SCMP_ACT_ERRNO";
    s.defaultErrnoRet = 1;
    auto allow = rule({"execve", "brk", "mmap", "munmap", "mprotect", "arch_prctl", "set_tid_address",
                       "set_robust_list", "rseq", "prlimit64", "getuid", "geteuid", "getgid", "getegid",
                       "getpid", "getppid", "getpgrp", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
                       "write", "writev", "read", "close", "exit", "exit_group", "fcntl", "ioctl", "poll",
                       "close_range", "sendmsg", "sendto", "newfstatat", "fstat", "getcwd", "uname", "wait4",
                       "stat", "lseek", "dup2", "dup3", "openat", "access", "faccessat", "faccessat2",
                       "readlink", "readlinkat", "getrandom", "futex", "sysinfo"},
                      "SCMP_ACT_ALLOW");
    s.syscalls = {allow};
    c.cfg.process->noNewPrivileges = true;
    c.cfg.linux->seccomp = s;
    c.sh("echo allowed; mkdir /tmp/x 2>&1");
    auto r = c.run();
    cr_assert(contains(r.out, "allowed"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "Operation not permitted"), "%s", r.describe().c_str());
    itest::finish();
}

namespace {

// What busybox's sh, echo, mkdir and sleep use, and what runc itself calls
// once the filter is in force (without no_new_privs it is loaded before the
// capability and user changes): nothing newer, no close_range, poll or
// sendmsg, as in profiles written before those existed.
Seccomp runc_minimal_profile() {
    Seccomp s;
    s.defaultAction = "SCMP_ACT_ERRNO";
    s.syscalls = {rule({"execve", "brk", "mmap", "munmap", "mprotect", "arch_prctl", "set_tid_address",
                        "set_robust_list", "rseq", "prlimit64", "getuid", "geteuid", "getgid", "getegid", "getpid",
                        "getppid", "getpgrp", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "write", "writev",
                        "read", "close", "exit", "exit_group", "fcntl", "ioctl", "newfstatat", "fstat", "stat",
                        "getcwd", "uname", "wait4", "lseek", "dup2", "dup3", "openat", "access", "faccessat",
                        "readlink", "readlinkat", "getrandom", "futex", "sysinfo", "nanosleep", "clock_nanosleep",
                        "clone", "fork", "vfork",
                        // runc's own calls after loading the filter
                        "capget", "capset", "prctl", "setgroups", "setresuid", "setresgid", "setuid", "setgid",
                        "getdents64"},
                       "SCMP_ACT_ALLOW")};
    return s;
}

} // namespace

Test(seccomp, runc_minimal_profile_without_no_new_privs) {
    auto c = itest::container();
    c.cfg.process->noNewPrivileges = false;
    c.cfg.linux->seccomp = runc_minimal_profile();
    c.sh("echo allowed; mkdir /tmp/x 2>&1; exec sleep 600");
    IT_ASSERT_OK(c.create());
    IT_ASSERT_OK(c.start());
    auto out = itest::wait_output(c, "Operation not permitted");
    cr_assert(contains(out, "allowed"), "%s", out.c_str());
    // exec runs under the same filter, loaded at the same point.
    auto r = itest::berth({"exec", c.id, "sh", "-c", "echo exec-ok; mkdir /tmp/y 2>&1; grep Seccomp: /proc/self/status"});
    cr_assert(itest::check_ok(r).empty(), "%s\ncontainer output: %s", itest::check_ok(r).c_str(), c.output().c_str());
    cr_assert(contains(r.out, "exec-ok\n"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "Operation not permitted"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "Seccomp:\t2"), "%s", r.describe().c_str());
    IT_ASSERT_OK(c.del(true));
    // And with no_new_privs: loaded last, just before the exec.
    auto d = itest::container();
    d.cfg.process->noNewPrivileges = true;
    d.cfg.linux->seccomp = runc_minimal_profile();
    d.sh("echo nnp-ok");
    auto rr = d.run();
    IT_ASSERT_OK(rr);
    cr_assert(contains(rr.out, "nnp-ok"), "%s", rr.describe().c_str());
    itest::finish();
}

namespace {

// Run syscall-probe with `numbers` in a container under `s`; its output.
std::string probe(const Seccomp& s, const std::string& numbers) {
    const char* helper = std::getenv("BERTH_SYSCALL_PROBE");
    if (!helper || access(helper, X_OK) != 0) itest::skip("the syscall-probe test helper was not built");
    auto c = itest::container();
    std::string root = c.copy_rootfs();
    IT_ASSERT_OK(itest::run_cmd({"/bin/cp", helper, root + "/bin/syscall-probe"}));
    c.cfg.process->noNewPrivileges = true;
    c.cfg.process->args = {"/bin/syscall-probe"};
    for (auto& n : itest::lines(numbers)) c.cfg.process->args.push_back(n);
    c.cfg.linux->seccomp = s;
    auto r = c.run();
    cr_assert(itest::check_ok(r).empty(), "%s", itest::check_ok(r).c_str());
    return r.out;
}

} // namespace

Test(seccomp, syscalls_newer_than_the_profile_get_enosys) {
    // The largest syscall runc_minimal_profile names is rseq (334 on
    // x86_64): clone3 (435) and an unassigned number (1000) are "newer",
    // getpriority (140) is known to it but not allowed.
#ifndef __x86_64__
    itest::skip("syscall numbers below are x86_64's");
#endif
    for (bool arches : {false, true}) {
        auto s = runc_minimal_profile();
        // The common multi-arch list: x32 shares x86_64's AUDIT_ARCH.
        if (arches) s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
        auto out = probe(s, "435\n1000\n140\n39");
        cr_assert(contains(out, "435=ENOSYS\n"), "clone3 must look absent, for libc to fall back: %s", out.c_str());
        cr_assert(contains(out, "1000=ENOSYS\n"), "%s", out.c_str());
        cr_assert(contains(out, "140=EPERM\n"), "a known syscall keeps the default action: %s", out.c_str());
        cr_assert(contains(out, "39=ok\n"), "getpid is allowed: %s", out.c_str());
    }
    // With its own errno for the default, the rule is the same.
    auto s = runc_minimal_profile();
    s.defaultErrnoRet = 13;   // EACCES
    auto out = probe(s, "435\n140");
    cr_assert(contains(out, "435=ENOSYS\n") && contains(out, "140=EACCES\n"), "%s", out.c_str());
    itest::finish();
}

Test(seccomp, permissive_default_gets_no_enosys_stub) {
#ifndef __x86_64__
    itest::skip("syscall numbers below are x86_64's");
#endif
    // Allow by default, one rule on mkdir (83): getppid (110) is above the
    // profile's largest number, and must still run.
    auto out = probe(allow_all_but({rule({"mkdir"}, "SCMP_ACT_ERRNO")}), "110\n83");
    cr_assert(contains(out, "110=ok\n"), "%s", out.c_str());
    cr_assert(contains(out, "83=EPERM\n"), "%s", out.c_str());
    itest::finish();
}

Test(seccomp, notify_listener_receives_fd_and_state) {
    auto c = itest::container();
    std::string sock = itest::work_dir() + "/listener.sock";
    int l = itest::listen_unix(sock);
    auto s = allow_all_but({rule({"mkdir", "mkdirat"}, "SCMP_ACT_NOTIFY")});
    s.listenerPath = sock;
    s.listenerMetadata = "berth-test-meta";
    c.cfg.process->noNewPrivileges = true;
    c.cfg.linux->seccomp = s;
    c.sh("mkdir /tmp/n 2>&1; echo rc=$?");
    auto r = c.create();
    IT_ASSERT_OK(r);
    int conn = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    cr_assert_geq(conn, 0);
    std::vector<int> fds;
    std::string msg = itest::recv_with_fds(conn, fds);
    cr_assert_eq(fds.size(), 1u, "no fd with the state: %s", msg.c_str());
    int fd = fds[0];
    cr_assert(contains(msg, "\"seccompFd\""), "%s", msg.c_str());
    cr_assert(contains(msg, "berth-test-meta"), "%s", msg.c_str());
    cr_assert(contains(msg, "\"id\":\"" + c.id + "\""), "%s", msg.c_str());
    cr_assert(contains(msg, "\"status\":\"creating\""), "%s", msg.c_str());
    // With the listener gone, a notified syscall fails instead of hanging.
    close(fd);
    close(conn);
    close(l);
    IT_ASSERT_OK(c.start());
    cr_assert(c.wait_status("stopped"));
    cr_assert(contains(c.output(), "rc=1"), "%s", c.output().c_str());
    IT_ASSERT_OK(c.del());
    itest::finish();
}

namespace {

// A seccomp agent in a child of the test: accepts one connection on
// `sock`, parses the containerProcessState it gets strictly (yajl, through
// berth's JSON reader), writes what it found to `report`, then answers every
// notification with EDOM until the filter's last user is gone. Dies with
// the test's worker.
pid_t start_agent(const std::string& sock, const std::string& report) {
    unlink(sock.c_str());
    unlink(report.c_str());
    int l = itest::listen_unix(sock);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid > 0) {
        close(l);
        return pid;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto say = [&](const std::string& s) {
        itest::write_file(report, s);
        _exit(0);
    };
    int conn = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) say(std::string("bad: accept: ") + strerror(errno));
    std::vector<int> fds;
    std::string msg = itest::recv_with_fds(conn, fds);
    std::string found;
    try {
        berth::json::Document doc(msg, "containerProcessState");
        auto root = doc.root();
        auto names = root.get("fds").as_string_array();
        auto st = root.get("state");
        std::string keys, state_keys;
        for (auto& [k, v] : root.members()) keys += k + ",";
        for (auto& [k, v] : st.members()) state_keys += k + ",";
        found = "keys=" + keys + " statekeys=" + state_keys + " ociVersion=" + root.get("ociVersion").as_string() + " fds=" + std::to_string(fds.size()) +
                (names.size() == 1 ? " name=" + names[0] : " names?") +
                " pid=" + std::to_string(root.get("pid").as_int64()) +
                " metadata=" + (root.has("metadata") ? root.get("metadata").as_string() : "") +
                " id=" + st.get("id").as_string() + " status=" + st.get("status").as_string() +
                " statepid=" + std::to_string(st.get("pid").as_int64()) + " bundle=" + st.get("bundle").as_string() +
                "\n";
    } catch (const std::exception& e) {
        say("bad: " + std::string(e.what()) + ": " + msg);
    }
    if (fds.size() != 1) say("bad: " + std::to_string(fds.size()) + " fds\n" + found);
    int nfd = fds[0];
    int answered = 0;
    for (;;) {
        pollfd p{nfd, POLLIN, 0};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p.revents & POLLHUP) break;   // no process left under the filter
        seccomp_notif req{};
        if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR || errno == ENOENT) continue;
            break;
        }
        seccomp_notif_resp resp{};
        resp.id = req.id;
        resp.error = -EDOM;
        if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0) ++answered;
    }
    say(found + "answered=" + std::to_string(answered) + "\n");
    return 0;
}

// The agent's report, once it has exited.
std::string agent_report(pid_t agent, const std::string& report) {
    int st = 0;
    cr_assert_eq(waitpid(agent, &st, 0), agent);
    return itest::exists(report) ? itest::read_file(report) : "(no report)";
}

Seccomp notify_profile(const std::string& sock) {
    auto s = allow_all_but({rule({"mkdir", "mkdirat"}, "SCMP_ACT_NOTIFY")});
    s.listenerPath = sock;
    s.listenerMetadata = "berth-test-meta";
    return s;
}

} // namespace

Test(seccomp, notify_agent_gets_the_container_process_state_create_start) {
    auto c = itest::container();
    std::string sock = itest::work_dir() + "/agent.sock", report = itest::work_dir() + "/agent.report";
    pid_t agent = start_agent(sock, report);
    c.cfg.process->noNewPrivileges = true;
    c.cfg.linux->seccomp = notify_profile(sock);
    c.sh("mkdir /tmp/n 2>&1; echo rc=$?");
    auto r = c.create();
    IT_ASSERT_OK(r);
    pid_t init = c.pid();
    IT_ASSERT_OK(c.start());
    cr_assert(c.wait_status("stopped"));
    std::string rep = agent_report(agent, report);
    // The runtime spec's containerProcessState, and its state object.
    cr_assert(contains(rep, "keys=ociVersion,fds,pid,metadata,state, statekeys=ociVersion,id,status,pid,bundle, "),
              "%s", rep.c_str());
    cr_assert(contains(rep, "fds=1 name=seccompFd pid=" + std::to_string(init) + " metadata=berth-test-meta id=" +
                                c.id + " status=creating statepid=" + std::to_string(init) + " bundle=" + c.bundle),
              "%s", rep.c_str());
    cr_assert(contains(rep, "answered=1"), "%s", rep.c_str());
    cr_assert(contains(c.output(), "Numerical argument out of domain"), "%s", c.output().c_str());
    IT_ASSERT_OK(c.del());
    itest::finish();
}

Test(seccomp, notify_agent_with_run_and_exec) {
    auto c = itest::container();
    std::string sock = itest::work_dir() + "/agent.sock", report = itest::work_dir() + "/agent.report";
    pid_t agent = start_agent(sock, report);
    c.cfg.linux->seccomp = notify_profile(sock);
    c.sh("mkdir /tmp/n 2>&1; echo rc=$?");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "Numerical argument out of domain"), "%s", r.describe().c_str());
    std::string rep = agent_report(agent, report);
    cr_assert(contains(rep, "name=seccompFd") && contains(rep, "status=creating") && contains(rep, "answered=1"),
              "%s", rep.c_str());

    // exec: the agent hears of the exec'd process, in a running container.
    auto d = itest::container();
    std::string report2 = itest::work_dir() + "/agent2.report";
    d.cfg.linux->seccomp = notify_profile(sock);
    d.sh("exec sleep 600");
    agent = start_agent(sock, report);   // for the init
    IT_ASSERT_OK(d.create());
    IT_ASSERT_OK(d.start());
    pid_t init = d.pid();
    pid_t agent2 = start_agent(sock, report2);
    auto e = itest::berth({"exec", "--pid-file", d.bundle + "/exec.pid", d.id, "sh", "-c", "mkdir /tmp/e 2>&1; true"});
    IT_ASSERT_OK(e);
    cr_assert(contains(e.out, "Numerical argument out of domain"), "%s", e.describe().c_str());
    std::string rep2 = agent_report(agent2, report2);
    std::string epid = itest::trim(itest::read_file(d.bundle + "/exec.pid"));
    cr_assert(contains(rep2, "pid=" + epid + " ") && contains(rep2, "status=running statepid=" + std::to_string(init)),
              "%s", rep2.c_str());
    IT_ASSERT_OK(d.del(true));
    agent_report(agent, report);
    itest::finish();
}

Test(seccomp, notify_without_agent_says_so) {
    auto c = itest::container();
    std::string sock = itest::work_dir() + "/nobody.sock";
    c.cfg.linux->seccomp = notify_profile(sock);
    c.sh("true");
    auto r = c.run();
    IT_ASSERT_FAIL(r, "no seccomp agent is listening on " + sock);
    IT_ASSERT_STR_EQ(itest::check_no_trace(c.id, c.bundle), "", r.describe());
    itest::finish();
}

Test(seccomp, bad_profiles_name_the_field) {
    struct Case {
        const char* field;
        std::function<void(Seccomp&)> spoil;
    };
    std::vector<Case> cases = {
        {"linux.seccomp.syscalls[0].action", [](Seccomp& s) { s.syscalls[0].action = "SCMP_ACT_NOPE"; }},
        {"linux.seccomp.architectures[0]", [](Seccomp& s) { s.architectures = {"SCMP_ARCH_VAX"}; }},
        {"linux.seccomp.syscalls[0].args[0].op", [](Seccomp& s) {
             SeccompArg a;
             a.op = "SCMP_CMP_ALMOST";
             s.syscalls[0].args = {a};
         }},
        {"linux.seccomp.flags[0]", [](Seccomp& s) { s.flags = {"SECCOMP_FILTER_FLAG_BOGUS"}; }},
        {"linux.seccomp.defaultAction", [](Seccomp& s) { s.defaultAction = "ALLOW"; }},
        {"linux.seccomp.listenerPath", [](Seccomp& s) { s.syscalls[0].action = "SCMP_ACT_NOTIFY"; }},
        // The init's own last calls could never be answered (runc refuses these too).
        {"linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action", [](Seccomp& s) {
             s.defaultAction = "SCMP_ACT_NOTIFY";
             s.listenerPath = "/nonexistent.sock";
         }},
        {"linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY cannot be used for the write syscall", [](Seccomp& s) {
             s.syscalls[0] = rule({"read", "write"}, "SCMP_ACT_NOTIFY");
             s.listenerPath = "/nonexistent.sock";
         }},
    };
    for (auto& k : cases) {
        auto c = itest::container();
        auto s = allow_all_but({rule({"mkdirat"}, "SCMP_ACT_ERRNO")});
        k.spoil(s);
        c.cfg.linux->seccomp = s;
        auto r = c.run();
        cr_assert_neq(r.status, 0, "%s", r.describe().c_str());
        cr_assert(contains(r.err, k.field), "want %s: %s", k.field, r.describe().c_str());
        IT_ASSERT_STR_EQ(itest::check_no_trace(c.id, c.bundle), "", r.describe());
    }
    itest::finish();
}

namespace {

// contrib/seccomp/default.json, parsed through the spec parser.
Seccomp contrib_default_profile() {
    std::string profile = itest::read_file(std::string(std::getenv("BERTH_SRC")) + "/contrib/seccomp/default.json");
    auto cfg = berth::spec::parse_config("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"seccomp\":" +
                                         profile + "}}");
    return *cfg.linux->seccomp;
}

const char* kProbe =
    "ls / >/dev/null && echo ls-ok; echo data | grep -c data; "
    "unshare -U true 2>/dev/null; echo userns=$?; "
    "unshare -U -f true 2>/dev/null; echo userns-fork=$?";

} // namespace

Test(seccomp, contrib_default_profile_control) {
    // Without the profile, creating a user namespace needs no capability.
    auto c = itest::container();
    c.sh(kProbe);
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "userns=0"), "%s", r.describe().c_str());
    itest::finish();
}

Test(seccomp, contrib_default_profile) {
    auto c = itest::container();
    c.cfg.linux->seccomp = contrib_default_profile();
    c.sh(kProbe);
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "ls-ok\n1\n"), "everyday commands broke: %s", r.describe().c_str());
    cr_assert(contains(r.out, "userns=1"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "userns-fork=1"), "%s", r.describe().c_str());
    itest::finish();
}
