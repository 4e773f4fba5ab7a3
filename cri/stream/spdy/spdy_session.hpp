// The server side of a SPDY/3.1 session, as berthd's streaming server runs
// it after the HTTP/1.1 upgrade: the client (kubelet, kubectl, crictl)
// opens every stream (odd ids, §2.3.2); berthd replies, sends and receives
// data, resets, and ends the session with GOAWAY.
//
// A state machine without I/O: feed() takes the bytes read from the socket
// and returns events; the calls that send append frames to an output
// buffer that the owner writes to the socket (pending_output(), then
// consume_output() with what was written). Nothing blocks.
//
// Flow control (SPDY/3.1 §2.6.8): stream and session windows both ways.
// Received DATA counts against berthd's windows; the owner reports what it
// has processed with consumed(), and only then does the session send
// WINDOW_UPDATE, so a slow consumer holds the peer back. Sent DATA waits
// in a bounded per-stream queue until the peer's windows allow it;
// writable() tells the owner how much it may hand over now.
//
// Peers that ignore flow control: Kubernetes' SPDY client (moby/spdystream,
// used by kubelet, kubectl and client-go) never sends WINDOW_UPDATE nor
// honours one (spdystream issue #2). Holding it to the 64 KiB initial
// windows would stall every exec past 64 KiB of output. So by default
// (PeerFlowControl::detect) the windows bind only once the peer shows it
// does flow control, by sending a WINDOW_UPDATE or a SETTINGS with
// INITIAL_WINDOW_SIZE; until then DATA goes out as fast as the owner
// drains the output, and the peer's DATA is taken past our windows, so the
// owner bounds its intake by reading the socket no faster than it consumes
// (TCP then holds the peer back). PeerFlowControl::enforce keeps to the
// draft from the first byte; spdystream then overruns the session window
// at 64 KiB and the session fails (run e2e-spdystream-interop's server
// with --enforce-flow-control to see it).
#pragma once

#include "spdy_frame.hpp"
#include "spdy_headers.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace berth::stream::spdy {

enum class PeerFlowControl { detect, enforce };

struct SessionConfig {
    DecoderLimits frames;
    size_t max_header_block = 256 * 1024; // inflated size of one received header block
    size_t max_headers = 256;             // pairs in one received header block
    size_t max_streams = 100;             // streams open at once; more are refused (REFUSED_STREAM)
    // berthd's receive windows, at least 64 KiB: the peer may send that much
    // before it reads our first frames, which announce a larger stream
    // window in SETTINGS and a larger session window with WINDOW_UPDATE(0).
    uint32_t initial_window = default_window;
    uint32_t session_window = default_window;
    size_t max_data_frame = 16 * 1024;     // payload of each DATA frame sent
    size_t max_stream_queue = 64 * 1024;   // bytes accepted per stream, waiting for window or output room
    size_t output_high_water = 256 * 1024; // DATA moves to the output only while it holds less
    // Output beyond this (control frames the peer provokes while not
    // reading) fails the session.
    size_t max_output = 4u << 20;
    PeerFlowControl peer_flow_control = PeerFlowControl::detect;
};

