#include "event_loop.hpp"

#include "error.hpp"

#include <sys/epoll.h>

namespace berth::shim {

EventLoop::EventLoop() : ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!ep_) throw_errno("epoll_create1");
}

void EventLoop::add(int fd, uint32_t events, Handler h) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) throw_errno("epoll_ctl add fd " + std::to_string(fd));
    handlers_[fd] = std::move(h);
}

void EventLoop::modify(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, fd, &ev) < 0) throw_errno("epoll_ctl mod fd " + std::to_string(fd));
}

void EventLoop::remove(int fd) {
    if (handlers_.erase(fd)) ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

int EventLoop::run_once(int timeout_ms) {
    epoll_event evs[32];
    int n = ::epoll_wait(ep_.get(), evs, 32, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) return 0;
        throw_errno("epoll_wait");
    }
    for (int i = 0; i < n && !stopped_; ++i) {
        auto it = handlers_.find(evs[i].data.fd);
        if (it == handlers_.end()) continue;   // removed by an earlier handler
        // A copy: the handler may remove itself.
        Handler h = it->second;
        h(evs[i].events);
    }
    return n;
}

} // namespace berth::shim
