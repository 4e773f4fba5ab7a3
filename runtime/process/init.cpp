#include "init.hpp"

#include "error.hpp"
#include "hooks.hpp"
#include "log.hpp"
#include "namespaces.hpp"
#include "process.hpp"
#include "process_finish.hpp"
#include "rootfs.hpp"
#include "terminal.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace berth {

namespace {

// A step, as a debug line the parent logs (only with --debug).
void step(const InitArgs& a, const char* what) {
    if (a.debug) a.sync.send(SyncType::log, 0, what, static_cast<uint32_t>(LogLevel::debug));
}

void setup(InitArgs& a, std::string& exe, std::vector<std::string>& env, std::string& hook_state) {
    const auto& cfg = *a.config;
    const auto& proc = *cfg.process;
    const auto& lin = *cfg.linux;

    // Until it execs, this process is the berth binary: keep other processes
    // (in a shared pid namespace, say) from opening /proc/PID/exe or its fds
    // (the CVE-2019-5736 route). execve restores dumpability. It also makes
    // /proc/PID root's, so an unprivileged (rootless) parent must first
    // finish writing our uid_map and oom_score_adj.
    auto non_dumpable = [] {
        if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) throw_errno("set non-dumpable");
    };
    if (!a.parent_unprivileged) non_dumpable();
    // If berth dies mid-setup, so does the half-made container.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) throw_errno("set parent death signal");
    // (A parent that died before this point shows up as EOF on the socket.)

    // The parent sends cgroup_joined as soon as it has placed us, which may
    // be while we wait for another message: note it whenever it comes.
    bool cgroup_joined = false;
    auto expect = [&](SyncType t) {
        if (t == SyncType::cgroup_joined && cgroup_joined) return SyncMsg{};
        for (;;) {
            auto m = a.sync.recv();
            if (m.type == t) return m;
            if (m.type != SyncType::cgroup_joined) throw Error(EPROTO, "unexpected message from berth");
            cgroup_joined = true;
        }
    };
    expect(SyncType::go);
    if (a.cgroup) with_context("join cgroup", [&] { a.cgroup->enter_self(); });

    auto joins = open_ns_paths(lin);
    join_namespaces(joins);
    if (a.userns) become_userns_root();
    step(a, "init: in the container's namespaces");
    if (!a.no_new_keyring) join_session_keyring(a.id);
    if (!cfg.hostname.empty() && ::sethostname(cfg.hostname.data(), cfg.hostname.size()) < 0)
        throw_errno("hostname: sethostname");
    if (!cfg.domainname.empty() && ::setdomainname(cfg.domainname.data(), cfg.domainname.size()) < 0)
        throw_errno("domainname: setdomainname");

    RootfsContext ctx;
    ctx.config = &cfg;
    ctx.rootfs = a.rootfs;
    ctx.bundle = a.bundle;
    ctx.userns = a.userns;
    ctx.no_pivot = a.no_pivot;
    ctx.own_mount_ns = lin.find_ns(spec::NsType::mount) != nullptr;
    ctx.cgroup_dirs = std::move(a.cgroup_dirs);
    ctx.bind_sources = std::move(a.bind_sources);
    if (a.hook_handshake) {
        ctx.before_pivot = [&] {
            // The parent runs prestart and createRuntime in the runtime's
            // namespaces; createContainer runs here, in the container's,
            // with host paths still visible (before pivot_root).
            a.sync.send(SyncType::hooks);
            hook_state = std::move(expect(SyncType::hooks_done).text);
            run_hooks(cfg.hooks.createContainer, hook_state, "createContainer", a.bundle);
        };
    }
    prepare_rootfs(ctx);
    step(a, "init: mounts done, root switched to the container's rootfs");
    if (proc.terminal) setup_terminal(a.console_fd, proc);
    finalize_rootfs(ctx);

    // The parent joins us to the cgroup while we mount (the first
    // cgroup.procs write can wait out an RCU grace period); a new cgroup
    // namespace must be rooted in that cgroup.
    expect(SyncType::cgroup_joined);
    if (a.parent_unprivileged) non_dumpable();
    if (a.new_cgroupns && ::unshare(CLONE_NEWCGROUP) < 0) throw_errno("create cgroup namespace");

    step(a, "init: in the container's cgroup; setting up the process");
    ProcessFinish f;
    f.process = &proc;
    f.linux = &lin;
    f.seccomp = a.seccomp;
    f.sync = &a.sync;
    f.preserve_fds = a.preserve_fds;
    f.setgroups_denied = a.setgroups_denied;
    exe = finish_process(f, env);
}

// Called with the seccomp filter loaded: read(2) only. The fifo is open
// read-write, so the read blocks until `start` writes instead of seeing
// EOF while no writer has it open (which would need poll).
void wait_for_start(int fifo) {
    for (;;) {
        char c;
        ssize_t n = ::read(fifo, &c, 1);
        if (n == 1) return;
        if (n < 0 && errno == EINTR) continue;
        _exit(1);
    }
}

} // namespace

void container_init(InitArgs& a) {
    ::sigprocmask(SIG_SETMASK, &a.sigmask, nullptr);
    a.sync.use_write();
    std::string exe;
    std::vector<std::string> env;
    std::string hook_state;
    try {
        setup(a, exe, env, hook_state);
        if (a.console_fd >= 0) ::close(a.console_fd);
        a.sync.send(SyncType::ready);
    } catch (const Error& e) {
        try { a.sync.send(SyncType::error, e.err(), e.context(), e.from_syscall()); } catch (...) {}
        _exit(1);
    } catch (const std::exception& e) {
        try { a.sync.send(SyncType::error, 0, e.what()); } catch (...) {}
        _exit(1);
    }
    a.sync.close();
    wait_for_start(a.fifo_fd);
    ::close(a.fifo_fd);
    // startContainer: in the container, after start, before the process
    // (in its cwd, as runc runs them).
    if (!a.config->hooks.startContainer.empty()) {
        try {
            run_hooks(a.config->hooks.startContainer, hook_state, "startContainer");
        } catch (const std::exception& e) {
            std::fprintf(stderr, "berth: %s\n", e.what());
            _exit(1);
        }
    }

    exec_process(exe, a.config->process->args, env);
    std::fprintf(stderr, "berth: exec %s: %s\n", exe.c_str(), std::strerror(errno));
    _exit(127);
}

} // namespace berth
