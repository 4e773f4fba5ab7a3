// berth.shim.v1.Pod (proto/pod.proto): what berthd's per-pod shim does
// beside the Task API.
//   PinNamespaces: a child of the shim unshares the pod's namespaces, sets
//     the hostname, brings `lo` up and writes the sysctls; the shim bind
//     mounts its /proc/CHILD/ns/* onto DIR/{net,ipc,uts}, and, for "pid",
//     the pod init's (pod_init.hpp) onto DIR/pid. DIR itself is bind
//     mounted onto itself and made private first, so the pins neither
//     propagate to other mount namespaces nor receive anything.
//   UnpinNamespaces: kill the pod init, detach and remove the pins and
//     DIR's own mount.
//   ExecSync: a process in a running container, its output in pipes read
//     by the loop (capped), answered once it has exited and drained.
// Everything here runs in the shim's one thread: the namespaces are made
// by a forked child, never by the shim itself.
#pragma once

#include "event_loop.hpp"
#include "fd.hpp"
#include "server.hpp"

#include <sys/types.h>

#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace berth::shim {

class TaskService;

class PodService {
public:
    // title: the shim's argv area, which the pod init renames itself in.
    PodService(EventLoop& loop, TaskService& tasks, std::span<char> title);
    ~PodService();
    void set_server(TtrpcServer* s) { server_ = s; }
    // One call of "berth.shim.v1.Pod"; deferred: answered later.
    std::string dispatch(const CallRef& call, const std::string& method, const std::string& payload,
                         bool& deferred);
    // A child the Task service reaped that none of its containers owns:
    // true when it was ours (the pod init, an ExecSync process).
    bool collected(pid_t pid, int wstatus);
    // Why Task.Shutdown may not end the shim yet ("" when it may): a pod
    // init that runs, or pins made here still mounted.
    std::string busy() const;
    // SIGTERM or Shutdown(now): kill what runs and reap the init (bounded).
    void teardown();

    static constexpr size_t default_max_output = 16u << 20;
    // Both streams travel in one ttrpc message (4 MiB at most): each is
    // kept to this, whatever max_output asks.
    static size_t output_cap(uint32_t max_output);

private:
    struct SyncExec {
        CallRef call;
        pid_t pid = 0;
        UniqueFd out, err;
        std::string out_buf, err_buf;
        size_t cap = 0;
        bool reaped = false, timed_out = false;
        int exit_code = 0;
        std::unique_ptr<Timer> deadline, grace;
    };
    std::string pin(const std::string& payload);
    std::string unpin(const CallRef& call, const std::string& payload, bool& deferred);
    std::string exec_sync(const CallRef& call, const std::string& payload, bool& deferred);
    void read_stream(SyncExec& x, bool err);
    void finish_if_done(pid_t pid);
    void answer(pid_t pid);
    void init_gone();

    EventLoop& loop_;
    TaskService& tasks_;
    TtrpcServer* server_ = nullptr;
    std::span<char> title_;
    pid_t init_ = 0;                     // the pod init, until reaped
    std::vector<CallRef> unpin_waiters_;  // UnpinNamespaces calls waiting for it
    std::set<std::string> pinned_;        // dirs pinned here and not unpinned
    std::map<pid_t, std::unique_ptr<SyncExec>> execs_;
};

} // namespace berth::shim
