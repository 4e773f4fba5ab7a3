// The Kubernetes channel protocol over WebSocket messages (apimachinery
// wsstream/conn.go; remotecommand and portforward in kubelet):
//  - binary protocols (channel.k8s.io, v4.channel.k8s.io, v5.channel.k8s.io):
//    a message is one byte of channel number, then the data;
//  - base64 protocols (base64.channel.k8s.io, v4.base64.channel.k8s.io):
//    a text message, the character '0'+channel, then the data in base64;
//  - v5 adds the CLOSE signal: channel 255 with one byte naming the channel
//    whose writer is done (client-go's stream.Close).
// exec/attach number their channels as the file descriptors: 0 stdin, 1
// stdout, 2 stderr, then 3 error (the exit status) and 4 resize;
// port-forward gives each requested port i the channels 2i (data) and
// 2i+1 (error), each starting with the port as 2 little-endian bytes.
//
// Also here: the resize messages (client-go's TerminalSize JSON) and the
// status kubelet writes on the error channel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::stream {

namespace channel {
inline constexpr uint8_t stdin_ = 0;
inline constexpr uint8_t stdout_ = 1;
inline constexpr uint8_t stderr_ = 2;
inline constexpr uint8_t error = 3;
inline constexpr uint8_t resize = 4;
inline constexpr uint8_t close_signal = 255;   // v5 (remotecommand.StreamClose)

// port-forward: the channels of the i-th port in the request.
constexpr uint8_t portforward_data(size_t port_index) { return static_cast<uint8_t>(2 * port_index); }
constexpr uint8_t portforward_error(size_t port_index) { return static_cast<uint8_t>(2 * port_index + 1); }
} // namespace channel

// What a negotiated WebSocket subprotocol means for the framing.
struct ChannelProtocol {
    bool base64 = false;        // text messages, base64 data
    int version = 1;            // 1 (unversioned), 4 or 5
    bool close_signal = false;  // v5: channel 255 half-closes a stream
};

// The framing of a negotiated WebSocket subprotocol; "" (the client named
// none) is binary v1, as kubelet treats it. nullopt for a name that is not
// a channel protocol.
std::optional<ChannelProtocol> channel_protocol(std::string_view negotiated);

struct ChannelMessage {
    enum class Kind {
        data,    // data for `channel`
        close,   // v5 CLOSE signal: the peer will write no more on `channel`
    };
    Kind kind = Kind::data;
    uint8_t channel = 0;
    std::string data;
};

class ChannelCodec {
public:
    explicit ChannelCodec(ChannelProtocol p) : p_(p) {}

    // Decode one WebSocket message (text or binary: Kubernetes reads both
    // alike). nullopt for an empty message, which Kubernetes skips. Throws
    // berth::Error(EPROTO) for a bad channel character, bad base64 or a
    // malformed CLOSE signal, naming the channel.
    std::optional<ChannelMessage> decode(std::string_view payload) const;

    // The payload of a message carrying `data` on `channel`; send it as
    // text when text() (base64 protocols), else binary.
    std::string encode(uint8_t channel, std::string_view data) const;
    // The v5 CLOSE signal for `channel`. Throws berth::Error(ENOTSUP) on a
    // protocol without it.
    std::string encode_close(uint8_t channel) const;

    bool text() const { return p_.base64; }
    const ChannelProtocol& protocol() const { return p_; }

private:
    ChannelProtocol p_;
};

// The 2-byte little-endian port kubelet writes first on both channels of a
// forwarded port (portforward/websocket.go).
std::string portforward_port_prefix(uint16_t port);

// A terminal size from the resize channel: client-go's TerminalSize,
// {"Width":W,"Height":H}.
struct TerminalSize {
    uint16_t width = 0;
    uint16_t height = 0;
    bool operator==(const TerminalSize&) const = default;
};

// Parse one resize object. Keys match case-insensitively and unknown keys
// are ignored, as Go's encoding/json does; absent or null fields stay 0.
// Throws berth::Error(EINVAL) naming the field ("resize message: Width:
// 70000 out of range for uint16").
TerminalSize parse_terminal_size(std::string_view json);

// The resize stream is JSON objects back to back (kubelet reads it with a
// json.Decoder): over WebSocket one per message, over SPDY in any chunks.
// feed() returns the sizes completed by the bytes; throws berth::Error
// (EINVAL, or EMSGSIZE for an object over max_object bytes) on a bad
// stream, after which the decoder is unusable.
class ResizeDecoder {
public:
    explicit ResizeDecoder(size_t max_object = 4096) : max_object_(max_object) {}
    std::vector<TerminalSize> feed(std::string_view bytes);

private:
    size_t max_object_;
    std::string object_;
    int depth_ = 0;
    bool in_string_ = false;
    bool escape_ = false;
    bool failed_ = false;
};

// The exit status kubelet writes on the error channel at the end of an exec.
// v4 and v5: a metav1.Status JSON, Success for exit code 0, else Failure
// with reason NonZeroExitCode and details.causes [{reason: ExitCode,
// message: "N"}] (kubelet's remotecommand/exec.go; client-go's
// errorDecoderV4 reads N as a uint8, so code must be 0-255, else
// berth::Error(EINVAL)). `detail` ends the message ("command terminated
// with non-zero exit code: <detail>"); empty gives "exit status N".
std::string exit_status_json(int code, std::string_view detail = {});
// v4 and v5: an error that is not the command's exit (the exec could not
// run), as apierrors.NewInternalError: Failure, code 500, reason
// InternalError.
std::string internal_error_status_json(std::string_view message);
// v1 to v3: the error channel carries only a failure's message as text,
// nothing on success (kubelet's v1WriteStatusFunc).
std::string legacy_exit_status_text(int code, std::string_view detail = {});
std::string legacy_internal_error_text(std::string_view message);

// The client's reading of the error channel at the end of an exec or
// attach, as client-go's error decoders: v4 and v5 parse the Status
// (Success: 0; NonZeroExitCode: its ExitCode cause, 0-255; any other
// failure: its message as the error); v1 to v3 take non-empty text as the
// error. An empty stream is success. A malformed status is an error that
// says so.
struct RemoteExit {
    int exit_code = 0;
    std::string error;   // set: the exec failed for another reason than its exit code
};
RemoteExit decode_exit_status(int version, std::string_view error_stream);

} // namespace berth::stream
