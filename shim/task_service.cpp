#include "task_service.hpp"

#include "berth_config.h"
#include "error.hpp"
#include "events.pb.h"
#include "file_util.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "monitor.pb.h"
#include "mount_options.hpp"
#include "pod_service.hpp"
#include "proc.hpp"
#include "rpc_error.hpp"
#include "task.pb.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace berth::shim {

namespace pb = berth::task;
namespace ev = berth::events;
using berth::ttrpc::Code;

namespace {

// containerd's runc options (containerd.runc.v1.Options, which containerd
// sends for its runc shims and berthd for its pods): systemd_cgroup is
// field 9, a bool. Read from the wire, so no copy of the message is kept;
// every other field is runc's binary's business, not ours.
bool runc_systemd_cgroup(const berth::ttrpc::Any& options) {
    if (!options.type_url().ends_with("containerd.runc.v1.Options")) return false;
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(options.value().data()),
                                              static_cast<int>(options.value().size()));
    bool systemd = false;
    while (uint32_t tag = in.ReadTag()) {
        if (tag == (9u << 3)) {   // field 9, varint
            uint64_t v = 0;
            if (!in.ReadVarint64(&v)) break;
            systemd = v != 0;
        } else if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) {
            break;
        }
    }
    return systemd;
}

timespec now() {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return ts;
}

void set_ts(berth::ttrpc::Timestamp* t, const timespec& ts) {
    t->set_seconds(ts.tv_sec);
    t->set_nanos(static_cast<int32_t>(ts.tv_nsec));
}

// The created process inherits our fds 0-2 (libberth clones it from us):
// lend them the process's stdio for the call. berth-shim is single-threaded
// and its own 0-2 are /dev/null, so nothing else sees the swap.
class StdioSwap {
public:
    StdioSwap(const ChildStdio& c) {
        int fds[3] = {c.in.get(), c.out.get(), c.err.get()};
        for (int i = 0; i < 3; ++i) {
            saved_[i] = ::fcntl(i, F_DUPFD_CLOEXEC, 3);
            if (saved_[i] < 0) throw_errno("save fd " + std::to_string(i));
            if (fds[i] >= 0 && ::dup2(fds[i], i) < 0) throw_errno("stdio for the process");
        }
    }
    ~StdioSwap() {
        for (int i = 0; i < 3; ++i) {
            if (saved_[i] < 0) continue;
            ::dup2(saved_[i], i);
            ::close(saved_[i]);
        }
    }
    StdioSwap(const StdioSwap&) = delete;
    StdioSwap& operator=(const StdioSwap&) = delete;

private:
    int saved_[3] = {-1, -1, -1};
};

sigset_t empty_mask() {
    sigset_t s;
    sigemptyset(&s);
    return s;
}

uint32_t wait_status(int ws) {
    if (WIFEXITED(ws)) return static_cast<uint32_t>(WEXITSTATUS(ws));
    if (WIFSIGNALED(ws)) return 128u + static_cast<uint32_t>(WTERMSIG(ws));
    return 255;
}

template <class Msg>
Msg parse(const std::string& payload) {
    Msg m;
    if (!m.ParseFromString(payload)) fail(berth::ttrpc::invalid_argument, "malformed request");
    return m;
}

pb::Status status_of(const TaskService::Process& p, bool paused) {
    if (p.exited) return pb::STOPPED;
    if (!p.started) return pb::CREATED;
    return paused ? pb::PAUSED : pb::RUNNING;
}

} // namespace

std::string exit_record_path(const std::string& bundle) { return bundle + "/init.exit"; }
// Present once the OOM killer killed a process of the container.
std::string oom_record_path(const std::string& bundle) { return bundle + "/init.oom"; }

std::optional<ExitRecord> read_exit_record(const std::string& path) {
    std::string text;
    try {
        text = read_file(path);
    } catch (const Error&) {
        return std::nullopt;
    }
    ExitRecord r;
    long long sec = 0, nsec = 0;
    unsigned st = 0;
    int pid = 0;
    if (std::sscanf(text.c_str(), "%u %lld %lld %d", &st, &sec, &nsec, &pid) != 4) return std::nullopt;
    r.status = st;
    r.at.tv_sec = sec;
    r.at.tv_nsec = nsec;
    r.pid = pid;
    return r;
}

