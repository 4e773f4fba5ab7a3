// Exits nobody asked about, recorded and published (GetContainerEvents) as
// they happen: berth-shim writes each container's exit record (init.exit)
// into its bundle, and an inotify watch on every running container's bundle
// dir wakes this thread for it. A full sweep of the running containers'
// Task.State every `sweep` catches what no record tells: a shim killed
// with -9, a record written while berthd was down.
#pragma once

#include "daemon.hpp"
#include "fd.hpp"

#include <chrono>
#include <map>
#include <string>
#include <thread>

namespace berth::cri {

class ExitWatcher {
public:
    ExitWatcher(Daemon& d, std::chrono::seconds sweep);
    ~ExitWatcher();   // stops and joins the thread
    ExitWatcher(const ExitWatcher&) = delete;
    ExitWatcher& operator=(const ExitWatcher&) = delete;

private:
    void loop();
    // A watch per running container's bundle, none for the rest; a
    // container whose record is already there is refreshed at once.
    void sync_watches();
    void read_events();

    Daemon& d_;
    std::chrono::seconds sweep_;
    UniqueFd inotify_, stop_;   // stop_: an eventfd the destructor writes
    std::map<int, std::string> by_wd_;       // watch -> container id
    std::map<std::string, int> by_id_;
    std::thread thread_;
};

} // namespace berth::cri
