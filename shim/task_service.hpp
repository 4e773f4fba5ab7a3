// containerd's Task service (containerd.task.v2.Task and v3) over libberth,
// and berth's Monitor service (monitor.proto: attach, log reopen):
// the containers this shim owns, their init and exec processes, stdio,
// exits (recorded in the bundle, containerd's per-task state dir) and the
// events containerd expects, in its order (create, start, exit, delete;
// exec added, exec started, exit).
#pragma once

#include "container.hpp"
#include "event_loop.hpp"
#include "io_relay.hpp"
#include "oom_watcher.hpp"
#include "publisher.hpp"
#include "server.hpp"

#include <time.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace berth::shim {

class PodService;

class TaskService {
public:
    TaskService(EventLoop& loop, RuntimeContext ctx, std::string ns, Publisher& pub);
    ~TaskService();
    void set_server(TtrpcServer* s) { server_ = s; }
    // berthd's pod shim (-pod): serve berth.shim.v1.Pod too; Shutdown waits
    // for the pod's namespaces to be unpinned.
    void set_pod(PodService* p) { pod_ = p; }
    void handle(const CallRef& call, const berth::ttrpc::Request& req);
    // SIGCHLD: reap every exited child; for the ones we own, drain their
    // output, then record and report their exits (settle).
    void reap();
    // No container left: the shim may exit once asked to shut down.
    bool empty() const { return containers_.empty(); }
    // Whether a container was ever created here.
    bool served_containers() const { return served_; }
    // SIGTERM to the shim: kill and delete what it owns, then exit.
    void teardown();

    struct Process {
        std::string exec_id;          // "" for the init
        std::string in, out, err;
        bool terminal = false;
        pid_t pid = 0;
        bool started = false;
        // Reaped: its status is known and its output drains. Exited: that
        // is done, and the exit recorded and reported. The process counts
        // as running in between.
        bool reaped = false;
        bool exited = false;
        uint32_t exit_status = 0;
        timespec exited_at{};
        std::unique_ptr<ProcessIo> io;
        std::optional<spec::Process> spec;   // exec: what Start runs
        std::vector<CallRef> waiters;
    };
    struct Container {
        std::string id;
        std::string bundle;
        std::string rootfs;            // where we mounted containerd's rootfs, "" if nothing
        unsigned rootfs_mounts = 0;
        Process init;
        std::map<std::string, std::unique_ptr<Process>> execs;
    };

    // The container, or nullptr.
    Container* find(const std::string& id);
    // Start proc in the running container c as Task.Start starts an exec
    // (libberth's exec_container, detached), with child's ends as its
    // stdio; returns its pid, our child.
    pid_t spawn_exec(const std::string& id, spec::Process proc, const ChildStdio& child);

private:
    std::string dispatch(const CallRef& call, const std::string& method, const std::string& payload,
                         bool& deferred);
    std::string dispatch_monitor(const std::string& method, const std::string& payload);
    StdioRequest stdio_request(const Container& c, const Process& p) const;
    Container& container(const std::string& id);
    Process& process(Container& c, const std::string& exec_id);
    void collected(Container& c, Process& p, int wstatus);
    void settle(const std::string& id);
    void exited(Container& c, Process& p);
    void answer_waiters(Process& p);
    void remove_container(Container& c);

    EventLoop& loop_;
    RuntimeContext ctx_;
    std::string ns_;
    Publisher& pub_;
    TtrpcServer* server_ = nullptr;
    PodService* pod_ = nullptr;
    std::map<std::string, std::unique_ptr<Container>> containers_;
    bool shutdown_requested_ = false;
    bool served_ = false;
    OomWatcher oom_;
};

// Where berth-shim records its init's exit, for `delete` after the shim
// crashed: BUNDLE/init.exit holds "STATUS SECONDS NANOSECONDS PID". (An
// exec's exit needs no record: nothing asks for it once the shim is gone.)
std::string exit_record_path(const std::string& bundle);
struct ExitRecord {
    uint32_t status = 0;
    timespec at{};
    pid_t pid = 0;
};
std::optional<ExitRecord> read_exit_record(const std::string& path);

// Mount containerd's rootfs mounts, in order, on target; unmount them all.
unsigned mount_rootfs(const std::vector<std::tuple<std::string, std::string, std::vector<std::string>>>& mounts,
                      const std::string& target);
void unmount_rootfs(const std::string& target);

} // namespace berth::shim