unsigned mount_rootfs(const std::vector<std::tuple<std::string, std::string, std::vector<std::string>>>& mounts,
                      const std::string& target) {
    unsigned done = 0;
    try {
        for (const auto& [type, source, options] : mounts) {
            MountOptions mo = parse_mount_options(options);
            bool bind = type == "bind" || type == "rbind" || mo.bind();
            unsigned long flags = mo.flags;
            if (bind) {
                unsigned long bflags = MS_BIND | (flags & MS_REC) | (type == "rbind" ? MS_REC : 0);
                if (::mount(source.c_str(), target.c_str(), nullptr, bflags, nullptr) < 0)
                    throw_errno("bind mount " + source + " on " + target);
                ++done;
                unsigned long rest = flags & ~(MS_BIND | MS_REC);
                if (rest && ::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_BIND | rest, nullptr) < 0)
                    throw_errno("remount " + target);
            } else {
                if (::mount(source.c_str(), target.c_str(), type.c_str(), flags,
                            mo.data.empty() ? nullptr : mo.data.c_str()) < 0)
                    throw_errno("mount " + type + " " + source + " on " + target);
                ++done;
            }
            if (mo.propagation && ::mount(nullptr, target.c_str(), nullptr, mo.propagation, nullptr) < 0)
                throw_errno("set propagation of " + target);
        }
    } catch (...) {
        for (; done > 0; --done) ::umount2(target.c_str(), MNT_DETACH);
        throw;
    }
    return done;
}

void unmount_rootfs(const std::string& target) {
    // Everything stacked there, whatever the count recorded.
    for (int i = 0; i < 64; ++i) {
        if (::umount2(target.c_str(), MNT_DETACH) < 0) break;
    }
}

TaskService::TaskService(EventLoop& loop, RuntimeContext ctx, std::string ns, Publisher& pub)
    : loop_(loop), ctx_(std::move(ctx)), ns_(std::move(ns)), pub_(pub), oom_(loop, [this](const std::string& id) {
          // Kept in the bundle for berthd, which reads it at the exit: a
          // systemd scope's cgroup (and its memory.events) goes with the
          // container's last process.
          if (Container* c = find(id)) {
              try {
                  write_file_atomic(oom_record_path(c->bundle), "", 0600);
              } catch (const Error& e) {
                  log_error("record OOM: " + std::string(e.what()));
              }
          }
          ev::TaskOOM e;
          e.set_container_id(id);
          pub_.publish("/tasks/oom", "TaskOOM", e);
      }) {}

TaskService::~TaskService() = default;

TaskService::Container& TaskService::container(const std::string& id) {
    auto it = containers_.find(id);
    if (it == containers_.end()) fail(berth::ttrpc::not_found, "container " + id + ": not found");
    return *it->second;
}

StdioRequest TaskService::stdio_request(const Container& c, const Process& p) const {
    StdioRequest r;
    r.in = p.in;
    r.out = p.out;
    r.err = p.err;
    r.terminal = p.terminal;
    r.container_id = c.id;
    r.ns = ns_;
    return r;
}

TaskService::Process& TaskService::process(Container& c, const std::string& exec_id) {
    if (exec_id.empty()) return c.init;
    auto it = c.execs.find(exec_id);
    if (it == c.execs.end()) fail(berth::ttrpc::not_found, "process " + exec_id + ": not found");
    return *it->second;
}

void TaskService::handle(const CallRef& call, const berth::ttrpc::Request& req) {
    // Exits first, so a call sees the latest state of every process.
    reap();
    const std::string& svc = req.service();
    berth::ttrpc::Response resp;
    const bool monitor = svc == "berth.shim.v1.Monitor";
    const bool pod = pod_ && svc == "berth.shim.v1.Pod";
    if (!monitor && !pod && svc != "containerd.task.v2.Task" && svc != "containerd.task.v3.Task") {
        server_->reply_error(call, berth::ttrpc::unimplemented, "service " + svc + " not implemented");
        return;
    }
    log_debug("ttrpc " + req.method());
    try {
        bool deferred = false;
        std::string out = monitor ? dispatch_monitor(req.method(), req.payload())
                          : pod   ? pod_->dispatch(call, req.method(), req.payload(), deferred)
                                  : dispatch(call, req.method(), req.payload(), deferred);
        if (deferred) return;
        resp.set_payload(out);
        server_->reply(call, resp);
    } catch (const RpcError& e) {
        log_debug(req.method() + ": " + e.message);
        server_->reply_error(call, e.code, e.message);
    } catch (const Error& e) {
        log_error(req.method() + ": " + e.what());
        server_->reply_error(call, berth::ttrpc::code_for_errno(e.err()), e.what());
    } catch (const std::exception& e) {
        log_error(req.method() + ": " + e.what());
        server_->reply_error(call, berth::ttrpc::unknown, e.what());
    }
    if (shutdown_requested_ && containers_.empty()) loop_.stop();
}

