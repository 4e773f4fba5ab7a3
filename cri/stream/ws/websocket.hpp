// One end of a WebSocket connection (RFC 6455) as a state machine: bytes
// from the peer go in (feed), events come out, and the frames to write pile
// up in an output buffer the owner drains to the socket. No threads, no
// sockets, no blocking. berthd's streaming server is the server end;
// berthctl's exec, attach and port-forward the client end.
//
// Masking follows the role (§5.1): a server takes only masked frames and
// sends unmasked ones; a client takes only unmasked frames and masks each
// of its own with a fresh random key. The decoder reassembles fragmented messages (§5.4) with control frames interleaved,
// answers pings with pongs and a close with a close (§5.5), and checks text
// messages and close reasons are UTF-8 (§8.1). A message larger than
// Limits::max_message, or any malformed frame, fails the connection (§7.1.7):
// an error event, a close frame with the code (1002, 1007 or 1009) queued,
// and nothing more is read. Memory held is bounded by max_message plus one
// frame header and at most one queued pong and close.
//
// Backpressure is the owner's: stop reading from the socket while
// pending_output() holds more than it wants buffered.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::stream {

// §5.2 opcodes.
enum class WsOpcode : uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

// §7.4.1 close codes berth sends or reports.
namespace ws_close {
inline constexpr uint16_t normal = 1000;
inline constexpr uint16_t going_away = 1001;
inline constexpr uint16_t protocol_error = 1002;
inline constexpr uint16_t unsupported_data = 1003;
inline constexpr uint16_t no_status = 1005;         // reported, never sent: the close carried no code
inline constexpr uint16_t invalid_payload = 1007;   // text that is not UTF-8
inline constexpr uint16_t policy_violation = 1008;
inline constexpr uint16_t message_too_big = 1009;
inline constexpr uint16_t internal_error = 1011;
} // namespace ws_close

// One frame. Server frames go unmasked; `mask` is for a client's (tests).
// Throws berth::Error(EINVAL) for a control frame that breaks §5.5 (over
// 125 bytes or not final).
std::string ws_encode_frame(WsOpcode op, std::string_view payload, bool fin = true,
                            const std::array<uint8_t, 4>* mask = nullptr);

// Whether bytes are well-formed UTF-8 (RFC 3629: no overlongs, surrogates or
// code points past U+10FFFF).
bool valid_utf8(std::string_view bytes);

struct WsEvent {
    enum class Kind {
        message,   // a whole data message: data, text
        ping,      // data is its payload; the pong is already queued
        pong,      // data is its payload
        close,     // the peer closed: code (1005 when it gave none) and reason in data;
                   // the answering close is queued unless one was sent already
        error,     // the peer broke the protocol: data says how, code is what
                   // the queued close frame carries
    };
    Kind kind = Kind::message;
    bool text = false;
    uint16_t code = 0;
    std::string data;
};

enum class WsRole { server, client };

class WebSocket {
public:
    struct Limits {
        // A reassembled message. Go's x/net/websocket allows 32 MiB; exec
        // clients write stdin in chunks of at most 32 KiB.
        size_t max_message = 4 * 1024 * 1024;
    };

    explicit WebSocket(WsRole role) : WebSocket(role, Limits{}) {}
    WebSocket(WsRole role, Limits limits) : role_(role), limits_(limits) {}

    // Decode the peer's bytes. Never throws for the peer's mistakes: those
    // end in an error event. After a close or an error, bytes are ignored.
    std::vector<WsEvent> feed(std::string_view bytes);

    // Queue a message or control frame. Throw berth::Error(EPIPE) once a
    // close was sent (§5.5.1), EINVAL for a ping over 125 bytes.
    void send_text(std::string_view data);
    void send_binary(std::string_view data);
    void send_ping(std::string_view payload = {});
    // Start the closing handshake (§7.1.2); reason at most 123 bytes.
    void close(uint16_t code = ws_close::normal, std::string_view reason = {});

    // Bytes to write to the socket, and how many were written.
    std::string_view pending_output() const { return std::string_view(out_).substr(out_pos_); }
    void consume_output(size_t n);

    bool close_sent() const { return close_sent_; }
    bool close_received() const { return close_received_; }
    bool failed() const { return failed_; }
    // Closing handshake done (or the connection failed) and all output
    // written: the owner closes the TCP connection (the server should
    // first, §7.1.1).
    bool finished() const { return (failed_ || (close_sent_ && close_received_)) && pending_output().empty(); }
    WsRole role() const { return role_; }

private:
    enum class State { header, payload, done };
    void check_first_bytes(std::vector<WsEvent>& events);
    void frame_header(std::vector<WsEvent>& events);
    void frame_end(std::vector<WsEvent>& events);
    void control_frame(std::vector<WsEvent>& events);
    void fail(std::vector<WsEvent>& events, uint16_t code, std::string why);
    void queue(WsOpcode op, std::string_view payload);
    void queue_pong(std::string_view payload);
    void queue_close(uint16_t code, std::string_view reason);

    WsRole role_;
    Limits limits_;
    State state_ = State::header;
    std::array<uint8_t, 14> hdr_{};   // 2 + 8 (length) + 4 (mask) at most
    size_t hdr_have_ = 0;
    uint64_t frame_no_ = 0;           // frames decoded, for error messages
    // The frame being read.
    WsOpcode op_ = WsOpcode::continuation;
    bool fin_ = false;
    bool masked_ = false;
    std::array<uint8_t, 4> mask_{};
    uint64_t remaining_ = 0;
    uint64_t frame_pos_ = 0;          // payload bytes of this frame read so far
    std::string control_;             // a control frame's payload (<= 125)
    // The data message being reassembled.
    bool in_message_ = false;
    bool message_text_ = false;
    std::string message_;

    std::string out_;
    size_t out_pos_ = 0;
    // A queued pong not yet started on the wire: a newer ping replaces it
    // (§5.5.3 allows answering only the most recent), so a client's pings
    // cannot pile up output.
    bool pong_pending_ = false;
    size_t pong_begin_ = 0, pong_end_ = 0;
    bool close_sent_ = false;
    bool close_received_ = false;
    bool failed_ = false;
};

// The two ends, named for what they are.
class WebSocketServer : public WebSocket {
public:
    WebSocketServer() : WebSocket(WsRole::server) {}
    explicit WebSocketServer(Limits limits) : WebSocket(WsRole::server, limits) {}
};
class WebSocketClient : public WebSocket {
public:
    WebSocketClient() : WebSocket(WsRole::client) {}
    explicit WebSocketClient(Limits limits) : WebSocket(WsRole::client, limits) {}
};

} // namespace berth::stream
