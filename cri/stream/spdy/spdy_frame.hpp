// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 as amended by SPDY/3.1):
// the 8-byte frame header, the control frames berthd's streaming server
// needs, and DATA. Encoders append whole frames to an output string; the
// decoder takes bytes in any pieces and hands back one frame at a time,
// DATA payloads as they arrive, so a 16 MiB DATA frame is never buffered.
// Header blocks stay compressed here: spdy_headers.hpp owns them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace berth::stream::spdy {

// Control frames carry the version; SPDY/3.1 still writes 3 (§2.2.1).
constexpr uint16_t protocol_version = 3;
constexpr size_t frame_header_size = 8;
// The length field is 24 bits (§2.2.1).
constexpr uint32_t max_length_field = 0xffffff;
// Windows, deltas and stream ids are 31-bit (§2.6.8, §2.6.1).
constexpr uint32_t max_window = 0x7fffffff;
constexpr uint32_t max_stream_id = 0x7fffffff;
// The initial stream and session window (§2.6.8; the session window is 3.1's).
constexpr uint32_t default_window = 64 * 1024;

enum class ControlType : uint16_t {
    syn_stream = 1,
    syn_reply = 2,
    rst_stream = 3,
    settings = 4,
    ping = 6,
    goaway = 7,
    headers = 8,
    window_update = 9,
};

// Flags (§2.6.1, §2.2.2, §2.6.4).
constexpr uint8_t flag_fin = 0x01;
constexpr uint8_t flag_unidirectional = 0x02;
constexpr uint8_t flag_clear_settings = 0x01;

// RST_STREAM status codes (§2.6.3).
enum class RstStatus : uint32_t {
    protocol_error = 1,
    invalid_stream = 2,
    refused_stream = 3,
    unsupported_version = 4,
    cancel = 5,
    internal_error = 6,
    flow_control_error = 7,
    stream_in_use = 8,
    stream_already_closed = 9,
    invalid_credentials = 10,
    frame_too_large = 11,
};

// GOAWAY status codes (§2.6.6).
enum class GoawayStatus : uint32_t { ok = 0, protocol_error = 1, internal_error = 2 };

// SETTINGS ids (§2.6.4).
enum class SettingId : uint32_t {
    upload_bandwidth = 1,
    download_bandwidth = 2,
    round_trip_time = 3,
    max_concurrent_streams = 4,
    current_cwnd = 5,
    download_retrans_rate = 6,
    initial_window_size = 7,
    client_certificate_vector_size = 8,
};

std::string_view to_string(ControlType t);
// "PROTOCOL_ERROR", ..., or "status N" for a code the draft does not define.
std::string rst_status_name(uint32_t status);

struct SynStream {
    uint32_t stream_id = 0;
    uint32_t associated_id = 0;
    uint8_t priority = 0; // 3 bits, 0 highest
    uint8_t slot = 0;
    uint8_t flags = 0;
    std::string header_block; // compressed
};

struct SynReply {
    uint32_t stream_id = 0;
    uint8_t flags = 0;
    std::string header_block; // compressed
};

struct RstStream {
    uint32_t stream_id = 0;
    uint32_t status = 0; // RstStatus, kept raw: a peer may send any code
};

struct Setting {
    uint8_t flags = 0;
    uint32_t id = 0; // 24 bits
    uint32_t value = 0;
};

struct Settings {
    uint8_t flags = 0;
    std::vector<Setting> entries;
};

struct Ping {
    uint32_t id = 0;
};

struct Goaway {
    uint32_t last_good_stream_id = 0;
    uint32_t status = 0; // GoawayStatus, kept raw
};

struct HeadersFrame {
    uint32_t stream_id = 0;
    uint8_t flags = 0;
    std::string header_block; // compressed
};

struct WindowUpdate {
    uint32_t stream_id = 0; // 0: the session window (3.1)
    uint32_t delta = 0;
};

// A piece of a DATA frame's payload as it arrived. `data` points into the
// bytes given to FrameDecoder::next and is valid while they are. A frame
// yields one chunk per call that had some of its payload (one empty chunk
// for an empty frame); the last has end_of_frame, and fin if the frame
// had FLAG_FIN.
struct DataChunk {
    uint32_t stream_id = 0;
    std::string_view data;
    bool end_of_frame = false;
    bool fin = false;
};

using Frame = std::variant<DataChunk, SynStream, SynReply, RstStream, Settings, Ping, Goaway, HeadersFrame, WindowUpdate>;

// Encoders: append one whole frame to `out`. They throw Error(EINVAL) for
// a stream id or delta out of its 31 bits and Error(EMSGSIZE) for a
// payload past the 24-bit length.
void encode(const SynStream& f, std::string& out);
void encode(const SynReply& f, std::string& out);
void encode(const RstStream& f, std::string& out);
void encode(const Settings& f, std::string& out);
void encode(const Ping& f, std::string& out);
void encode(const Goaway& f, std::string& out);
void encode(const HeadersFrame& f, std::string& out);
void encode(const WindowUpdate& f, std::string& out);
void encode_data(uint32_t stream_id, std::string_view data, bool fin, std::string& out);

struct DecoderLimits {
    // Whole frame, header included. The 24-bit length already stops at
    // 16 MiB - 1; berthd may lower it. DATA is never buffered whole.
    size_t max_frame_size = (16u << 20) + frame_header_size;
    // Control frames are buffered whole to be parsed, so they get their
    // own, smaller cap (kubelet's header blocks are a few hundred bytes).
    size_t max_control_frame_size = (1u << 20) + frame_header_size;
};

// Reassembles frames from bytes read in arbitrary pieces. Control frames of
// a type SPDY/3.1 does not define are skipped unbuffered (§2.2.1: "ignore").
// Throws Error(EPROTO) for a malformed frame and Error(EMSGSIZE) for one
// over a limit, naming the frame and field; the byte stream cannot be
// resynchronised after that, so the decoder must not be used again.
class FrameDecoder {
public:
    explicit FrameDecoder(DecoderLimits limits = {}) : limits_(limits) {}

    // Takes bytes from the front of `in` (advancing it) until one frame or
    // DATA chunk is complete and returns it, or returns nullopt with `in`
    // empty when more bytes are needed.
    std::optional<Frame> next(std::string_view& in);

    // Unknown control frames skipped so far.
    uint64_t ignored_frames() const { return ignored_; }

private:
    enum class State { header, control, data, skip };
    Frame parse_control();

    DecoderLimits limits_;
    State state_ = State::header;
    std::string buf_; // the header being read, then a control frame's payload
    uint16_t type_ = 0;
    uint8_t flags_ = 0;
    uint32_t length_ = 0;
    uint32_t stream_id_ = 0; // DATA frame being read
    uint32_t remaining_ = 0; // DATA or skipped payload bytes still to come
    uint64_t ignored_ = 0;
};

} // namespace berth::stream::spdy
