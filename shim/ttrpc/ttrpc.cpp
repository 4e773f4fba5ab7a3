#include "ttrpc.hpp"

#include "error.hpp"

namespace berth::ttrpc {

namespace {

void put_be32(std::string& out, uint32_t v) {
    out += static_cast<char>(v >> 24);
    out += static_cast<char>(v >> 16);
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v);
}

uint32_t get_be32(const char* p) {
    auto b = reinterpret_cast<const unsigned char*>(p);
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

} // namespace

std::string encode_frame(uint32_t stream, MsgType type, uint8_t flags, std::string_view payload, uint32_t limit) {
    if (payload.size() > limit)
        throw Error(EMSGSIZE, "ttrpc: message of " + std::to_string(payload.size()) + " bytes exceeds the " +
                                  std::to_string(limit) + "-byte limit");
    std::string out;
    out.reserve(header_size + payload.size());
    put_be32(out, static_cast<uint32_t>(payload.size()));
    put_be32(out, stream);
    out += static_cast<char>(type);
    out += static_cast<char>(flags);
    out.append(payload);
    return out;
}

void FrameDecoder::feed(const char* data, size_t n) {
    // Compact once the consumed prefix dominates, so the buffer stays small.
    if (off_ > 0 && off_ >= buf_.size() / 2) {
        buf_.erase(0, off_);
        off_ = 0;
    }
    buf_.append(data, n);
}

std::optional<Frame> FrameDecoder::next() {
    if (buffered() < header_size) return std::nullopt;
    const char* h = buf_.data() + off_;
    uint32_t len = get_be32(h);
    if (len > limit_)
        throw Error(EMSGSIZE, "ttrpc: frame of " + std::to_string(len) + " bytes exceeds the " +
                                  std::to_string(limit_) + "-byte limit");
    if (buffered() < header_size + len) return std::nullopt;
    Frame f;
    f.stream = get_be32(h + 4);
    f.type = static_cast<uint8_t>(h[8]);
    f.flags = static_cast<uint8_t>(h[9]);
    f.payload.assign(h + header_size, len);
    off_ += header_size + len;
    if (off_ == buf_.size()) {
        buf_.clear();
        off_ = 0;
    }
    return f;
}

Code code_for_errno(int err) {
    switch (err) {
    case 0: return unknown;
    case ENOENT:
    case ESRCH: return not_found;
    case EEXIST: return already_exists;
    case EINVAL: return invalid_argument;
    case EBUSY: return failed_precondition;
    case EPERM:
    case EACCES: return permission_denied;
    case ENOTSUP:
    case ENOSYS: return unimplemented;
    default: return unknown;
    }
}

} // namespace berth::ttrpc
