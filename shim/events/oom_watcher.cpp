#include "oom_watcher.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "log.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace berth::shim {

uint64_t oom_kill_count(const std::string& text) {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string::npos) eol = text.size();
        std::string_view line(text.data() + pos, eol - pos);
        if (line.rfind("oom_kill ", 0) == 0) return std::strtoull(std::string(line.substr(9)).c_str(), nullptr, 10);
        pos = eol + 1;
    }
    return 0;
}

OomWatcher::~OomWatcher() {
    for (auto& [id, w] : watches_) loop_.remove(w.fd.get());
}

void OomWatcher::watch(const std::string& id, const cgroup::Manager& cg) {
    if (watches_.count(id)) return;
    Watch w;
    w.id = id;
    bool found = false;
    for (const auto& [h, dir] : cg.dirs()) {
        if (!h.v2 && std::find(h.controllers.begin(), h.controllers.end(), "memory") != h.controllers.end()) {
            w.dir = dir;
            found = true;
            break;
        }
    }
    if (!found) {
        // The v2 hierarchy counts, on a host whose memory controller is there.
        for (const auto& [h, dir] : cg.dirs()) {
            if (h.v2 && ::access((dir + "/memory.events").c_str(), R_OK) == 0) {
                w.dir = dir;
                w.v2 = true;
                found = true;
                break;
            }
        }
    }
    if (!found) return;
    try {
        if (w.v2) {
            w.fd = UniqueFd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
            if (!w.fd) throw_errno("inotify_init1");
            std::string ev = w.dir + "/memory.events";
            if (::inotify_add_watch(w.fd.get(), ev.c_str(), IN_MODIFY) < 0) throw_errno("inotify " + ev);
            w.kills = oom_kill_count(read_file(ev));
        } else {
            std::string oc = w.dir + "/memory.oom_control";
            w.control = UniqueFd(::open(oc.c_str(), O_RDONLY | O_CLOEXEC));
            if (!w.control) throw_errno("open " + oc);
            w.fd = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
            if (!w.fd) throw_errno("eventfd");
            std::string reg = std::to_string(w.fd.get()) + " " + std::to_string(w.control.get());
            std::string ctl = w.dir + "/cgroup.event_control";
            UniqueFd c(::open(ctl.c_str(), O_WRONLY | O_CLOEXEC));
            if (!c || ::write(c.get(), reg.data(), reg.size()) != static_cast<ssize_t>(reg.size()))
                throw_errno("register for OOM events in " + ctl);
        }
    } catch (const Error& e) {
        log_error("watch " + id + " for OOM: " + e.what());
        return;
    }
    int fd = w.fd.get();
    auto [it, ok] = watches_.emplace(id, std::move(w));
    Watch* wp = &it->second;   // std::map nodes do not move
    loop_.add(fd, EPOLLIN, [this, wp](uint32_t) { on_ready(*wp, false); });
}

void OomWatcher::on_ready(Watch& w, bool force) {
    bool oom = false;
    if (w.v2) {
        alignas(inotify_event) char buf[4096];
        bool any = false;
        while (::read(w.fd.get(), buf, sizeof buf) > 0) any = true;
        // The kernel queues the inotify event from a work item, so it may
        // trail the counter: check() reads the counter regardless.
        if (!any && !force) return;
        uint64_t k = 0;
        try {
            k = oom_kill_count(read_file(w.dir + "/memory.events"));
        } catch (const Error&) {
            return;   // the cgroup is going away
        }
        if (k > w.kills) oom = true;
        w.kills = k;
    } else {
        uint64_t n;
        if (::read(w.fd.get(), &n, sizeof n) != sizeof n) return;
        // The eventfd also fires when the cgroup is removed.
        if (::access((w.dir + "/cgroup.event_control").c_str(), F_OK) == 0) oom = true;
    }
    if (oom) {
        std::string id = w.id;   // the handler may unwatch
        log_info(id + ": OOM kill in its cgroup");
        on_oom_(id);
    }
}

void OomWatcher::check(const std::string& id) {
    auto it = watches_.find(id);
    if (it != watches_.end()) on_ready(it->second, true);
}

void OomWatcher::unwatch(const std::string& id) {
    auto it = watches_.find(id);
    if (it == watches_.end()) return;
    loop_.remove(it->second.fd.get());
    watches_.erase(it);
}

} // namespace berth::shim
