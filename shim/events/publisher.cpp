#include "publisher.hpp"

#include "error.hpp"
#include "event_loop.hpp"
#include "events.pb.h"
#include "log.hpp"
#include "ttrpc.hpp"
#include "ttrpc.pb.h"

#include <fcntl.h>
#include <spawn.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
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
    answer_timer_.reset();
    if (timer_) loop_.remove(timer_.get());
    // The shim exits right after its last call, often with that call's
    // event in flight: its answer is awaited here (sending it again would
    // deliver it twice); the rest go after it.
    closing_ = true;   // nothing more goes out from the loop's side
    if (in_flight_ && sock_) await_in_flight(Clock::now() + final_flush_timeout);
    close_conn();
    if (queue_.empty()) return;
    // An event in flight whose answer never came goes again: at least once.
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
    if (auto old = queue_.push(Pending{topic, fr.SerializeAsString(), next_seq_++}))
        log_error("event queue full (" + std::to_string(queue_.capacity()) + "): dropped the oldest event, " +
                  old->topic + " (" + std::to_string(++evicted_) + " dropped since containerd last answered)");
    send_next();
}

void Publisher::on_timer() {
    uint64_t expirations;
    [[maybe_unused]] ssize_t n = ::read(timer_.get(), &expirations, sizeof expirations);
    retry_armed_ = false;
    send_next();
}

// Puts the front of the queue on the wire, unless a call is in flight or
// a retry is pending (then the event waits its turn).
void Publisher::send_next() {
    if (in_flight_ || retry_armed_ || closing_ || queue_.empty()) return;
    if (!sock_) {
        try {
            sock_ = ttrpc::dial_socket(ttrpc_address_, forward_timeout);
        } catch (const Error& e) {
            last_error_ = e.what();
            arm_retry();
            return;
        }
        dec_ = ttrpc::FrameDecoder();
        reused_ = false;
        want_out_ = false;
        loop_.add(sock_.get(), EPOLLIN, [this](uint32_t ev) { on_conn(ev); });
    } else {
        reused_ = true;
    }
    stream_ = next_stream_;
    next_stream_ += 2;
    in_flight_seq_ = queue_.front().seq;
    in_flight_topic_ = queue_.front().topic;
    try {
        out_ = ttrpc::encode_request(stream_, "containerd.services.events.ttrpc.v1.Events", "Forward",
                                     queue_.front().request, forward_timeout, {{"containerd-namespace-ttrpc", ns_}});
    } catch (const Error& e) {   // over ttrpc's size limit: no resend can help
        log_error("publish " + queue_.front().topic + ": " + e.what() + ": event dropped");
        queue_.pop();
        return send_next();
    }
    in_flight_ = true;
    answer_timer_ = std::make_unique<Timer>(loop_, static_cast<int>(forward_timeout.count()), [this] {
        answer_timer_.reset();
        failed("containerd: no answer in " + std::to_string(forward_timeout.count()) + " ms", true);
    });
    write_out();
}

void Publisher::write_out() {
    while (!out_.empty()) {
        ssize_t n = ::send(sock_.get(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            out_.erase(0, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        failed(std::string("containerd: send: ") + std::strerror(errno), false);
        return;
    }
    bool want = !out_.empty();
    if (want != want_out_) {
        loop_.modify(sock_.get(), want ? EPOLLIN | EPOLLOUT : EPOLLIN);
        want_out_ = want;
    }
}

void Publisher::on_conn(uint32_t events) {
    if (events & EPOLLOUT) {
        write_out();
        if (!sock_) return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    char buf[4096];
    ssize_t n = ::read(sock_.get(), buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        failed(n == 0 ? "containerd closed the connection" : std::string("containerd: read: ") + std::strerror(errno),
               false);
        return;
    }
    try {
        dec_.feed(buf, static_cast<size_t>(n));
        while (auto f = dec_.next()) {
            // Late answers to calls that timed out are skipped.
            if (!in_flight_ || f->stream != stream_ || f->type != static_cast<uint8_t>(ttrpc::MsgType::response))
                continue;
            ttrpc::Response resp;
            if (!resp.ParseFromString(f->payload)) throw Error(EPROTO, "containerd: malformed response");
            answered(resp.has_status() ? resp.status().code() : 0, resp.has_status() ? resp.status().message() : "");
            if (!sock_) return;
        }
    } catch (const Error& e) {
        failed(e.what(), false);
    }
}

void Publisher::answered(int32_t code, const std::string& message) {
    answer_timer_.reset();
    in_flight_ = false;
    // (A full queue may have evicted the event while it was in flight.)
    auto pop = [this] {
        if (!queue_.empty() && queue_.front().seq == in_flight_seq_) queue_.pop();
    };
    switch (forward_outcome(code)) {
    case ForwardOutcome::delivered:
        pop();
        if (failed_attempts_ > 0)
            log_info("containerd answers again after " + std::to_string(failed_attempts_) +
                     " failed attempt(s): queued events delivered" +
                     (evicted_ ? ", " + std::to_string(evicted_) + " dropped from the full queue" : ""));
        failed_attempts_ = 0;
        evicted_ = 0;
        backoff_.reset();
        break;
    case ForwardOutcome::rejected:
        log_error("publish " + in_flight_topic_ + ": containerd refused it (code " + std::to_string(code) + ": " +
                  message + "): event dropped");
        pop();
        break;
    case ForwardOutcome::retry:
        last_error_ = "containerd: " + message + " (code " + std::to_string(code) + ")";
        arm_retry();
        return;
    }
    send_next();
}

// The connection broke or the answer is late: the event in flight stays at
// the front and goes again, on a new connection.
void Publisher::failed(const std::string& why, bool timed_out) {
    bool was_reused = reused_;
    answer_timer_.reset();
    close_conn();
    in_flight_ = false;
    last_error_ = why;
    // A connection from before a containerd restart fails once: go on at
    // once on a fresh one (not after a timeout: that one is wedged).
    if (was_reused && !timed_out) return send_next();
    arm_retry();
}

void Publisher::await_in_flight(Clock::time_point deadline) {
    if (want_out_) loop_.modify(sock_.get(), EPOLLIN);
    want_out_ = false;
    while (in_flight_ && sock_) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return;
        if (!out_.empty()) {
            pollfd p{sock_.get(), POLLOUT, 0};
            if (::poll(&p, 1, static_cast<int>(left)) <= 0) return;
            ssize_t n = ::send(sock_.get(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN && errno != EINTR) return;
            if (n > 0) out_.erase(0, static_cast<size_t>(n));
            continue;
        }
        pollfd p{sock_.get(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) return;
        on_conn(EPOLLIN);   // on the answer, settles the event
    }
}

void Publisher::close_conn() {
    if (!sock_) return;
    loop_.remove(sock_.get());
    sock_.reset();
    out_.clear();
    want_out_ = false;
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
