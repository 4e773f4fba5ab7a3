#include "spdy_frame.hpp"

#include "error.hpp"

#include <algorithm>
#include <cerrno>

namespace berth::stream::spdy {

namespace {

void put16(std::string& out, uint32_t v) {
    out.push_back(static_cast<char>((v >> 8) & 0xff));
    out.push_back(static_cast<char>(v & 0xff));
}

void put24(std::string& out, uint32_t v) {
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    put16(out, v);
}

void put32(std::string& out, uint32_t v) {
    put16(out, v >> 16);
    put16(out, v);
}

uint32_t get16(std::string_view s, size_t at) {
    return (uint32_t(uint8_t(s[at])) << 8) | uint8_t(s[at + 1]);
}

uint32_t get24(std::string_view s, size_t at) { return (uint32_t(uint8_t(s[at])) << 16) | get16(s, at + 1); }

uint32_t get32(std::string_view s, size_t at) { return (get16(s, at) << 16) | get16(s, at + 2); }

// The top bit of a stream id or delta is reserved (the "X" of §2.6).
uint32_t get31(std::string_view s, size_t at) { return get32(s, at) & 0x7fffffff; }

void check31(uint32_t v, std::string_view frame, std::string_view field) {
    if (v > 0x7fffffff)
        throw Error(EINVAL, "SPDY " + std::string(frame) + ": " + std::string(field) + " " + std::to_string(v) +
                                " does not fit 31 bits");
}

// Control frame header (§2.2.1): C=1, version, type, flags, 24-bit length.
void control_header(std::string& out, ControlType type, uint8_t flags, size_t length) {
    if (length > max_length_field)
        throw Error(EMSGSIZE, "SPDY " + std::string(to_string(type)) + ": payload of " + std::to_string(length) +
                                  " bytes exceeds the 24-bit length");
    put16(out, 0x8000 | protocol_version);
    put16(out, static_cast<uint16_t>(type));
    out.push_back(static_cast<char>(flags));
    put24(out, static_cast<uint32_t>(length));
}

void check_stream_id(uint32_t id, ControlType type) {
    check31(id, to_string(type), "stream id");
}

[[noreturn]] void malformed(std::string_view frame, const std::string& what) {
    throw Error(EPROTO, "SPDY " + std::string(frame) + " frame: " + what);
}

void expect_length(ControlType t, uint32_t length, uint32_t want) {
    if (length != want)
        malformed(to_string(t), "length " + std::to_string(length) + ", expected " + std::to_string(want));
}

void expect_min_length(ControlType t, uint32_t length, uint32_t min) {
    if (length < min)
        malformed(to_string(t), "length " + std::to_string(length) + ", expected at least " + std::to_string(min));
}

void expect_stream(ControlType t, uint32_t id) {
    if (id == 0) malformed(to_string(t), "stream id 0");
}

} // namespace

std::string_view to_string(ControlType t) {
    switch (t) {
    case ControlType::syn_stream: return "SYN_STREAM";
    case ControlType::syn_reply: return "SYN_REPLY";
    case ControlType::rst_stream: return "RST_STREAM";
    case ControlType::settings: return "SETTINGS";
    case ControlType::ping: return "PING";
    case ControlType::goaway: return "GOAWAY";
    case ControlType::headers: return "HEADERS";
    case ControlType::window_update: return "WINDOW_UPDATE";
    }
    return "control";
}

std::string rst_status_name(uint32_t status) {
    static constexpr std::string_view names[] = {
        "PROTOCOL_ERROR", "INVALID_STREAM", "REFUSED_STREAM", "UNSUPPORTED_VERSION",
        "CANCEL", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "STREAM_IN_USE",
        "STREAM_ALREADY_CLOSED", "INVALID_CREDENTIALS", "FRAME_TOO_LARGE",
    };
    if (status >= 1 && status <= std::size(names)) return std::string(names[status - 1]);
    return "status " + std::to_string(status);
}

void encode(const SynStream& f, std::string& out) {
    check_stream_id(f.stream_id, ControlType::syn_stream);
    check31(f.associated_id, "SYN_STREAM", "associated stream id");
    control_header(out, ControlType::syn_stream, f.flags, 10 + f.header_block.size());
    put32(out, f.stream_id);
    put32(out, f.associated_id);
    out.push_back(static_cast<char>((f.priority & 0x7) << 5)); // 3-bit priority, 5 unused bits (§2.6.1)
    out.push_back(static_cast<char>(f.slot));
    out += f.header_block;
}

void encode(const SynReply& f, std::string& out) {
    check_stream_id(f.stream_id, ControlType::syn_reply);
    control_header(out, ControlType::syn_reply, f.flags, 4 + f.header_block.size());
    put32(out, f.stream_id);
    out += f.header_block;
}

void encode(const RstStream& f, std::string& out) {
    check_stream_id(f.stream_id, ControlType::rst_stream);
    control_header(out, ControlType::rst_stream, 0, 8);
    put32(out, f.stream_id);
    put32(out, f.status);
}

void encode(const Settings& f, std::string& out) {
    control_header(out, ControlType::settings, f.flags, 4 + 8 * f.entries.size());
    put32(out, static_cast<uint32_t>(f.entries.size()));
    for (const Setting& s : f.entries) {
        if (s.id > 0xffffff) throw Error(EINVAL, "SPDY SETTINGS: id " + std::to_string(s.id) + " does not fit 24 bits");
        out.push_back(static_cast<char>(s.flags)); // flags, then 24-bit id (§2.6.4)
        put24(out, s.id);
        put32(out, s.value);
    }
}

void encode(const Ping& f, std::string& out) {
    control_header(out, ControlType::ping, 0, 4);
    put32(out, f.id);
}

void encode(const Goaway& f, std::string& out) {
    check31(f.last_good_stream_id, "GOAWAY", "last-good-stream-id");
    control_header(out, ControlType::goaway, 0, 8);
    put32(out, f.last_good_stream_id);
    put32(out, f.status);
}

void encode(const HeadersFrame& f, std::string& out) {
    check_stream_id(f.stream_id, ControlType::headers);
    control_header(out, ControlType::headers, f.flags, 4 + f.header_block.size());
    put32(out, f.stream_id);
    out += f.header_block;
}

void encode(const WindowUpdate& f, std::string& out) {
    check_stream_id(f.stream_id, ControlType::window_update);
    check31(f.delta, "WINDOW_UPDATE", "delta");
    control_header(out, ControlType::window_update, 0, 8);
    put32(out, f.stream_id);
    put32(out, f.delta);
}

void encode_data(uint32_t stream_id, std::string_view data, bool fin, std::string& out) {
    check31(stream_id, "DATA", "stream id");
    if (data.size() > max_length_field)
        throw Error(EMSGSIZE, "SPDY DATA: payload of " + std::to_string(data.size()) + " bytes exceeds the 24-bit length");
    // Data frame header (§2.2.2): C=0, stream id, flags, length.
    put32(out, stream_id);
    out.push_back(static_cast<char>(fin ? flag_fin : 0));
    put24(out, static_cast<uint32_t>(data.size()));
    out += data;
}

std::optional<Frame> FrameDecoder::next(std::string_view& in) {
    for (;;) {
        switch (state_) {
        case State::header: {
            size_t take = std::min(frame_header_size - buf_.size(), in.size());
            buf_.append(in.substr(0, take));
            in.remove_prefix(take);
            if (buf_.size() < frame_header_size) return std::nullopt;

            bool control = uint8_t(buf_[0]) & 0x80;
            flags_ = uint8_t(buf_[4]);
            length_ = get24(buf_, 5);
            if (length_ + frame_header_size > limits_.max_frame_size)
                throw Error(EMSGSIZE, "SPDY frame: length " + std::to_string(length_) + " exceeds the limit of " +
                                          std::to_string(limits_.max_frame_size - frame_header_size) + " bytes");
            if (!control) {
                stream_id_ = get31(buf_, 0);
                buf_.clear();
                if (stream_id_ == 0) malformed("DATA", "stream id 0");
                remaining_ = length_;
                state_ = State::data;
                continue;
            }
            uint32_t version = get16(buf_, 0) & 0x7fff;
            type_ = static_cast<uint16_t>(get16(buf_, 2));
            buf_.clear();
            if (version != protocol_version)
                throw Error(EPROTO, "SPDY control frame type " + std::to_string(type_) + ": version " +
                                        std::to_string(version) + ", expected " + std::to_string(protocol_version));
            bool known = type_ >= 1 && type_ <= 9 && type_ != 5; // 5 was SPDY/2's NOOP
            if (!known) {
                ++ignored_;
                remaining_ = length_;
                state_ = State::skip;
                continue;
            }
            if (length_ + frame_header_size > limits_.max_control_frame_size)
                throw Error(EMSGSIZE, "SPDY " + std::string(to_string(ControlType(type_))) + " frame: length " +
                                          std::to_string(length_) + " exceeds the control frame limit of " +
                                          std::to_string(limits_.max_control_frame_size - frame_header_size) +
                                          " bytes");
            buf_.reserve(length_);
            state_ = State::control;
            continue;
        }
        case State::control: {
            size_t take = std::min<size_t>(length_ - buf_.size(), in.size());
            buf_.append(in.substr(0, take));
            in.remove_prefix(take);
            if (buf_.size() < length_) return std::nullopt;
            Frame f = parse_control();
            buf_.clear();
            buf_.shrink_to_fit();
            state_ = State::header;
            return f;
        }
        case State::data: {
            // An empty frame still yields its one (empty) chunk.
            if (remaining_ > 0 && in.empty()) return std::nullopt;
            size_t take = std::min<size_t>(remaining_, in.size());
            DataChunk c;
            c.stream_id = stream_id_;
            c.data = in.substr(0, take);
            in.remove_prefix(take);
            remaining_ -= static_cast<uint32_t>(take);
            c.end_of_frame = remaining_ == 0;
            c.fin = c.end_of_frame && (flags_ & flag_fin);
            if (c.end_of_frame) state_ = State::header;
            return c;
        }
        case State::skip: {
            size_t take = std::min<size_t>(remaining_, in.size());
            in.remove_prefix(take);
            remaining_ -= static_cast<uint32_t>(take);
            if (remaining_ > 0) return std::nullopt;
            state_ = State::header;
            continue;
        }
        }
    }
}

Frame FrameDecoder::parse_control() {
    const std::string_view p = buf_;
    const auto t = static_cast<ControlType>(type_);
    switch (t) {
    case ControlType::syn_stream: {
        // stream id, associated id, priority (3 bits) + unused, slot, header block (§2.6.1)
        expect_min_length(t, length_, 10);
        SynStream f;
        f.flags = flags_;
        f.stream_id = get31(p, 0);
        f.associated_id = get31(p, 4);
        f.priority = uint8_t(p[8]) >> 5;
        f.slot = uint8_t(p[9]);
        f.header_block.assign(p.substr(10));
        expect_stream(t, f.stream_id);
        return f;
    }
    case ControlType::syn_reply: { // §2.6.2
        expect_min_length(t, length_, 4);
        SynReply f;
        f.flags = flags_;
        f.stream_id = get31(p, 0);
        f.header_block.assign(p.substr(4));
        expect_stream(t, f.stream_id);
        return f;
    }
    case ControlType::rst_stream: { // §2.6.3
        expect_length(t, length_, 8);
        RstStream f;
        f.stream_id = get31(p, 0);
        f.status = get32(p, 4);
        expect_stream(t, f.stream_id);
        if (f.status == 0) malformed(to_string(t), "status 0 on stream " + std::to_string(f.stream_id));
        return f;
    }
    case ControlType::settings: { // count, then 8-byte entries (§2.6.4)
        expect_min_length(t, length_, 4);
        uint32_t n = get32(p, 0);
        if ((length_ - 4) / 8 != n || (length_ - 4) % 8 != 0)
            malformed(to_string(t), "length " + std::to_string(length_) + " does not hold " + std::to_string(n) +
                                        " entries");
        Settings f;
        f.flags = flags_;
        f.entries.reserve(n);
        for (uint32_t i = 0; i < n; ++i) {
            size_t at = 4 + 8 * size_t(i);
            f.entries.push_back({uint8_t(p[at]), get24(p, at + 1), get32(p, at + 4)});
        }
        return f;
    }
    case ControlType::ping: // §2.6.5
        expect_length(t, length_, 4);
        return Ping{get32(p, 0)};
    case ControlType::goaway: // §2.6.6
        expect_length(t, length_, 8);
        return Goaway{get31(p, 0), get32(p, 4)};
    case ControlType::headers: { // §2.6.7
        expect_min_length(t, length_, 4);
        HeadersFrame f;
        f.flags = flags_;
        f.stream_id = get31(p, 0);
        f.header_block.assign(p.substr(4));
        expect_stream(t, f.stream_id);
        return f;
    }
    case ControlType::window_update: // §2.6.8
        expect_length(t, length_, 8);
        return WindowUpdate{get31(p, 0), get31(p, 4)};
    }
    malformed("control", "type " + std::to_string(type_)); // unreachable: unknown types are skipped
}

} // namespace berth::stream::spdy