// The peer opened a stream (SYN_STREAM). Reply with reply() or reset().
struct StreamOpened {
    uint32_t stream_id = 0;
    HeaderBlock headers;
    uint8_t priority = 0;
    uint32_t associated_id = 0;
    bool unidirectional = false; // the peer will not read: berthd may not send on it
};
// Data from the peer. Report it with consumed() once processed.
struct StreamData {
    uint32_t stream_id = 0;
    std::string data;
};
// A HEADERS frame on an open stream.
struct StreamHeaders {
    uint32_t stream_id = 0;
    HeaderBlock headers;
};
// The peer sent FIN: no more data will come on the stream.
struct StreamHalfClosed {
    uint32_t stream_id = 0;
};
// The stream is gone: reset by the peer, or by the session for a protocol
// or flow-control error on it (RST_STREAM sent; reason says why).
struct StreamReset {
    uint32_t stream_id = 0;
    uint32_t status = 0; // RstStatus
    bool by_peer = false;
    std::string reason;
};
// A PING from the peer, already answered.
struct PingReceived {
    uint32_t id = 0;
};
// The answer to a ping() of ours.
struct PingAnswered {
    uint32_t id = 0;
};
// The peer will open no more streams; those up to last_good_stream_id stand.
struct GoawayReceived {
    uint32_t last_good_stream_id = 0;
    uint32_t status = 0; // GoawayStatus
};
// The session failed (malformed or oversized frame, undecodable header
// block, flow-control violation of the session window): GOAWAY is queued,
// no more input is read. Write out the output and close the connection.
struct SessionError {
    int err = 0; // EPROTO, EMSGSIZE, ENOBUFS
    std::string message;
};

using Event = std::variant<StreamOpened, StreamData, StreamHeaders, StreamHalfClosed, StreamReset, PingReceived,
                           PingAnswered, GoawayReceived, SessionError>;

struct SessionStats {
    uint64_t streams_opened = 0;
    uint64_t streams_refused = 0;       // over max_streams, or after our GOAWAY
    uint64_t stream_errors = 0;         // RST_STREAM sent for the peer's error
    uint64_t window_updates_sent = 0;
    uint64_t window_updates_received = 0;
    uint64_t window_stalls = 0;         // times queued DATA waited for the peer's window
    uint64_t pings_answered = 0;
    uint64_t frames_ignored = 0;        // control frames of unknown type
    bool peer_flow_control = false;     // the peer's windows bind (detected, or enforced)
};

class ServerSession {
public:
    // Throws Error(EINVAL) for a config out of range.
    explicit ServerSession(SessionConfig config = {});

    // Bytes read from the connection. Returns what they made happen.
    // After a SessionError, input is ignored and the sending calls below
    // do nothing (send_data takes no bytes).
    std::vector<Event> feed(std::string_view bytes);

    // Events come after the whole of feed()'s input is read, so a stream
    // may already be closed (reset, say) when the owner acts on its
    // StreamOpened: reply() and send_data() on a stream the peer opened
    // and that has since closed do nothing (send_data takes no bytes); its
    // StreamReset is in the same batch. They throw Error(EINVAL), naming
    // the stream, for what is the caller's mistake: a stream the peer never
    // opened, a second reply, a reply on a unidirectional stream, data
    // before the reply or after our FIN.

    // SYN_REPLY for a stream the peer opened.
    void reply(uint32_t stream_id, const HeaderBlock& headers, bool fin = false);

    // Queues data (and FIN once all of it is taken) on a replied stream.
    // Returns how many bytes were taken, at most writable(); FIN is taken
    // only with the last byte.
    size_t send_data(uint32_t stream_id, std::string_view data, bool fin = false);
    // Bytes send_data would take now; 0 for a stream that is not open.
    // It rises after feed() (window updates) and consume_output().
    size_t writable(uint32_t stream_id) const;
    // Bytes taken by send_data and not yet in the output.
    size_t queued(uint32_t stream_id) const;

    // The owner has processed n bytes of StreamData on the stream; credits
    // the stream (while open) and session windows, sending WINDOW_UPDATE
    // once half a window is due. Throws Error(EINVAL) for more than was
    // delivered and not yet reported.
    void consumed(uint32_t stream_id, size_t n);

    // RST_STREAM; the stream and its queued data are dropped. No-op for a
    // stream that is not open.
    void reset(uint32_t stream_id, RstStatus status = RstStatus::cancel);
    // GOAWAY naming the last stream accepted; streams the peer opens after
    // it are ignored. Once only.
    void goaway(GoawayStatus status = GoawayStatus::ok);
    // A PING of ours (even id, §2.6.5); the answer comes as PingAnswered.
    uint32_t ping();

