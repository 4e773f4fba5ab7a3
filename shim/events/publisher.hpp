// Task events to containerd: a ttrpc client of containerd's Events service
// (Forward, at TTRPC_ADDRESS, as containerd's own shims do), or, without
// that address, `PUBLISH-BINARY --address ADDR publish --topic T
// --namespace NS` with the event's protobuf Any on stdin (the older form).
//
// publish() never waits for containerd: the event is stamped and queued (at
// most queue_capacity, oldest evicted first), and the loop sends the queue
// in order, one Forward call in flight at a time (containerd handles the
// calls of a connection concurrently: more would reorder them), so the
// shim answers the call that caused an event without a round trip to
// containerd first, as containerd's own shims do.
//
// Events outlive a containerd that is down or restarting: after a
// connection-level failure the queue is retried from a timer with backoff
// (100 ms doubling to 2 s) until containerd answers. An event containerd
// refuses with a status is logged and dropped, as a resend would get the
// same answer. An event whose answer timed out is sent again, so delivery
// is at least once. When the shim exits, the destructor tries one last
// (synchronous) flush with a short deadline and logs what is lost.
//
// The publish-binary form stays synchronous and unqueued: a failed exit
// status cannot tell a down containerd from a refused event, and
// containerd 1.6 and later always set TTRPC_ADDRESS.
#pragma once

#include "event_queue.hpp"
#include "fd.hpp"
#include "ttrpc_client.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace google::protobuf {
class MessageLite;
}

namespace berth::shim {

class EventLoop;
class Timer;

class Publisher {
public:
    static constexpr size_t queue_capacity = 1024;

    Publisher(EventLoop& loop, std::string ttrpc_address, std::string publish_binary, std::string address,
              std::string ns);
    ~Publisher();
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;

    // topic: "/tasks/exit"; name: the event's message name ("TaskExit").
    // Failures are logged, not thrown: a lost event must not fail the task.
    void publish(const std::string& topic, const std::string& name, const google::protobuf::MessageLite& event);
    // Events not yet acknowledged by containerd (the one in flight included).
    size_t queued() const { return queue_.size(); }

private:
    using Clock = std::chrono::steady_clock;
    struct Pending {
        std::string topic;
        std::string request;   // a serialized ForwardRequest, stamped at publish
        uint64_t seq = 0;
    };

    // The loop's side: the front of the queue as one call in flight.
    void send_next();
    void write_out();
    void on_conn(uint32_t events);
    void answered(int32_t code, const std::string& message);
    void failed(const std::string& why, bool timed_out);
    void close_conn();
    void await_in_flight(Clock::time_point deadline);
    void arm_retry();
    void on_timer();
    // The destructor's last, synchronous flush.
    bool drain(Clock::time_point deadline);
    bool forward(const Pending& ev, Clock::time_point deadline);
    void run_binary(const std::string& topic, const std::string& any);

    EventLoop& loop_;
    std::string ttrpc_address_, publish_binary_, address_, ns_;
    UniqueFd sock_;                 // to containerd, in the loop
    ttrpc::FrameDecoder dec_;
    std::string out_;               // what is left to write of the call in flight
    uint32_t stream_ = 0, next_stream_ = 1;
    bool in_flight_ = false, want_out_ = false, closing_ = false;
    bool reused_ = false;           // the call went on a connection that had served before
    uint64_t next_seq_ = 0, in_flight_seq_ = 0;
    std::string in_flight_topic_;
    std::unique_ptr<Timer> answer_timer_;
    std::optional<ttrpc::Client> conn_;   // the destructor's
    BoundedQueue<Pending> queue_{queue_capacity};
    Backoff backoff_{std::chrono::milliseconds(100), std::chrono::milliseconds(2000)};
    UniqueFd timer_;
    bool retry_armed_ = false;
    unsigned failed_attempts_ = 0;   // since containerd last answered
    uint64_t evicted_ = 0;           // from a full queue, since then
    std::string last_error_;
};

} // namespace berth::shim