std::string TaskService::dispatch_monitor(const std::string& m, const std::string& payload) {
    if (m == "Attach") {
        auto r = parse<berth::shim::v1::AttachRequest>(payload);
        Process& p = process(container(r.id()), r.exec_id());
        if (p.reaped || !p.io) fail(berth::ttrpc::failed_precondition, "attach " + r.id() + "/" + r.exec_id() + ": the process has exited");
        AttachOptions o;
        o.in = r.stdin();
        o.out = r.stdout();
        o.err = r.stderr();
        o.stdin_once = r.stdin_once();
        p.io->attach(r.socket(), o);
        return berth::ttrpc::Empty().SerializeAsString();
    }
    if (m == "ReopenLog") {
        auto r = parse<berth::shim::v1::ReopenLogRequest>(payload);
        Process& p = process(container(r.id()), r.exec_id());
        if (p.exited) return berth::ttrpc::Empty().SerializeAsString();   // nothing writes to it any more
        if (!p.io) fail(berth::ttrpc::failed_precondition, "reopen log " + r.id() + "/" + r.exec_id() + ": not started");
        p.io->reopen_log();
        return berth::ttrpc::Empty().SerializeAsString();
    }
    fail(berth::ttrpc::unimplemented, "berth.shim.v1.Monitor/" + m + " not implemented");
}

