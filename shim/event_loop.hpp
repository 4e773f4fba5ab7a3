// berth-shim's one event loop: epoll over every fd it watches (the ttrpc
// socket and its connections, the signalfd, stdio relays, timers), each
// with a callback. Single-threaded by design: nothing here locks, and
// nothing that runs in it may wait: what must wait (an exited process's
// output draining to a slow reader) waits for an event or a Timer.
#pragma once

#include "fd.hpp"

#include <cstdint>
#include <functional>
#include <unordered_map>

namespace berth::shim {

class EventLoop {
public:
    using Handler = std::function<void(uint32_t events)>;

    EventLoop();
    // Watch fd for `events` (EPOLLIN, EPOLLOUT; level-triggered). The fd
    // stays owned by the caller, who removes it before closing it.
    void add(int fd, uint32_t events, Handler h);
    void modify(int fd, uint32_t events);
    void remove(int fd);
    bool watching(int fd) const { return handlers_.count(fd) != 0; }
    // Wait up to timeout_ms (-1: forever) and dispatch what is ready.
    // Returns how many events were dispatched (0: timed out).
    int run_once(int timeout_ms);
    void stop() { stopped_ = true; }
    bool stopped() const { return stopped_; }

private:
    // Each registration gets a generation, carried in the epoll event with
    // the fd: an event already fetched for a closed fd must not reach a
    // handler registered later on the same fd number.
    struct Entry {
        uint32_t gen;
        Handler h;
    };
    UniqueFd ep_;
    std::unordered_map<int, Entry> handlers_;
    uint32_t next_gen_ = 0;
    bool stopped_ = false;
};

// A one-shot timer in the loop (a timerfd): calls h once, ms from now,
// unless destroyed before. h may destroy the Timer.
class Timer {
public:
    Timer(EventLoop& loop, int ms, std::function<void()> h);
    ~Timer();
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

private:
    EventLoop& loop_;
    UniqueFd fd_;
    std::function<void()> h_;
};

} // namespace berth::shim
