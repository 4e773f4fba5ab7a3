// The policy of Publisher's retry queue, kept apart from its I/O so unit
// tests can drive it: a bounded FIFO that evicts its oldest entry when
// full, the backoff between flush attempts, and which answers from
// containerd are worth a retry.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

namespace berth::shim {

// At most `capacity` items, oldest first. When full, push() evicts the
// oldest: the newest events (an exit, say) matter most to a containerd
// that comes back.
template <class T>
class BoundedQueue {
public:
    explicit BoundedQueue(size_t capacity) : cap_(std::max<size_t>(capacity, 1)) {}
    // Appends v; returns the item evicted to make room, if any.
    std::optional<T> push(T v) {
        std::optional<T> evicted;
        if (q_.size() >= cap_) {
            evicted.emplace(std::move(q_.front()));
            q_.pop_front();
            ++evicted_;
        }
        q_.push_back(std::move(v));
        return evicted;
    }
    T& front() { return q_.front(); }
    void pop() { q_.pop_front(); }
    bool empty() const { return q_.empty(); }
    size_t size() const { return q_.size(); }
    size_t capacity() const { return cap_; }
    // How many push() has evicted in all.
    uint64_t evicted() const { return evicted_; }

private:
    std::deque<T> q_;
    size_t cap_;
    uint64_t evicted_ = 0;
};

// Delays between retries: first, doubling, never over cap; reset() after a
// success starts over.
class Backoff {
public:
    using ms = std::chrono::milliseconds;
    Backoff(ms first, ms cap) : first_(first), cap_(std::max(first, cap)), cur_(first) {}
    ms next() {
        ms d = cur_;
        cur_ = std::min(cur_ * 2, cap_);
        return d;
    }
    void reset() { cur_ = first_; }

private:
    ms first_, cap_, cur_;
};

enum class ForwardOutcome { delivered, rejected, retry };

// What containerd's answer to Forward (a gRPC status code) means for the
// event. Unavailable (14: the server is going away) and DeadlineExceeded
// (4: it did not get to it in time) say nothing about the event, so it is
// sent again; any other code is a verdict on the event itself (bad topic,
// no namespace), which a resend would only repeat.
constexpr ForwardOutcome forward_outcome(int32_t status_code) {
    if (status_code == 0) return ForwardOutcome::delivered;
    if (status_code == 4 || status_code == 14) return ForwardOutcome::retry;
    return ForwardOutcome::rejected;
}

} // namespace berth::shim