std::string TaskService::dispatch(const CallRef& call, const std::string& m, const std::string& payload,
                                  bool& deferred) {
    const sigset_t none = empty_mask();

    if (m == "Create") {
        auto r = parse<pb::CreateTaskRequest>(payload);
        if (containers_.count(r.id())) fail(berth::ttrpc::already_exists, "container " + r.id() + ": already exists");
        if (!r.checkpoint().empty()) fail(berth::ttrpc::unimplemented, "create from a checkpoint: not implemented");
        auto c = std::make_unique<Container>();
        c->id = r.id();
        c->bundle = r.bundle();
        if (r.rootfs_size() > 0) {
            std::vector<std::tuple<std::string, std::string, std::vector<std::string>>> ms;
            for (const auto& mt : r.rootfs())
                ms.emplace_back(mt.type(), mt.source(), std::vector<std::string>(mt.options().begin(), mt.options().end()));
            c->rootfs = r.bundle() + "/rootfs";
            c->rootfs_mounts = mount_rootfs(ms, c->rootfs);
        }
        struct Unmount {
            Container* c;
            ~Unmount() {
                if (c && !c->rootfs.empty()) unmount_rootfs(c->rootfs);
            }
        } unmount{c.get()};
        Process& p = c->init;
        p.in = r.stdin();
        p.out = r.stdout();
        p.err = r.stderr();
        p.terminal = r.terminal();
        ChildStdio child;
        p.io = ProcessIo::open(loop_, stdio_request(*c, p), child);
        CreateOptions o;
        o.bundle = r.bundle();
        if (p.terminal) o.console_fd = child.console.get();
        // The driver is per container (containerd's runc options); the
        // shim's context is copied only when it differs.
        std::optional<RuntimeContext> systemd_ctx;
        if (runc_systemd_cgroup(r.options())) {
            systemd_ctx = ctx_;
            systemd_ctx->cgroup_driver = cgroup::Driver::systemd;
        }
        {
            StdioSwap swap(child);
            p.pid = create_container(systemd_ctx ? *systemd_ctx : ctx_, c->id, o, &none);
        }
        child = ChildStdio();
        try {
            p.io->start();
        } catch (...) {
            try {
                delete_container(ctx_, c->id, true);
            } catch (...) {
            }
            ::waitpid(p.pid, nullptr, WNOHANG);
            throw;
        }
        unmount.c = nullptr;
        ev::TaskCreate e;
        e.set_container_id(c->id);
        e.set_bundle(c->bundle);
        *e.mutable_rootfs() = r.rootfs();
        e.mutable_io()->set_stdin(p.in);
        e.mutable_io()->set_stdout(p.out);
        e.mutable_io()->set_stderr(p.err);
        e.mutable_io()->set_terminal(p.terminal);
        e.set_pid(static_cast<uint32_t>(p.pid));
        pb::CreateTaskResponse resp;
        resp.set_pid(static_cast<uint32_t>(p.pid));
        log_info("created " + c->id + " pid " + std::to_string(p.pid));
        try {
            oom_.watch(c->id, *open_cgroup(container_info(ctx_, c->id).state));
        } catch (const Error& err) {
            log_error("watch " + c->id + " for OOM: " + err.what());
        }
        containers_[c->id] = std::move(c);
        served_ = true;
        pub_.publish("/tasks/create", "TaskCreate", e);
        return resp.SerializeAsString();
    }

    if (m == "Start") {
        auto r = parse<pb::StartRequest>(payload);
        Container& c = container(r.id());
        Process& p = process(c, r.exec_id());
        if (p.started) fail(berth::ttrpc::failed_precondition, "process " + r.id() + "/" + r.exec_id() + " already started");
        if (r.exec_id().empty()) {
            start_container(ctx_, c.id);
            p.started = true;
            ev::TaskStart e;
            e.set_container_id(c.id);
            e.set_pid(static_cast<uint32_t>(p.pid));
            pub_.publish("/tasks/start", "TaskStart", e);
        } else {
            if (c.init.reaped) fail(berth::ttrpc::failed_precondition, "container " + c.id + " is stopped");
            ChildStdio child;
            p.io = ProcessIo::open(loop_, stdio_request(c, p), child);
            spec::Process proc = *p.spec;
            proc.terminal = p.terminal;
            pid_t pid = spawn_exec(c.id, std::move(proc), child);
            child = ChildStdio();
            p.pid = pid;
            try {
                p.io->start();
            } catch (...) {
                // Without its stdio the exec is of no use: gone, not half-started.
                ::kill(pid, SIGKILL);
                while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
                }
                p.pid = 0;
                p.io.reset();
                throw;
            }
            p.started = true;
            p.spec.reset();
            ev::TaskExecStarted e;
            e.set_container_id(c.id);
            e.set_exec_id(p.exec_id);
            e.set_pid(static_cast<uint32_t>(p.pid));
            pub_.publish("/tasks/exec-started", "TaskExecStarted", e);
        }
        pb::StartResponse resp;
        resp.set_pid(static_cast<uint32_t>(p.pid));
        return resp.SerializeAsString();
    }

    if (m == "Delete") {
        auto r = parse<pb::DeleteRequest>(payload);
        Container& c = container(r.id());
        Process& p = process(c, r.exec_id());
        if (p.started && !p.exited)
            fail(berth::ttrpc::failed_precondition, "cannot delete running process " + r.id() + "/" + r.exec_id());
        pb::DeleteResponse resp;
        if (!r.exec_id().empty()) {
            resp.set_pid(static_cast<uint32_t>(p.pid));
            resp.set_exit_status(p.exit_status);
            set_ts(resp.mutable_exited_at(), p.exited_at);
            c.execs.erase(r.exec_id());
            return resp.SerializeAsString();
        }
        // The init: a created one is killed here (as runc's delete --force).
        try {
            delete_container(ctx_, c.id, true);
        } catch (const Error& e) {
            if (e.err() != ENOENT) throw;
        }
        if (!p.exited) {
            // Never started: nothing of its output is worth waiting for.
            if (!p.reaped) {
                int ws = 0;
                if (p.pid > 0 && ::waitpid(p.pid, &ws, 0) == p.pid) p.exit_status = wait_status(ws);
                else p.exit_status = 128 + SIGKILL;
                p.reaped = true;
                p.exited_at = now();
            }
            p.exited = true;
            if (p.io) p.io->finish();
            answer_waiters(p);
        }
        resp.set_pid(static_cast<uint32_t>(p.pid));
        resp.set_exit_status(p.exit_status);
        set_ts(resp.mutable_exited_at(), p.exited_at);
        ev::TaskDelete e;
        e.set_container_id(c.id);
        e.set_pid(static_cast<uint32_t>(p.pid));
        e.set_exit_status(p.exit_status);
        set_ts(e.mutable_exited_at(), p.exited_at);
        remove_container(c);
        pub_.publish("/tasks/delete", "TaskDelete", e);
        return resp.SerializeAsString();
    }

    if (m == "Exec") {
        auto r = parse<pb::ExecProcessRequest>(payload);
        Container& c = container(r.id());
        if (c.init.reaped) fail(berth::ttrpc::failed_precondition, "container " + c.id + " is stopped");
        if (r.exec_id().empty() || c.execs.count(r.exec_id()))
            fail(berth::ttrpc::already_exists, "exec " + r.exec_id() + ": already exists");
        auto p = std::make_unique<Process>();
        p->exec_id = r.exec_id();
        p->in = r.stdin();
        p->out = r.stdout();
        p->err = r.stderr();
        p->terminal = r.terminal();
        // The spec travels as JSON (containerd's typeurl for non-protobuf types).
        p->spec = spec::parse_process(r.spec().value(), "exec spec");
        c.execs[p->exec_id] = std::move(p);
        ev::TaskExecAdded e;
        e.set_container_id(c.id);
        e.set_exec_id(r.exec_id());
        pub_.publish("/tasks/exec-added", "TaskExecAdded", e);
        return berth::ttrpc::Empty().SerializeAsString();
    }

    if (m == "State") {
        auto r = parse<pb::StateRequest>(payload);
        Container& c = container(r.id());
        Process& p = process(c, r.exec_id());
        bool paused = false;
        if (r.exec_id().empty() && p.started && !p.reaped) {
            try {
                paused = container_info(ctx_, c.id).status == Status::paused;
            } catch (const Error&) {
            }
        }
        pb::StateResponse resp;
        resp.set_id(p.exec_id.empty() ? c.id : p.exec_id);
        resp.set_bundle(c.bundle);
        resp.set_pid(static_cast<uint32_t>(p.pid));
        resp.set_status(status_of(p, paused));
        resp.set_stdin(p.in);
        resp.set_stdout(p.out);
        resp.set_stderr(p.err);
        resp.set_terminal(p.terminal);
        resp.set_exit_status(p.exit_status);
        if (p.exited) set_ts(resp.mutable_exited_at(), p.exited_at);
        resp.set_exec_id(p.exec_id);
        return resp.SerializeAsString();
    }

    if (m == "Kill") {
        auto r = parse<pb::KillRequest>(payload);
        Container& c = container(r.id());
        Process& p = process(c, r.exec_id());
        int sig = static_cast<int>(r.signal());
        if (p.reaped || p.pid <= 0) {
            if (r.all() && r.exec_id().empty()) return berth::ttrpc::Empty().SerializeAsString();
            fail(berth::ttrpc::not_found, "process already finished");
        }
        if (r.exec_id().empty()) {
            kill_container(ctx_, c.id, sig, r.all());
        } else if (::kill(p.pid, sig) < 0) {
            // Still our unreaped child, so the pid cannot have been reused.
            throw_errno("kill exec " + p.exec_id);
        }
        return berth::ttrpc::Empty().SerializeAsString();
    }

    if (m == "Pids") {
        auto r = parse<pb::PidsRequest>(payload);
        Container& c = container(r.id());
        pb::PidsResponse resp;
        for (pid_t pid : container_pids(ctx_, c.id)) resp.add_processes()->set_pid(static_cast<uint32_t>(pid));
        return resp.SerializeAsString();
    }

    if (m == "Pause" || m == "Resume") {
        auto r = parse<pb::PauseRequest>(payload);   // same shape as ResumeRequest
        Container& c = container(r.id());
        if (m == "Pause") {
            pause_container(ctx_, c.id);
            ev::TaskPaused e;
            e.set_container_id(c.id);
            pub_.publish("/tasks/paused", "TaskPaused", e);
        } else {
            resume_container(ctx_, c.id);
            ev::TaskResumed e;
            e.set_container_id(c.id);
            pub_.publish("/tasks/resumed", "TaskResumed", e);
        }
        return berth::ttrpc::Empty().SerializeAsString();
    }

    if (m == "CloseIO") {
        auto r = parse<pb::CloseIORequest>(payload);
        Process& p = process(container(r.id()), r.exec_id());
        if (r.stdin() && p.io) p.io->close_stdin();
        return berth::ttrpc::Empty().SerializeAsString();
    }

    if (m == "ResizePty") {
        auto r = parse<pb::ResizePtyRequest>(payload);
        Process& p = process(container(r.id()), r.exec_id());
        if (p.io) p.io->resize(r.width(), r.height());
        return berth::ttrpc::Empty().SerializeAsString();
    }

    if (m == "Update") {
        auto r = parse<pb::UpdateTaskRequest>(payload);
        Container& c = container(r.id());
        // LinuxResources as JSON (containerd's typeurl for the OCI types).
        update_container(ctx_, c.id, spec::parse_resources(r.resources().value(), "resources"));
        return berth::ttrpc::Empty().SerializeAsString();
    }

    if (m == "Wait") {
        auto r = parse<pb::WaitRequest>(payload);
        Process& p = process(container(r.id()), r.exec_id());
        if (!p.exited) {
            p.waiters.push_back(call);
            deferred = true;
            return {};
        }
        pb::WaitResponse resp;
        resp.set_exit_status(p.exit_status);
        set_ts(resp.mutable_exited_at(), p.exited_at);
        return resp.SerializeAsString();
    }

    if (m == "Connect") {
        auto r = parse<pb::ConnectRequest>(payload);
        pb::ConnectResponse resp;
        resp.set_shim_pid(static_cast<uint32_t>(::getpid()));
        auto it = containers_.find(r.id());
        if (it != containers_.end()) resp.set_task_pid(static_cast<uint32_t>(it->second->init.pid));
        resp.set_version("berth-shim " BERTH_VERSION);
        return resp.SerializeAsString();
    }

    if (m == "Shutdown") {
        auto r = parse<pb::ShutdownRequest>(payload);
        // Only an empty shim goes (one shim may hold a whole pod). berthd's
        // pod shim says why it stays; containerd's expects no error.
        if (pod_ && !r.now()) {
            if (!containers_.empty())
                fail(berth::ttrpc::failed_precondition, "shutdown: " + std::to_string(containers_.size()) +
                                                            " container(s) left, " + containers_.begin()->first +
                                                            " first: delete them first");
            if (auto why = pod_->busy(); !why.empty()) fail(berth::ttrpc::failed_precondition, "shutdown: " + why);
        }
        if (containers_.empty() || r.now()) shutdown_requested_ = true;
        if (r.now() && (!containers_.empty() || pod_)) teardown();
        return berth::ttrpc::Empty().SerializeAsString();
    }

    if (m == "Stats") {
        auto r = parse<pb::StatsRequest>(payload);
        Container& c = container(r.id());
        bool v2 = cgroup::unified_mode(cgroup::host_hierarchies());
        bool stopped = false;
        auto st = container_stats(ctx_, c.id, &stopped);
        auto mt = v2 ? metrics_v2(st) : metrics_v1(st);
        pb::StatsResponse resp;
        resp.mutable_stats()->set_type_url(mt.type_url);
        resp.mutable_stats()->set_value(mt.value);
        return resp.SerializeAsString();
    }
    if (m == "Checkpoint") fail(berth::ttrpc::unimplemented, "checkpoint: not implemented by berth-shim");
    fail(berth::ttrpc::unimplemented, "method " + m + " not implemented");
}

