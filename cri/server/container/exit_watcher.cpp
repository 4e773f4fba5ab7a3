#include "exit_watcher.hpp"

#include "executions.hpp"

#include "error.hpp"
#include "log.hpp"
#include "runtime_ops.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstring>
#include <set>

namespace berth::cri {

namespace {

constexpr const char* kExitRecord = "init.exit";   // berth-shim's, in the bundle

} // namespace

ExitWatcher::ExitWatcher(Daemon& d, std::chrono::seconds sweep)
    : d_(d), sweep_(sweep), inotify_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)),
      stop_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (!inotify_) throw_errno("inotify_init1");
    if (!stop_) throw_errno("eventfd");
    thread_ = std::thread([this] { loop(); });
}

ExitWatcher::~ExitWatcher() {
    uint64_t one = 1;
    if (::write(stop_.get(), &one, sizeof one) < 0) log::warn("stop the exit watcher: " + std::string(strerror(errno)));
    thread_.join();
}

void ExitWatcher::sync_watches() {
    auto list = d_.pods.running_containers();
    std::map<std::string, std::string> running(list.begin(), list.end());   // id -> pod
    for (auto it = by_id_.begin(); it != by_id_.end();) {
        if (running.count(it->first)) {
            ++it;
            continue;
        }
        ::inotify_rm_watch(inotify_.get(), it->second);   // EINVAL once the dir is gone: fine
        by_wd_.erase(it->second);
        it = by_id_.erase(it);
    }
    for (const auto& [id, pod] : running) {
        if (by_id_.count(id)) continue;
        std::string bundle = d_.bundle_dir(pod, id);
        int wd = ::inotify_add_watch(inotify_.get(), bundle.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
        if (wd < 0) {
            log::write(LogLevel::debug, "watch " + bundle + ": " + strerror(errno));
            continue;
        }
        by_wd_[wd] = id;
        by_id_[id] = wd;
        // Exited before the watch was there.
        if (::access((bundle + "/" + kExitRecord).c_str(), F_OK) == 0) refresh_running(d_, id);
    }
}

void ExitWatcher::read_events() {
    alignas(inotify_event) char buf[16 * 1024];
    std::set<std::string> exited;
    for (;;) {
        ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
        if (n <= 0) break;
        for (char* p = buf; p < buf + n;) {
            auto* e = reinterpret_cast<inotify_event*>(p);
            p += sizeof(inotify_event) + e->len;
            auto it = by_wd_.find(e->wd);
            if (it == by_wd_.end()) continue;
            if (e->mask & IN_IGNORED) {   // the bundle went away
                by_id_.erase(it->second);
                by_wd_.erase(it);
            } else if (e->len && std::string_view(e->name) == kExitRecord) {
                exited.insert(it->second);
            }
        }
    }
    for (const auto& id : exited) refresh_running(d_, id);
}

void ExitWatcher::loop() {
    auto next_sweep = std::chrono::steady_clock::now() + sweep_;
    for (;;) {
        sync_watches();
        pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        // Watches for containers started since are added within a second.
        int n = ::poll(fds, 2, 1000);
        if (n < 0 && errno != EINTR) {
            log::error("exit watcher: poll: " + std::string(strerror(errno)));
            return;
        }
        if (fds[1].revents) return;
        if (fds[0].revents) read_events();
        enforce_execution_deadlines(d_);
        try {
            dispatch_queued_executions(d_);
        } catch (const Error& e) {
            log::error("execution queue: " + std::string(e.what()));
        }
        if (std::chrono::steady_clock::now() >= next_sweep) {
            watch_exits(d_);
            next_sweep = std::chrono::steady_clock::now() + sweep_;
        }
    }
}

} // namespace berth::cri
