// start, kill, delete, state, list.
#include "cgroup.hpp"
#include "container.hpp"
#include "error.hpp"
#include "hooks.hpp"
#include "notify_socket.hpp"
#include "proc.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <optional>

namespace berth {

namespace {

// A pidfd for the container's init, or none when it has exited. Opening
// first and checking the start time after closes the pid-reuse race.
UniqueFd init_pidfd(const ContainerState& s) {
    UniqueFd fd = pidfd_open(s.pid);
    if (fd && !process_alive(s.pid, s.pid_start)) fd.reset();
    return fd;
}

void signal_all(const ContainerState& s, const cgroup::Manager& cg, int sig) {
    auto pids = cg.pids();
    if (pids.empty()) pids.push_back(s.pid);   // no cgroup of its own (rootless)
    for (pid_t p : pids) {
        if (::kill(p, sig) < 0 && errno != ESRCH) throw_errno("signal process " + std::to_string(p));
    }
}

// SIGKILL everything in the container and wait until the init is gone.
void kill_and_wait(const ContainerState& s, const cgroup::Manager& cg) {
    if (auto fd = init_pidfd(s)) {
        pidfd_signal(fd.get(), SIGKILL);
        if (!pidfd_wait_exit(fd.get(), 10000)) throw Error(ETIMEDOUT, "container init did not exit after SIGKILL");
    }
    if (!s.own_pid_ns) {
        // Without a pid namespace, processes outlive the init: kill until empty.
        for (int i = 0; i < 100; ++i) {
            auto pids = cg.pids();
            if (pids.empty()) break;
            for (pid_t p : pids) ::kill(p, SIGKILL);
            ::usleep(10000);
        }
    }
}

std::function<void(const std::string&)> warn(const RuntimeContext& ctx) {
    return [&ctx](const std::string& m) {
        if (ctx.log) ctx.log->warn(m);
    };
}

} // namespace

void start_container(const RuntimeContext& ctx, const std::string& id) {
    std::optional<StateDir> locked(StateDir::open(ctx.root, id));
    auto& dir = *locked;
    auto st = dir.load();
    auto status = current_status(st, dir);
    if (status != Status::created)
        throw Error(EINVAL, "cannot start container \"" + id + "\": it is " + status_name(status) + ", not created");
    // Listening before the process runs, so no READY= is lost.
    std::string notify_host = host_notify_socket();
    NotifyListener notify;
    if (!notify_host.empty()) notify = NotifyListener::bind(dir.path());
    UniqueFd fifo(::open(dir.fifo_path().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fifo) {
        if (errno == ENXIO) throw Error(ESRCH, "cannot start container \"" + id + "\": its init has exited");
        throw_errno("open " + dir.fifo_path());
    }
    BERTH_DEBUG(ctx.log, "start " + id + ": releasing the init, pid " + std::to_string(st.pid));
    char c = 0;
    if (::write(fifo.get(), &c, 1) != 1) throw_errno("write " + dir.fifo_path());
    // No fifo means started: the status moves to running.
    if (::unlink(dir.fifo_path().c_str()) < 0) throw_errno("remove " + dir.fifo_path());
    // poststart failures are logged and the rest still run (the runtime
    // spec's rule).
    if (!st.poststart.empty()) {
        BERTH_DEBUG(ctx.log, "start " + id + ": running poststart hooks");
        run_hooks_warn(st.poststart, oci_state_json(st, Status::running, false), "poststart", st.bundle, warn(ctx));
    }
    if (notify.active()) {
        // runc's contract: start returns once the container says it is
        // ready (or its init exits); other commands need not wait for that.
        locked.reset();
        if (auto fd = init_pidfd(st)) notify.forward_ready(notify_host, fd.get(), st.pid);
    }
}

void kill_container(const RuntimeContext& ctx, const std::string& id, int sig, bool all) {
    auto dir = StateDir::open(ctx.root, id, true);
    auto st = dir.load();
    auto status = current_status(st, dir);
    BERTH_DEBUG(ctx.log, "kill " + id + ": signal " + std::to_string(sig) + (all ? " to every process" : " to the init") +
                             ", pid " + std::to_string(st.pid) + ", status " + status_name(status));
    if (status == Status::stopped) {
        if (all) return;   // runc: --all only suppresses "not running"
        throw Error(ESRCH, "kill container \"" + id + "\": container not running");
    }
    if (all || !st.own_pid_ns) {
        signal_all(st, *open_cgroup(st), sig);
        return;
    }
    auto fd = init_pidfd(st);
    if (!fd || !pidfd_signal(fd.get(), sig)) throw Error(ESRCH, "kill container \"" + id + "\": container not running");
}

void delete_container(const RuntimeContext& ctx, const std::string& id, bool force) {
    std::optional<StateDir> opened;
    try {
        opened.emplace(StateDir::open(ctx.root, id));
    } catch (const Error& e) {
        if (e.err() != ENOENT || !force) throw;
        // runc: --force on a missing container succeeds. A create that died
        // before writing state.json may have left its dir: remove that too.
        std::string path = ctx.root + "/" + id;
        ::unlink((path + "/exec.fifo").c_str());
        ::rmdir(path.c_str());
        return;
    }
    StateDir& dir = *opened;
    auto st = dir.load();
    // One view of the host's cgroups for the whole delete.
    auto cg = open_cgroup(st);
    auto status = current_status(st, dir, cg.get());
    BERTH_DEBUG(ctx.log, "delete " + id + ": status " + status_name(status) + ", cgroup " + st.cgroup_path);
    if ((status == Status::running || status == Status::paused) && !force)
        throw Error(EBUSY, "cannot delete container \"" + id + "\" that is not stopped: " + status_name(status) +
                               " (use --force)");
    if (status != Status::stopped || !st.own_pid_ns) {
        if (status == Status::paused) {
            // Frozen tasks only act on SIGKILL once thawed.
            signal_all(st, *cg, SIGKILL);
            cg->freeze(false);
        }
        kill_and_wait(st, *cg);
    }
    with_context("delete container \"" + id + "\"", [&] { cg->destroy(); });
    dir.remove();
    BERTH_DEBUG(ctx.log, "delete " + id + ": cgroup and state removed");
    if (!st.poststop.empty())
        run_hooks_warn(st.poststop, oci_state_json(st, Status::stopped, false), "poststop", st.bundle, warn(ctx));
}

namespace {

// A container that is alive (created, running or paused), with its cgroup.
std::pair<ContainerState, Status> live(const StateDir& dir, const std::string& id, const char* what) {
    auto st = dir.load();
    auto status = current_status(st, dir);
    if (status == Status::stopped)
        throw Error(ESRCH, std::string(what) + " container \"" + id + "\": container not running");
    if (st.cgroup_path.empty())
        throw Error(ENOTSUP, std::string(what) + ": container \"" + id + "\" has no cgroup of its own (rootless)");
    return {st, status};
}

} // namespace

void update_container(const RuntimeContext& ctx, const std::string& id, const spec::Resources& r) {
    auto dir = StateDir::open(ctx.root, id);
    auto [st, status] = live(dir, id, "update");
    open_cgroup(st)->set(r);
}

void pause_container(const RuntimeContext& ctx, const std::string& id) {
    auto dir = StateDir::open(ctx.root, id);
    auto [st, status] = live(dir, id, "pause");
    if (status != Status::running)
        throw Error(EINVAL, "cannot pause container \"" + id + "\": it is " + status_name(status) + ", not running");
    open_cgroup(st)->freeze(true);
}

void resume_container(const RuntimeContext& ctx, const std::string& id) {
    auto dir = StateDir::open(ctx.root, id);
    auto [st, status] = live(dir, id, "resume");
    if (status != Status::paused)
        throw Error(EINVAL, "cannot resume container \"" + id + "\": it is " + status_name(status) + ", not paused");
    open_cgroup(st)->freeze(false);
}

cgroup::Stats container_stats(const RuntimeContext& ctx, const std::string& id, bool* stopped) {
    auto dir = StateDir::open(ctx.root, id, true);
    auto st = dir.load();
    auto cg = open_cgroup(st);
    bool is_stopped = current_status(st, dir, cg.get()) == Status::stopped;
    if (is_stopped && !stopped) throw Error(ESRCH, "events of container \"" + id + "\": container not running");
    if (st.cgroup_path.empty())
        throw Error(ENOTSUP, "events: container \"" + id + "\" has no cgroup of its own (rootless)");
    if (stopped) *stopped = is_stopped;
    return cg->stats();
}

std::vector<pid_t> container_pids(const RuntimeContext& ctx, const std::string& id) {
    auto dir = StateDir::open(ctx.root, id, true);
    auto st = dir.load();
    if (st.cgroup_path.empty()) {
        // No cgroup of its own (rootless): the init is all we know of.
        if (current_status(st, dir) == Status::stopped) return {};
        return {st.pid};
    }
    return open_cgroup(st)->pids();
}

ContainerInfo container_info(const RuntimeContext& ctx, const std::string& id) {
    auto dir = StateDir::open(ctx.root, id, true);
    ContainerInfo info;
    info.state = dir.load();
    info.status = current_status(info.state, dir);
    return info;
}

std::vector<ContainerInfo> list_containers(const RuntimeContext& ctx) {
    std::vector<ContainerInfo> out;
    for (const auto& id : list_ids(ctx.root)) {
        try {
            out.push_back(container_info(ctx, id));
        } catch (const Error& e) {
            // Removed while we listed: not an error.
            if (e.err() != ENOENT) throw;
        }
    }
    return out;
}

int parse_signal(const std::string& s) {
    if (s.empty()) throw Error(EINVAL, "empty signal");
    if (s.find_first_not_of("0123456789") == std::string::npos) {
        // 0 sends nothing: kill(2)'s check that the process is there.
        int n = s.size() > 3 ? NSIG : std::stoi(s);
        if (n >= NSIG) throw Error(EINVAL, "invalid signal number " + s);
        return n;
    }
    std::string name = s;
    for (auto& c : name) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
    if (name.starts_with("SIG")) name = name.substr(3);
    for (int n = 1; n < NSIG; ++n) {
        const char* abbrev = sigabbrev_np(n);
        if (abbrev && name == abbrev) return n;
    }
    if (name.starts_with("RTMIN")) {
        int off = name.size() > 5 ? std::stoi(name.substr(5)) : 0;
        if (SIGRTMIN + off <= SIGRTMAX) return SIGRTMIN + off;
    }
    throw Error(EINVAL, "unknown signal \"" + s + "\"");
}

} // namespace berth
