#include "publisher.hpp"

#include "error.hpp"
#include "event_loop.hpp"
#include "events.pb.h"
#include "log.hpp"
#include "ttrpc.hpp"
#include "ttrpc.pb.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

extern char** environ;

namespace berth::shim {

namespace {

using Clock = std::chrono::steady_clock;

// A live containerd answers Forward in well under a millisecond; one that
// takes longer than this is wedged, and the loop must get back to its tasks.
constexpr auto forward_timeout = std::chrono::milliseconds(1000);
// The last flush when the shim exits: a refused connect fails at once, this
// only bounds a containerd that accepts and never answers.
constexpr auto final_flush_timeout = std::chrono::milliseconds(1000);

// Milliseconds left until deadline (at least 1: 0 means "no timeout" to
// the client), or ETIMEDOUT once it has passed.
std::chrono::milliseconds left_until(Clock::time_point deadline) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) throw Error(ETIMEDOUT, "containerd: timed out");
    return left;
}

void write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);   // SIGPIPE is blocked: EPIPE
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("write");
        off += static_cast<size_t>(n);
    }
}

} // namespace

Publisher::Publisher(EventLoop& loop, std::string ttrpc_address, std::string publish_binary, std::string address,
                     std::string ns)
    : loop_(loop), ttrpc_address_(std::move(ttrpc_address)), publish_binary_(std::move(publish_binary)),
      address_(std::move(address)), ns_(std::move(ns)) {
    if (ttrpc_address_.empty()) return;
    timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!timer_) throw_errno("timerfd_create");
    loop_.add(timer_.get(), EPOLLIN, [this](uint32_t) { on_timer(); });
}

Publisher::~Publisher() {
    if (timer_) loop_.remove(timer_.get());
    if (queue_.empty()) return;
    try {
        drain(Clock::now() + final_flush_timeout);
    } catch (const std::exception& e) {
        last_error_ = e.what();
    }
    if (!queue_.empty())
        log_error("exiting: " + std::to_string(queue_.size()) + " event(s) never reached containerd, lost (" +
                  last_error_ + ")");
}

void Publisher::publish(const std::string& topic, const std::string& name,
                        const google::protobuf::MessageLite& event) {
    ttrpc::Any any;
    any.set_type_url("containerd.events." + name);
    any.set_value(event.SerializeAsString());
    log_debug("publish " + topic);
    if (ttrpc_address_.empty()) {
        if (!publish_binary_.empty()) run_binary(topic, any.SerializeAsString());
        return;
    }
    // Stamped now: a queued event keeps the time it happened.
    events::ForwardRequest fr;
    auto* env = fr.mutable_envelope();
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    env->mutable_timestamp()->set_seconds(ts.tv_sec);
    env->mutable_timestamp()->set_nanos(static_cast<int32_t>(ts.tv_nsec));
    env->set_namespace_(ns_);
    env->set_topic(topic);
    *env->mutable_event() = std::move(any);
    if (auto old = queue_.push(Pending{topic, fr.SerializeAsString()}))
        log_error("event queue full (" + std::to_string(queue_.capacity()) + "): dropped the oldest event, " +
                  old->topic + " (" + std::to_string(++evicted_) + " dropped since containerd last answered)");
    // While the retry timer runs, the event waits its turn behind the queue.
    if (!retry_armed_) flush();
}

void Publisher::on_timer() {
    uint64_t expirations;
    [[maybe_unused]] ssize_t n = ::read(timer_.get(), &expirations, sizeof expirations);
    retry_armed_ = false;
    flush();
}

void Publisher::flush() {
    bool drained = false;
    try {
        drained = drain(Clock::time_point::max());
    } catch (const std::exception& e) {   // not containerd's doing (a bad_alloc): try again later
        conn_.reset();
        last_error_ = e.what();
    }
    if (!drained) {
        arm_retry();
        return;
    }
    if (failed_attempts_ > 0)
        log_info("containerd answers again after " + std::to_string(failed_attempts_) +
                 " failed attempt(s): queued events delivered" +
                 (evicted_ ? ", " + std::to_string(evicted_) + " dropped from the full queue" : ""));
    failed_attempts_ = 0;
    evicted_ = 0;
    backoff_.reset();
}

// Sends the queue in order until it is empty (true) or containerd cannot be
// reached (false, last_error_ says why).
bool Publisher::drain(Clock::time_point deadline) {
    while (!queue_.empty()) {
        bool reused = conn_ && conn_->connected();
        try {
            auto until = std::min(deadline, Clock::now() + forward_timeout);
            forward(queue_.front(), until);
            queue_.pop();
        } catch (const Error& e) {
            conn_.reset();
            last_error_ = e.what();
            // A connection from before a containerd restart fails once: go
            // on at once on a fresh one (not after a timeout: that one is
            // wedged, and the loop has waited long enough).
            if (reused && e.err() != ETIMEDOUT && Clock::now() < deadline) continue;
            return false;
        }
    }
    return true;
}

// true: delivered; false: containerd refused it (logged). Throws an Error
// for what a retry may cure: connection-level failures, timeouts, a
// retryable status.
bool Publisher::forward(const Pending& ev, Clock::time_point deadline) {
    if (!conn_ || !conn_->connected()) conn_ = ttrpc::Client::dial(ttrpc_address_, left_until(deadline));
    try {
        conn_->call("containerd.services.events.ttrpc.v1.Events", "Forward", ev.request, left_until(deadline),
                    {{"containerd-namespace-ttrpc", ns_}});
        return true;
    } catch (const ttrpc::StatusError& e) {
        // The client's own failures are unavailable or deadline_exceeded:
        // retried, as containerd's own answers with those codes.
        if (forward_outcome(e.code()) != ForwardOutcome::rejected) throw;
        log_error("publish " + ev.topic + ": containerd refused it (code " + std::to_string(e.code()) + ": " +
                  e.what() + "): event dropped");
        return false;
    }
}

void Publisher::arm_retry() {
    ++failed_attempts_;
    auto delay = backoff_.next();
    if (failed_attempts_ == 1)
        log_error("publish: " + last_error_ + ": " + std::to_string(queue_.size()) +
                  " event(s) queued until containerd answers");
    else
        log_debug("publish retry " + std::to_string(failed_attempts_) + ": " + last_error_);
    itimerspec its{};
    its.it_value.tv_sec = delay.count() / 1000;
    its.it_value.tv_nsec = (delay.count() % 1000) * 1000000;
    if (::timerfd_settime(timer_.get(), 0, &its, nullptr) < 0) {
        log_error("publish: arm retry timer: " + std::string(std::strerror(errno)));
        return;
    }
    retry_armed_ = true;
}

void Publisher::run_binary(const std::string& topic, const std::string& any) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) {
        log_error("publish: pipe: " + std::string(std::strerror(errno)));
        return;
    }
    UniqueFd r(p[0]), w(p[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, r.get(), 0);
    std::vector<std::string> args = {publish_binary_, "--address", address_, "publish", "--topic", topic,
                                     "--namespace", ns_};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The caller's mask is berth-shim's (signals blocked for its signalfd).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int rc = ::posix_spawn(&pid, publish_binary_.c_str(), &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        log_error("publish: spawn " + publish_binary_ + ": " + std::strerror(rc));
        return;
    }
    r.reset();
    try {
        write_all(w.get(), any);
    } catch (const Error& e) {
        log_error("publish " + topic + ": " + e.what());
    }
    w.reset();
    // In order: the next event waits for this one.
    int st;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) log_error("publish " + topic + ": " + publish_binary_ + " failed");
}

} // namespace berth::shim