    std::string_view pending_output() const { return std::string_view(output_).substr(output_off_); }
    void consume_output(size_t n);

    bool is_open(uint32_t stream_id) const { return streams_.count(stream_id) != 0; }
    // Open, replied to, and not finished by us: send_data may be called.
    bool may_send(uint32_t stream_id) const;
    size_t open_streams() const { return streams_.size(); }
    bool failed() const { return failed_; }
    bool goaway_sent() const { return goaway_sent_; }
    bool goaway_received() const { return goaway_received_; }
    const SessionStats& stats() const { return stats_; }
    // The peer's send windows as berthd sees them (may be negative).
    int64_t session_send_window() const { return session_send_window_; }
    int64_t send_window(uint32_t stream_id) const;

private:
    struct Stream {
        bool replied = false;
        bool remote_fin = false; // the peer finished sending
        bool local_fin = false;  // the owner finished; FIN goes out after the queue
        bool fin_sent = false;
        int64_t send_window = 0;  // the peer's window for our DATA
        int64_t recv_window = 0;  // our window for the peer's DATA
        size_t recv_unacked = 0;  // consumed, not yet announced in WINDOW_UPDATE
        size_t recv_outstanding = 0; // delivered, not yet consumed
        bool stalled = false;     // queued DATA waits for the peer's window
        bool unidirectional = false;
        std::string queue;
    };

    void handle(Frame& frame, std::vector<Event>& events);
    void on_data(const DataChunk& c, std::vector<Event>& events);
    void on_syn_stream(SynStream& f, std::vector<Event>& events);
    void on_syn_reply(SynReply& f, std::vector<Event>& events);
    void on_headers(HeadersFrame& f, std::vector<Event>& events);
    void on_rst(const RstStream& f, std::vector<Event>& events);
    void on_settings(const Settings& f, std::vector<Event>& events);
    void on_ping(const Ping& f, std::vector<Event>& events);
    void on_window_update(const WindowUpdate& f, std::vector<Event>& events);

    bool enforcing() const { return stats_.peer_flow_control; }
    // RST_STREAM for the peer's error on a stream, and StreamReset if it was open.
    void stream_error(uint32_t id, RstStatus status, std::string reason, std::vector<Event>& events);
    void close_stream(uint32_t id);
    void maybe_close(uint32_t id);
    bool recently_closed(uint32_t id) const;
    // Counts received DATA that the owner will never see against nothing:
    // the session window is credited at once.
    void discard_data(size_t n);
    void credit_session(size_t n);
    void pump();
    void queue_goaway(GoawayStatus status);
    // The open stream to send on; nullptr for one that has closed; throws
    // for an id the peer never opened.
    Stream* sending_stream(uint32_t id, const char* what);
    void window_update(uint32_t id, size_t delta);
    void fail(int err, std::string message, std::vector<Event>& events);

    SessionConfig config_;
    FrameDecoder decoder_;
    HeaderInflater inflater_;
    HeaderDeflater deflater_;
    std::map<uint32_t, Stream> streams_;
    std::deque<uint32_t> recently_closed_; // bounded: stray frames for them are dropped quietly
    uint32_t last_peer_stream_ = 0;     // highest id the peer opened
    uint32_t last_accepted_stream_ = 0; // highest id accepted (GOAWAY's last-good)
    uint32_t rr_next_ = 0;              // round-robin start for sending DATA
    int64_t peer_initial_window_ = default_window;
    int64_t session_send_window_ = default_window;
    int64_t session_recv_window_ = default_window;
    size_t session_recv_unacked_ = 0;
    size_t session_outstanding_ = 0;
    uint32_t next_ping_id_ = 2;
    std::vector<uint32_t> pings_out_;
    std::string output_;
    size_t output_off_ = 0;
    bool failed_ = false;
    bool goaway_sent_ = false;
    bool goaway_received_ = false;
    SessionStats stats_;
};

} // namespace berth::stream::spdy
