#include "exec_init.hpp"

#include "error.hpp"
#include "proc.hpp"
#include "process.hpp"
#include "process_finish.hpp"
#include "terminal.hpp"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace berth {

namespace {

std::string setup(ExecInitArgs& a, std::vector<std::string>& env) {
    // Until it execs this is the berth binary, inside the container's pid
    // namespace: keep its processes from opening /proc/PID/exe or our fds.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) throw_errno("set non-dumpable");
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) throw_errno("set parent death signal");
    // v1 hierarchies, while we still see the host's cgroupfs (cgroup2 was
    // joined at birth).
    if (a.cgroup) with_context("join the container's cgroup", [&] { a.cgroup->enter_self(); });

    // One setns through the init's pidfd joins every namespace at once, the
    // user namespace first, checked against the credentials it gives.
    if (a.ns_flags && ::setns(a.init_pidfd, a.ns_flags) < 0) throw_errno("join the container's namespaces");
    ::close(a.init_pidfd);
    if (a.root_fd >= 0) {
        if (::fchdir(a.root_fd) < 0 || ::chroot(".") < 0) throw_errno("enter the container's root");
        ::close(a.root_fd);
    }
    if (a.pid_in_child) {
        int pidfd = -1;
        pid_t pid = with_context("fork into the container's pid namespace", [&] { return clone_pidfd(0, &pidfd); });
        if (pid > 0) {
            // First stage: hand the real process to berth, then go.
            a.sync.send_fd(SyncType::exec_child, pidfd);
            _exit(0);
        }
        // (No parent death signal here: our parent is the first stage,
        // which exits now.)
    }
    if (a.userns) become_userns_root();
    if (!a.no_new_keyring) join_session_keyring(a.id);
    if (a.process->terminal) {
        // The pty is made on the container's devpts, like the init's.
        setup_terminal(a.console_fd, *a.process, false);
        ::close(a.console_fd);
    }
    ProcessFinish f;
    f.process = a.process;
    f.linux = a.linux;
    f.seccomp = a.seccomp;
    f.sync = &a.sync;
    f.preserve_fds = a.preserve_fds;
    f.setgroups_denied = a.setgroups_denied;
    return finish_process(f, env);
}

} // namespace

void exec_init(ExecInitArgs& a) {
    ::sigprocmask(SIG_SETMASK, &a.sigmask, nullptr);
    a.sync.use_write();
    auto fail = [&](int err, const std::string& what, bool from_syscall) {
        try { a.sync.send(SyncType::error, err, what, from_syscall); } catch (...) {}
        _exit(1);
    };
    std::vector<std::string> env;
    std::string exe;
    try {
        exe = setup(a, env);
    } catch (const Error& e) {
        fail(e.err(), e.context(), e.from_syscall());
    } catch (const std::exception& e) {
        fail(0, e.what(), false);
    }
    // Success closes the sync socket (close-on-exec): that is berth's signal.
    exec_process(exe, a.process->args, env);
    fail(errno, "exec " + exe, true);
    _exit(127);
}

} // namespace berth