void TaskService::reap() {
    std::vector<std::string> touched;
    for (;;) {
        int ws = 0;
        pid_t pid = ::waitpid(-1, &ws, WNOHANG);
        if (pid <= 0) break;
        bool owned = false;
        for (auto& [id, c] : containers_) {
            Process* hit = nullptr;
            if (c->init.pid == pid && !c->init.reaped) hit = &c->init;
            for (auto& [eid, e] : c->execs)
                if (e->pid == pid && !e->reaped) hit = e.get();
            if (hit) {
                collected(*c, *hit, ws);
                touched.push_back(id);
                owned = true;
                break;
            }
        }
        if (!owned && pod_) pod_->collected(pid, ws);
        // Anything else was an orphan re-parented to us (we are a subreaper).
    }
    for (const auto& id : touched) settle(id);
}

void TaskService::collected(Container& c, Process& p, int ws) {
    p.reaped = true;
    p.exit_status = wait_status(ws);
    p.exited_at = now();
    // Everything it wrote reaches the FIFOs before its exit is told; the
    // loop serves the pod's other containers meanwhile.
    if (p.io) p.io->drain([this, id = c.id] { settle(id); });
}

// Report the exits whose output has drained: a container's execs before
// its init (containerd's order: a client may delete the container once
// its init's exit is told, and would miss the execs' exits).
void TaskService::settle(const std::string& id) {
    auto it = containers_.find(id);
    if (it == containers_.end()) return;
    Container& c = *it->second;
    auto ready = [](const Process& p) { return p.reaped && !p.exited && (!p.io || p.io->drained()); };
    bool exec_draining = false;
    for (auto& [eid, e] : c.execs) {
        if (ready(*e)) exited(c, *e);
        else if (e->reaped && !e->exited) exec_draining = true;
    }
    if (ready(c.init) && !exec_draining) exited(c, c.init);
}

