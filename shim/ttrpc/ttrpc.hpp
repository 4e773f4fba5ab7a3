// ttrpc framing (containerd/ttrpc PROTOCOL.md): each message is a 10-byte
// header (payload length and stream id as big-endian uint32, a type byte,
// a flags byte) and a protobuf payload of at most 4 MiB. A unary call is
// one Request frame and one Response frame on the same odd stream id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace berth::ttrpc {

constexpr size_t header_size = 10;
constexpr uint32_t max_payload = 4u << 20;
// berth's own replies to berthd may be larger: ExecSync carries stdout and
// stderr of up to 16 MiB each (kubelet's cap). Only berth-shim's servers
// send such frames and only berthd's client reads them; containerd, which
// never calls the Pod service, never sees one.
constexpr uint32_t max_berth_payload = 40u << 20;

enum class MsgType : uint8_t { request = 1, response = 2, data = 3 };

// Flags of a Request or Data frame.
constexpr uint8_t flag_remote_closed = 0x01;
constexpr uint8_t flag_remote_open = 0x02;
constexpr uint8_t flag_no_data = 0x04;

struct Frame {
    uint32_t stream = 0;
    uint8_t type = 0;
    uint8_t flags = 0;
    std::string payload;
};

// Header and payload, ready to write. Throws Error(EMSGSIZE) over limit.
std::string encode_frame(uint32_t stream, MsgType type, uint8_t flags, std::string_view payload,
                         uint32_t limit = max_payload);

// Reassembles frames from a byte stream read in arbitrary pieces.
class FrameDecoder {
public:
    explicit FrameDecoder(uint32_t limit = max_payload) : limit_(limit) {}
    void feed(const char* data, size_t n);
    // The next whole frame, or nullopt until more bytes arrive. Throws
    // Error(EMSGSIZE) for a header announcing more than the limit: the
    // stream cannot be resynchronised, so the caller drops the connection.
    std::optional<Frame> next();
    size_t buffered() const { return buf_.size() - off_; }

private:
    uint32_t limit_;
    std::string buf_;
    size_t off_ = 0;
};

// gRPC status codes used in Response.status (containerd's errdefs map them
// back to its error kinds).
enum Code : int32_t {
    ok = 0,
    unknown = 2,
    invalid_argument = 3,
    not_found = 5,
    already_exists = 6,
    permission_denied = 7,
    failed_precondition = 9,
    unimplemented = 12,
    internal = 13,
    unavailable = 14,
};

// The status code for an errno carried by a berth::Error.
Code code_for_errno(int err);

} // namespace berth::ttrpc
