// OOM kills in the containers' memory cgroups, told to containerd as
// /tasks/oom (TaskOOM). cgroup v1: an eventfd registered for
// memory.oom_control through cgroup.event_control. cgroup v2: inotify on
// memory.events, whose oom_kill counter goes up.
#pragma once

#include "cgroup.hpp"
#include "event_loop.hpp"
#include "fd.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace berth::shim {

class OomWatcher {
public:
    using Handler = std::function<void(const std::string& container_id)>;
    OomWatcher(EventLoop& loop, Handler on_oom) : loop_(loop), on_oom_(std::move(on_oom)) {}
    ~OomWatcher();
    OomWatcher(const OomWatcher&) = delete;
    OomWatcher& operator=(const OomWatcher&) = delete;
    // Watch the container's memory cgroup (the first of cg's dirs with the
    // memory controller). Nothing to watch (no memory controller, rootless)
    // is not an error; a failure is logged: OOM events are best effort.
    void watch(const std::string& id, const cgroup::Manager& cg);
    // Report an OOM the kernel already signalled but the loop has not yet
    // dispatched: called before the container's exit is published, so
    // containerd hears of the OOM first.
    void check(const std::string& id);
    void unwatch(const std::string& id);

private:
    struct Watch {
        std::string id;
        bool v2 = false;
        std::string dir;
        UniqueFd fd;        // v1: the eventfd; v2: the inotify instance
        UniqueFd control;   // v1: memory.oom_control, held while registered
        uint64_t kills = 0; // v2: oom_kill last seen
    };
    void on_ready(Watch& w, bool force);
    EventLoop& loop_;
    Handler on_oom_;
    std::map<std::string, Watch> watches_;
};

// The oom_kill counter of a cgroup v2 memory.events text (0 if absent).
uint64_t oom_kill_count(const std::string& memory_events);

} // namespace berth::shim