void TaskService::exited(Container& c, Process& p) {
    p.exited = true;
    // An OOM kill is told before the exit it caused.
    oom_.check(c.id);
    if (p.exec_id.empty()) {
        char rec[96];
        std::snprintf(rec, sizeof rec, "%u %lld %ld %d\n", p.exit_status, static_cast<long long>(p.exited_at.tv_sec),
                      p.exited_at.tv_nsec, p.pid);
        try {
            write_file_atomic(exit_record_path(c.bundle), rec, 0600);
        } catch (const Error& e) {
            log_error("record exit: " + std::string(e.what()));
        }
    }
    log_info(c.id + "/" + p.exec_id + " exited with status " + std::to_string(p.exit_status));
    ev::TaskExit e;
    e.set_container_id(c.id);
    e.set_id(p.exec_id.empty() ? c.id : p.exec_id);
    e.set_pid(static_cast<uint32_t>(p.pid));
    e.set_exit_status(p.exit_status);
    set_ts(e.mutable_exited_at(), p.exited_at);
    pub_.publish("/tasks/exit", "TaskExit", e);
    answer_waiters(p);
}

void TaskService::answer_waiters(Process& p) {
    pb::WaitResponse resp;
    resp.set_exit_status(p.exit_status);
    set_ts(resp.mutable_exited_at(), p.exited_at);
    berth::ttrpc::Response r;
    r.set_payload(resp.SerializeAsString());
    for (const auto& w : p.waiters) server_->reply(w, r);
    p.waiters.clear();
}

