#include "cgroup.hpp"
#include "container.hpp"
#include "error.hpp"
#include "hooks.hpp"
#include "exe_guard.hpp"
#include "file_util.hpp"
#include "init.hpp"
#include "mount_options.hpp"
#include "namespaces.hpp"
#include "notify_socket.hpp"
#include "proc.hpp"
#include "seccomp.hpp"
#include "terminal.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

namespace berth {

namespace {

std::string real_path(const std::string& p, const std::string& what) {
    char buf[PATH_MAX];
    if (!::realpath(p.c_str(), buf)) throw_errno(what + " " + p);
    return buf;
}

// The caller's user name from /etc/passwd (read directly: berth is linked
// statically, where glibc's NSS lookups are unavailable).
std::string owner_name() {
    std::string uid = std::to_string(::geteuid());
    try {
        auto text = read_file("/etc/passwd");
        size_t pos = 0;
        while (pos < text.size()) {
            size_t end = text.find('\n', pos);
            if (end == std::string::npos) end = text.size();
            std::string_view line(text.data() + pos, end - pos);
            auto c1 = line.find(':'), c2 = line.find(':', c1 + 1), c3 = line.find(':', c2 + 1);
            if (c3 != std::string_view::npos && line.substr(c2 + 1, c3 - c2 - 1) == uid)
                return std::string(line.substr(0, c1));
            pos = end + 1;
        }
    } catch (const Error&) {
    }
    return uid;
}

bool same_ns(const std::string& a, const std::string& b) {
    struct stat sa, sb;
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

// Namespaced sysctls joined by path: the namespace must not be the host's
// own, or the write would change the host (validation checked the rest).
void check_sysctl_namespaces(const spec::Linux& lin) {
    for (const auto& [key, value] : lin.sysctl) {
        spec::NsType t = spec::NsType::network;
        const char* host = "/proc/self/ns/net";
        if (key.rfind("net.", 0) != 0) {
            bool uts = key == "kernel.hostname" || key == "kernel.domainname";
            t = uts ? spec::NsType::uts : spec::NsType::ipc;
            host = uts ? "/proc/self/ns/uts" : "/proc/self/ns/ipc";
        }
        const auto* ns = lin.find_ns(t);
        if (ns && !ns->path.empty() && same_ns(ns->path, host))
            throw Error(EINVAL, "linux.sysctl[\"" + key + "\"]: the " + std::string(spec::ns_type_name(t)) +
                                    " namespace joined is the host's; setting it would change the host");
    }
}

// Without a mount namespace of its own the container shares the runtime's
// (the spec allows that): whatever would mount, mask or make read-only there
// would do it to the host's mounts, so those fields are refused.
void refuse_host_mount_changes(const spec::Config& cfg, bool no_pivot, const std::string& bundle) {
    const auto& lin = *cfg.linux;
    if (lin.find_ns(spec::NsType::mount)) return;
    auto refuse = [&](const std::string& field) {
        throw Error(EINVAL, bundle + "/config.json: " + field +
                                ": needs a mount namespace of the container's own (linux.namespaces has no \"mount\"); "
                                "without one it would change the host's mounts");
    };
    if (!cfg.mounts.empty()) refuse("mounts");
    if (!lin.maskedPaths.empty()) refuse("linux.maskedPaths");
    if (!lin.readonlyPaths.empty()) refuse("linux.readonlyPaths");
    if (cfg.root.readonly) refuse("root.readonly");
    if (!lin.rootfsPropagation.empty()) refuse("linux.rootfsPropagation");
    if (!lin.devices.empty()) refuse("linux.devices");
    if (no_pivot) refuse("--no-pivot");
}

// A user namespace's root can't open bind sources its host uid could not (a
// 0700 host dir): like runc, clone them here with the runtime's credentials
// (open_tree), for the init to attach. Index-aligned with cfg.mounts.
std::vector<UniqueFd> clone_bind_sources(const spec::Config& cfg, const std::string& bundle) {
    std::vector<UniqueFd> fds(cfg.mounts.size());
    for (size_t i = 0; i < cfg.mounts.size(); ++i) {
        const auto& m = cfg.mounts[i];
        auto o = parse_mount_options(m.options);
        if (m.type == "cgroup" || m.type == "cgroup2" || !(o.bind() || m.type == "bind")) continue;
        std::string src = m.source.empty() || m.source.front() == '/' ? m.source : bundle + "/" + m.source;
        unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((o.flags & MS_REC) ? AT_RECURSIVE : 0);
        fds[i].reset(::open_tree(AT_FDCWD, src.c_str(), flags));
        if (!fds[i]) throw_errno("mounts[" + std::to_string(i) + "] (" + m.destination + "): open bind source " + src);
    }
    return fds;
}

// Undoes a create that did not finish: the init, its cgroup, the state dir.
class CreateGuard {
public:
    explicit CreateGuard(StateDir& dir) : dir_(dir) {}
    ~CreateGuard() {
        if (done_) return;
        if (pidfd_) {
            pidfd_signal(pidfd_.get(), SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        try {
            if (cg_) cg_->destroy();
        } catch (...) {
        }
        try {
            dir_.remove();
        } catch (...) {
        }
    }
    void set_cgroup(cgroup::Manager* cg) { cg_ = cg; }
    void set_child(pid_t pid, int pidfd) { pid_ = pid; pidfd_.reset(pidfd); }
    void commit() { done_ = true; }

private:
    StateDir& dir_;
    cgroup::Manager* cg_ = nullptr;
    pid_t pid_ = 0;
    UniqueFd pidfd_;
    bool done_ = false;
};

} // namespace

pid_t create_container(const RuntimeContext& ctx, const std::string& id, const CreateOptions& opts,
                      const sigset_t* sigmask) {
    validate_id(id);
    std::string bundle = real_path(opts.bundle, "bundle");
    std::string config_text;
    std::vector<std::string> relaxed;
    spec::Config cfg = spec::load_bundle_config(bundle, &config_text, &relaxed);
    for (const auto& w : relaxed) if (ctx.log) ctx.log->warn(w);
    if (!cfg.process) throw Error(EINVAL, bundle + "/config.json: process: required to create a container");
    // CDI devices (annotations, NVIDIA_VISIBLE_DEVICES, runtime defaults):
    // the edited config is what runs, and what exec later starts from.
    if (cdi::apply_requested_cdi_devices(cfg, ctx.cdi)) {
        spec::validate_config(cfg, bundle);
        config_text = spec::to_json(cfg);
    }
    if (!cfg.linux) cfg.linux.emplace();
    const auto& lin = *cfg.linux;
    refuse_host_mount_changes(cfg, opts.no_pivot, bundle);
    if (cfg.process->terminal && opts.console_socket.empty() && opts.console_fd < 0)
        throw Error(EINVAL, "process.terminal is true: use --console-socket with create when a terminal is used");
    check_sysctl_namespaces(lin);
    std::string rootfs = real_path(cfg.root.path.front() == '/' ? cfg.root.path : bundle + "/" + cfg.root.path,
                                   "root.path");
    BERTH_DEBUG(ctx.log, "create " + id + ": loaded " + bundle + "/config.json, rootfs " + rootfs);

    require_protected_exe();

    std::unique_ptr<SeccompFilter> seccomp;
    if (lin.seccomp) {
        seccomp = SeccompFilter::build(*lin.seccomp, [&](const std::string& m) {
            if (ctx.log) ctx.log->debug(m);
        });
    }
    std::string created = rfc3339_now();
    StateDir dir = StateDir::create(ctx.root, id);
    std::unique_ptr<cgroup::Manager> cg;   // outlives the guard that may destroy it
    CreateGuard guard(dir);
    if (!host_notify_socket().empty()) notify_setup_spec(cfg, dir.path());

    // Rootless: without write access to the cgroup tree (no delegation) a
    // container with no limits simply gets no cgroup of its own, as with runc.
    bool rootless = ::geteuid() != 0;
    cg = cgroup::open_new(lin.cgroupsPath, id, ctx.cgroup_driver);
    guard.set_cgroup(cg.get());
    try {
        with_context("linux.cgroupsPath " + cg->path(), [&] { cg->create(); });
    } catch (const Error& e) {
        bool denied = e.err() == EACCES || e.err() == EPERM || e.err() == EROFS;
        if (!rootless || !denied) throw;
        if (lin.resources)
            throw Error(e.err(), "linux.resources: an unprivileged user cannot set cgroup limits here: " +
                                     std::string(e.what()));
        if (ctx.log) ctx.log->debug("rootless: no cgroup for the container: " + std::string(e.what()));
        cg->destroy();
        cg = cgroup::open("");
        guard.set_cgroup(cg.get());
    }

    // A cgroup that already existed: runc's checks. Frozen, the init
    // would stop in it and create would wait for it forever.
    std::string frozen = cg->frozen_reason();
    if (!frozen.empty())
        throw Error(EBUSY, "linux.cgroupsPath " + cg->path() + ": container's cgroup unexpectedly frozen (" + frozen +
                               "); thaw it or use another path");
    if (ctx.log && !cg->path().empty()) {
        const auto& made = cg->created();
        auto dirs = cg->dirs();
        bool fresh = !dirs.empty() && std::find(made.begin(), made.end(), dirs.front().second) != made.end();
        if (!fresh) {
            auto pids = cg->pids();
            if (!pids.empty())
                ctx.log->warn("linux.cgroupsPath " + cg->path() + ": container's cgroup is not empty: " +
                              std::to_string(pids.size()) + " process(es) found");
        }
    }

    if (lin.resources) cg->set(*lin.resources);
    BERTH_DEBUG(ctx.log, "create " + id + ": cgroup " + (cg->path().empty() ? "(none)" : cg->path()) + " ready");

    if (::mkfifo(dir.fifo_path().c_str(), 0622) < 0) throw_errno("create " + dir.fifo_path());
    // Read-write: the open does not wait for a writer, and the init's read
    // blocks until start writes (no poll needed under its seccomp filter).
    UniqueFd fifo(::open(dir.fifo_path().c_str(), O_RDWR | O_CLOEXEC));
    if (!fifo) throw_errno("open " + dir.fifo_path());

    UniqueFd console;
    if (cfg.process->terminal && opts.console_fd < 0) console = connect_console_socket(opts.console_socket);

    SyncSocket parent_end;
    InitArgs a;
    SyncSocket::pair(parent_end, a.sync);
    a.config = &cfg;
    a.id = id;
    a.rootfs = rootfs;
    a.bundle = bundle;
    a.fifo_fd = fifo.get();
    a.console_fd = console ? console.get() : (cfg.process->terminal ? opts.console_fd : -1);
    a.preserve_fds = opts.preserve_fds;
    a.no_pivot = opts.no_pivot;
    a.no_new_keyring = opts.no_new_keyring;
    a.debug = ctx.log && ctx.log->debug_enabled();
    a.userns = lin.find_ns(spec::NsType::user) != nullptr;
    auto cgns = lin.find_ns(spec::NsType::cgroup);
    a.new_cgroupns = cgns && cgns->path.empty();

    a.seccomp = seccomp.get();
    a.cgroup_dirs = cg->dirs();
    if (sigmask) a.sigmask = *sigmask;
    else ::sigprocmask(SIG_SETMASK, nullptr, &a.sigmask);

    auto parent_ns = prepare_parent_namespaces(lin);
    uint64_t flags = clone_flags(lin);
    // Inherited by the init through the clone; ours close when we return.
    std::vector<UniqueFd> bind_sources;
    if ((flags & CLONE_NEWUSER) && !rootless && (flags & CLONE_NEWNS)) {
        bind_sources = clone_bind_sources(cfg, bundle);
        for (const auto& fd : bind_sources) a.bind_sources.push_back(fd.get());
    }
    const auto& hk = cfg.hooks;
    a.hook_handshake = !hk.prestart.empty() || !hk.createRuntime.empty() || !hk.createContainer.empty() ||
                       !hk.startContainer.empty();
    a.setgroups_denied = rootless && (flags & CLONE_NEWUSER);
    a.parent_unprivileged = rootless;
    // In a new user namespace the init can't write the host's cgroupfs, and
    // some drivers place only from outside (systemd): the parent places it.
    bool early = cg->parent_places_init();
    bool init_joins = !(flags & CLONE_NEWUSER) && !early;
    if (init_joins) a.cgroup = cg.get();
    UniqueFd birth = cg->birth_fd();
    int pidfd = -1;
    pid_t pid = with_context("clone container init", [&] { return clone_pidfd(flags, &pidfd, birth.get()); });
    birth.reset();
    if (pid == 0) {
        // The child: drop the parent's copies of what it must not hold.
        parent_end.close();
        ::close(dir.fd());   // else the flock would outlive `create`
        container_init(a);
    }
    guard.set_child(pid, pidfd);
    BERTH_DEBUG(ctx.log, "create " + id + ": cloned the init, pid " + std::to_string(pid));
    parent_ns.restore();
    a.sync.close();
    ::close(fifo.release());
    console.reset();

    // A send fails only when the init already died: its error is queued
    // on the socket and read below.
    auto tell = [&](SyncType t) {
        try {
            parent_end.send(t);
        } catch (const Error&) {
        }
    };
    if (flags & CLONE_NEWUSER) write_id_maps(pid, lin, rootless);
    // Before go when the cgroup exists only once placed: the init mounts it.
    if (early) cg->add(pid, true);
    tell(SyncType::go);
    if (!init_joins && !early) cg->add(pid, true);
    if (cfg.process->oomScoreAdj) {
        with_context("process.oomScoreAdj", [&] {
            write_existing("/proc/" + std::to_string(pid) + "/oom_score_adj",
                           std::to_string(*cfg.process->oomScoreAdj));
        });
    }
    tell(SyncType::cgroup_joined);
    BERTH_DEBUG(ctx.log, "create " + id + ": init placed in its cgroup; waiting for its setup");
    // The state as hooks and the seccomp listener see it during create.
    ContainerState cs;
    cs.oci_version = cfg.ociVersion;
    cs.id = id;
    cs.pid = pid;
    cs.bundle = bundle;
    cs.rootfs = rootfs;
    cs.annotations = cfg.annotations;
    auto creating_state = [&] { return oci_state_json(cs, Status::creating, false); };
    for (;;) {
        auto m = parent_end.recv();
        if (m.type == SyncType::ready) break;
        if (m.type == SyncType::log) {
            if (ctx.log) ctx.log->log(static_cast<LogLevel>(m.level), m.text);
            continue;
        }
        if (m.type == SyncType::error) throw Error(m.err, m.text, m.level != 0);
        if (m.type == SyncType::seccomp_fd) {
            with_context("seccomp notify", [&] {
                send_to_seccomp_listener(*lin.seccomp, m.fd.get(), spec_state_json(cs, Status::creating), pid);
            });
            continue;
        }
        if (m.type == SyncType::hooks) {
            // In the runtime's namespaces, with the container's in place.
            auto state = creating_state();
            BERTH_DEBUG(ctx.log, "create " + id + ": running prestart and createRuntime hooks");
            run_hooks(hk.prestart, state, "prestart", bundle);
            run_hooks(hk.createRuntime, state, "createRuntime", bundle);
            try {
                parent_end.send(SyncType::hooks_done, 0, state);
            } catch (const Error&) {
                // The init is gone; its error is next on the socket.
            }
            continue;
        }
        throw Error(EPROTO, "unexpected message from container init");
    }

    ContainerState st;
    st.oci_version = cfg.ociVersion;
    st.id = id;
    st.pid = pid;
    auto ps = read_proc_stat(pid);
    if (!ps) throw Error(ESRCH, "container init exited during setup");
    st.pid_start = ps->start_time;
    st.bundle = bundle;
    st.rootfs = rootfs;
    st.created = created;
    st.owner = owner_name();
    st.annotations = cfg.annotations;
    st.cgroup_path = cg->path();
    st.cgroup_created = cg->created();
    st.cgroup_driver = cg->driver();
    st.cgroup_unit = cg->unit();
    auto pidns = lin.find_ns(spec::NsType::pid);
    st.own_pid_ns = pidns && pidns->path.empty();
    st.poststart = hk.poststart;
    st.poststop = hk.poststop;
    dir.save_config(config_text);
    dir.save(st);
    if (!opts.pid_file.empty()) {
        with_context("--pid-file", [&] { write_file_atomic(opts.pid_file, std::to_string(pid)); });
    }
    guard.commit();
    BERTH_DEBUG(ctx.log, "create " + id + ": created; the init waits for start");
    return pid;
}

} // namespace berth
