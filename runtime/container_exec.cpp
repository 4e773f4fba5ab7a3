// `exec`: a new process in an existing container.
#include "cgroup.hpp"
#include "container.hpp"
#include "error.hpp"
#include "exe_guard.hpp"
#include "exec_init.hpp"
#include "file_util.hpp"
#include "foreground.hpp"
#include "namespaces.hpp"
#include "proc.hpp"
#include "seccomp.hpp"
#include "terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

namespace berth {

namespace {

// The config the container was created from: the copy in its state dir, or
// (for a container made before berth kept one) its bundle's.
spec::Config container_config(const StateDir& dir, const ContainerState& st) {
    std::string text = dir.load_config();
    if (text.empty()) return spec::load_bundle_config(st.bundle);
    return with_context(dir.path() + "/config.json", [&] { return spec::parse_config(text, ""); });
}

// The pid namespace counts for children only: berth joins it just for the
// clone and then returns to its own.
class PidNsForChild {
public:
    // False when not permitted (an unprivileged berth and a container with
    // its own user namespace): the child then joins it itself.
    bool join(int init_pidfd) {
        own_.reset(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
        if (!own_) throw_errno("open /proc/self/ns/pid");
        if (::setns(init_pidfd, CLONE_NEWPID) == 0) return true;
        int err = errno;
        own_.reset();
        if (err == EPERM) return false;
        throw Error(err, "join the container's pid namespace", true);
    }
    void restore() {
        if (own_ && ::setns(own_.get(), CLONE_NEWPID) < 0) throw_errno("return to berth's pid namespace");
        own_.reset();
    }
    ~PidNsForChild() {
        if (own_) ::setns(own_.get(), CLONE_NEWPID);
    }

private:
    UniqueFd own_;
};

// Kills and reaps the process until the exec is known to have happened.
// One born into a frozen cgroup (--ignore-paused) dies only once thawed: it
// is then left for init to reap rather than waited for.
class ExecGuard {
public:
    ~ExecGuard() {
        if (done_ || !pidfd_) return;
        pidfd_signal(pidfd_.get(), SIGKILL);
        if (pidfd_wait_exit(pidfd_.get(), 1000)) ::waitpid(pid_, nullptr, WNOHANG);
    }
    void set(pid_t pid, UniqueFd pidfd) {
        pid_ = pid;
        pidfd_ = std::move(pidfd);
    }
    pid_t pid() const { return pid_; }
    int pidfd() const { return pidfd_.get(); }
    void commit() { done_ = true; }

private:
    pid_t pid_ = 0;
    UniqueFd pidfd_;
    bool done_ = false;
};

} // namespace

spec::Process exec_base_process(const RuntimeContext& ctx, const std::string& id) {
    auto dir = StateDir::open(ctx.root, id, true);
    auto cfg = container_config(dir, dir.load());
    if (!cfg.process) throw Error(EINVAL, "container \"" + id + "\" has no process in its config");
    return *cfg.process;
}

int exec_container(const RuntimeContext& ctx, const std::string& id, const ExecOptions& opts) {
    const spec::Process& proc = opts.process;
    if (proc.args.empty()) throw Error(EINVAL, "exec: process.args: a command is required");
    if (proc.terminal && opts.detach && opts.console_socket.empty() && opts.console_fd < 0)
        throw Error(EINVAL, "exec: a terminal with --detach needs --console-socket");

    std::optional<StateDir> dir(StateDir::open(ctx.root, id, true));
    auto st = dir->load();
    auto cg = open_cgroup(st);
    auto status = current_status(st, *dir, cg.get());
    if (status == Status::stopped)
        throw Error(EINVAL, "cannot exec in container \"" + id + "\": it is stopped");
    if (status == Status::paused && !opts.ignore_paused)
        throw Error(EINVAL, "cannot exec in container \"" + id + "\": it is paused (use --ignore-paused)");
    BERTH_DEBUG(ctx.log, "exec " + id + ": init pid " + std::to_string(st.pid) + ", status " + status_name(status));
    spec::Config cfg = container_config(*dir, st);
    if (!cfg.linux) cfg.linux.emplace();
    const auto& lin = *cfg.linux;

    require_protected_exe();

    std::unique_ptr<SeccompFilter> seccomp;
    if (lin.seccomp) {
        seccomp = SeccompFilter::build(*lin.seccomp, [&](const std::string& m) {
            if (ctx.log) ctx.log->debug(m);
        });
    }
    UniqueFd init = pidfd_open(st.pid);
    if (!init || !process_alive(st.pid, st.pid_start))
        throw Error(ESRCH, "cannot exec in container \"" + id + "\": its init has exited");

    ExecInitArgs a;
    a.process = &proc;
    a.linux = &lin;
    a.id = id;
    a.init_pidfd = init.get();
    // Joining a mount namespace puts a process at the top of what is
    // mounted over its root; the init's own root is where it belongs.
    UniqueFd init_root(::open(("/proc/" + std::to_string(st.pid) + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!init_root) throw_errno("cannot exec in container \"" + id + "\": open its init's root");
    a.root_fd = init_root.get();
    a.preserve_fds = opts.preserve_fds;
    a.seccomp = seccomp.get();
    // Where the process goes: the container's cgroup, or sub-cgroups of it.
    std::unique_ptr<cgroup::Manager> sub;
    if (!opts.sub_cgroups.empty()) sub = cg->sub(opts.sub_cgroups);
    const cgroup::Manager* place = sub ? sub.get() : cg.get();
    a.cgroup = place;
    bool pidns = false;
    for (const auto& ns : lin.namespaces) {
        if (ns.type == spec::NsType::pid) pidns = true;
        else a.ns_flags |= ns_clone_flag(ns.type);
        if (ns.type == spec::NsType::user) a.userns = true;
    }
    if (a.userns) {
        try {
            a.setgroups_denied = read_file("/proc/" + std::to_string(st.pid) + "/setgroups").starts_with("deny");
        } catch (const Error&) {
        }
    }

    UniqueFd console;
    OwnConsole own;
    if (proc.terminal) {
        if (opts.console_fd >= 0) {
            a.console_fd = opts.console_fd;
        } else if (!opts.console_socket.empty()) {
            console = connect_console_socket(opts.console_socket);
            a.console_fd = console.get();
        } else {
            own = OwnConsole::make();
            a.console_fd = own.theirs.get();
        }
    }

    sigset_t set = forwarded_signals(), old;
    ::sigprocmask(SIG_BLOCK, &set, &old);
    a.sigmask = opts.sigmask ? *opts.sigmask : old;
    struct RestoreMask {
        sigset_t m;
        ~RestoreMask() { ::sigprocmask(SIG_SETMASK, &m, nullptr); }
    } restore_mask{old};

    SyncSocket parent_end;
    SyncSocket::pair(parent_end, a.sync);
    PidNsForChild pid_for_child;
    if (pidns && !pid_for_child.join(init.get())) {
        a.pid_in_child = true;
        a.ns_flags |= CLONE_NEWPID;
        // The process is our grandchild: become its reaper when its parent
        // (the first stage) exits.
        if (::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) throw_errno("become child subreaper");
    }
    // Done with the state: other commands may use the container now. This
    // must precede the clone: a child born into a frozen cgroup (exec
    // --ignore-paused on cgroup v2) would hold a copy of the lock until
    // thawed, and `resume` needs it.
    dir.reset();
    ExecGuard guard;
    {
        UniqueFd birth = place->birth_fd();
        int pidfd = -1;
        pid_t pid = with_context("clone exec process", [&] { return clone_pidfd(0, &pidfd, birth.get()); });
        if (pid == 0) {
            parent_end.close();
            exec_init(a);
        }
        guard.set(pid, UniqueFd(pidfd));
        BERTH_DEBUG(ctx.log, "exec " + id + ": cloned the process, pid " + std::to_string(pid) + "; joining the container");
    }
    pid_for_child.restore();
    a.sync.close();
    console.reset();
    own.theirs.reset();
    // While it sets up, a signal (we block them for the foreground wait)
    // cancels the exec.
    UniqueFd sigfd(::signalfd(-1, &set, SFD_CLOEXEC));
    if (!sigfd) throw_errno("signalfd");
    UniqueFd listener;                       // seccomp notify fd, for the agent
    bool child_known = !a.pid_in_child;
    for (;;) {
        pollfd fds[2] = {{parent_end.fd(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll");
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && (fds[1].revents & POLLIN)) {
            signalfd_siginfo si;
            if (::read(sigfd.get(), &si, sizeof si) == sizeof si && si.ssi_signo != SIGWINCH)
                throw Error(EINTR, "exec: interrupted by signal " + std::to_string(si.ssi_signo) +
                                       " before the process started");
            continue;
        }
        SyncMsg m;
        try {
            m = parent_end.recv();
        } catch (const Error& e) {
            if (e.err() == EPIPE) break;   // the sync socket closed on exec
            throw;
        }
        if (m.type == SyncType::log) {
            if (ctx.log) ctx.log->log(static_cast<LogLevel>(m.level), m.text);
        } else if (m.type == SyncType::error) {
            throw Error(m.err, m.text, m.level != 0);
        } else if (m.type == SyncType::seccomp_fd) {
            // The agent is told the pid of the process that loaded the
            // filter: with a first stage, known once it has reported.
            listener = std::move(m.fd);
        } else if (m.type == SyncType::exec_child && a.pid_in_child) {
            // The first stage is done; the process it forked is ours to reap.
            ::waitpid(guard.pid(), nullptr, 0);
            pid_t pid = pidfd_pid(m.fd.get());
            guard.set(pid, std::move(m.fd));
            child_known = true;
        } else {
            throw Error(EPROTO, "unexpected message from the exec process");
        }
        // At once: the process may already wait on the agent.
        if (listener && child_known) {
            with_context("seccomp notify", [&] {
                send_to_seccomp_listener(*lin.seccomp, listener.get(), spec_state_json(st, Status::running),
                                         guard.pid());
            });
            listener.reset();
        }
    }
    pid_t pid = guard.pid();
    BERTH_DEBUG(ctx.log, "exec " + id + ": pid " + std::to_string(pid) + " runs " + proc.args.front());
    if (!opts.pid_file.empty())
        with_context("--pid-file", [&] { write_file_atomic(opts.pid_file, std::to_string(pid)); });
    UniqueFd master;
    if (own.ours) master = own.master();
    guard.commit();
    if (opts.detach) {
        if (opts.pid_out) *opts.pid_out = pid;
        return 0;
    }
    return wait_foreground(pid, guard.pidfd(), set, master.get());
}

} // namespace berth