void TaskService::remove_container(Container& c) {
    // Output still draining is cut short; those exits are told now.
    for (auto& [eid, e] : c.execs) {
        if (e->io) e->io->finish();
        if (e->reaped && !e->exited) exited(c, *e);
    }
    if (c.init.io) c.init.io->finish();
    if (c.init.reaped && !c.init.exited) exited(c, c.init);
    oom_.unwatch(c.id);
    ::unlink(exit_record_path(c.bundle).c_str());
    ::unlink(oom_record_path(c.bundle).c_str());
    if (!c.rootfs.empty()) unmount_rootfs(c.rootfs);
    containers_.erase(c.id);
}

void TaskService::teardown() {
    std::vector<std::string> ids;
    for (auto& [id, c] : containers_) ids.push_back(id);
    for (const auto& id : ids) {
        try {
            delete_container(ctx_, id, true);
        } catch (const std::exception& e) {
            log_error("teardown " + id + ": " + e.what());
        }
        reap();
        auto it = containers_.find(id);
        if (it != containers_.end()) remove_container(*it->second);
    }
    // The pod init last: its exit waits for its pid namespace to empty.
    if (pod_) pod_->teardown();
}

TaskService::Container* TaskService::find(const std::string& id) {
    auto it = containers_.find(id);
    return it == containers_.end() ? nullptr : it->second.get();
}

pid_t TaskService::spawn_exec(const std::string& id, spec::Process proc, const ChildStdio& child) {
    const sigset_t none = empty_mask();
    ExecOptions eo;
    eo.process = std::move(proc);
    eo.detach = true;
    eo.sigmask = &none;
    pid_t pid = 0;
    eo.pid_out = &pid;
    if (eo.process.terminal) eo.console_fd = child.console.get();
    StdioSwap swap(child);
    exec_container(ctx_, id, eo);
    return pid;
}

} // namespace berth::shim
