#include "event_loop.hpp"

#include "error.hpp"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>

namespace berth::shim {

EventLoop::EventLoop() : ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!ep_) throw_errno("epoll_create1");
}

namespace {
uint64_t tag(int fd, uint32_t gen) { return uint64_t(gen) << 32 | uint32_t(fd); }
} // namespace

void EventLoop::add(int fd, uint32_t events, Handler h) {
    uint32_t gen = ++next_gen_;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag(fd, gen);
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) throw_errno("epoll_ctl add fd " + std::to_string(fd));
    handlers_[fd] = Entry{gen, std::move(h)};
}

void EventLoop::modify(int fd, uint32_t events) {
    auto it = handlers_.find(fd);
    if (it == handlers_.end()) throw Error(ENOENT, "epoll_ctl mod fd " + std::to_string(fd) + ": not watched");
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag(fd, it->second.gen);
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
        int fd = static_cast<int>(evs[i].data.u64 & 0xffffffffu);
        auto it = handlers_.find(fd);
        // Removed by an earlier handler, or the fd was reused since.
        if (it == handlers_.end() || it->second.gen != uint32_t(evs[i].data.u64 >> 32)) continue;
        // A copy: the handler may remove itself.
        Handler h = it->second.h;
        h(evs[i].events);
    }
    return n;
}

Timer::Timer(EventLoop& loop, int ms, std::function<void()> h)
    : loop_(loop), fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)), h_(std::move(h)) {
    if (!fd_) throw_errno("timerfd_create");
    itimerspec its{};
    // 0 would disarm it: the earliest is 1 ns from now.
    ms = std::max(ms, 0);
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = ms > 0 ? (ms % 1000) * 1000000L : 1;
    if (::timerfd_settime(fd_.get(), 0, &its, nullptr) < 0) throw_errno("timerfd_settime");
    loop_.add(fd_.get(), EPOLLIN, [this](uint32_t) {
        loop_.remove(fd_.get());
        // h may destroy us: nothing of ours is touched after it.
        auto h = std::move(h_);
        h();
    });
}

Timer::~Timer() { loop_.remove(fd_.get()); }

} // namespace berth::shim
