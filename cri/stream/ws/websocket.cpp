#include "websocket.hpp"

#include "error.hpp"
#include "random.hpp"

#include <algorithm>
#include <cerrno>

namespace berth::stream {

namespace {

bool is_control(WsOpcode op) { return static_cast<uint8_t>(op) & 0x8; }

bool known_opcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

// §7.4: the codes a close frame may carry on the wire. 1004-1006 and 1015
// are reserved or only reported locally; 1012-1014 were registered with
// IANA after the RFC; 3000-4999 belong to libraries and applications.
bool valid_close_code(uint16_t c) {
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

constexpr size_t max_control_payload = 125;   // §5.5

// A close reason cut to fit a control frame (2 bytes of code + 123), at a
// UTF-8 character boundary.
std::string_view fit_reason(std::string_view r) {
    if (r.size() <= max_control_payload - 2) return r;
    size_t n = max_control_payload - 2;
    while (n > 0 && (static_cast<unsigned char>(r[n]) & 0xC0) == 0x80) --n;
    return r.substr(0, n);
}

} // namespace

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;   // continuation byte, overlong lead (C0, C1) or past F4
        }
        if (i + n >= s.size()) return false;   // truncated sequence
        for (size_t k = 1; k <= n; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = cp << 6 | (cc & 0x3F);
        }
        static constexpr uint32_t min_for[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_for[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

std::string ws_encode_frame(WsOpcode op, std::string_view payload, bool fin, const std::array<uint8_t, 4>* mask) {
    if (is_control(op) && (payload.size() > max_control_payload || !fin))
        throw Error(EINVAL, "websocket control frame: payload of " + std::to_string(payload.size()) +
                                " bytes or fragmented (RFC 6455 §5.5 allows 125, final only)");
    std::string f;
    f.reserve(payload.size() + 14);
    f += static_cast<char>((fin ? 0x80 : 0) | static_cast<uint8_t>(op));
    uint8_t m = mask ? 0x80 : 0;
    uint64_t n = payload.size();
    // §5.2: 7-bit length up to 125, 126 + 16-bit, 127 + 64-bit (network order).
    if (n <= 125) {
        f += static_cast<char>(m | n);
    } else if (n <= 0xFFFF) {
        f += static_cast<char>(m | 126);
        f += static_cast<char>(n >> 8);
        f += static_cast<char>(n);
    } else {
        f += static_cast<char>(m | 127);
        for (int s = 56; s >= 0; s -= 8) f += static_cast<char>(n >> s);
    }
    if (!mask) {
        f.append(payload);
        return f;
    }
    for (uint8_t b : *mask) f += static_cast<char>(b);
    size_t at = f.size();
    f.append(payload);
    for (size_t i = 0; i < payload.size(); ++i) f[at + i] = static_cast<char>(f[at + i] ^ (*mask)[i % 4]);
    return f;
}

void WebSocket::fail(std::vector<WsEvent>& events, uint16_t code, std::string why) {
    failed_ = true;
    state_ = State::done;
    message_.clear();
    message_.shrink_to_fit();
    if (!close_sent_) queue_close(code, why);
    WsEvent e;
    e.kind = WsEvent::Kind::error;
    e.code = code;
    e.data = std::move(why);
    events.push_back(std::move(e));
}

std::vector<WsEvent> WebSocket::feed(std::string_view bytes) {
    std::vector<WsEvent> events;
    while (!bytes.empty() && state_ != State::done) {
        if (state_ == State::header) {
            // The first 2 bytes are checked as soon as they arrive; then the
            // extended length and the mask key they announce.
            if (hdr_have_ < 2) {
                size_t take = std::min<size_t>(2 - hdr_have_, bytes.size());
                std::copy_n(bytes.data(), take, hdr_.data() + hdr_have_);
                hdr_have_ += take;
                bytes.remove_prefix(take);
                if (hdr_have_ == 2) check_first_bytes(events);
                continue;
            }
            uint8_t len7 = hdr_[1] & 0x7F;
            size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (hdr_[1] & 0x80 ? 4 : 0);
            size_t take = std::min(need - hdr_have_, bytes.size());
            std::copy_n(bytes.data(), take, hdr_.data() + hdr_have_);
            hdr_have_ += take;
            bytes.remove_prefix(take);
            if (hdr_have_ == need) frame_header(events);
            continue;
        }
        // Payload: unmask into the message or the control buffer as it comes.
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size()));
        std::string& dst = is_control(op_) ? control_ : message_;
        size_t at = dst.size();
        dst.append(bytes.substr(0, take));
        if (masked_)
            for (size_t i = 0; i < take; ++i) dst[at + i] = static_cast<char>(dst[at + i] ^ mask_[(frame_pos_ + i) % 4]);
        frame_pos_ += take;
        remaining_ -= take;
        bytes.remove_prefix(take);
        if (remaining_ == 0) frame_end(events);
    }
    return events;
}

// The first 2 header bytes: flags, opcode, mask bit, 7-bit length.
void WebSocket::check_first_bytes(std::vector<WsEvent>& events) {
    std::string where = "websocket frame " + std::to_string(frame_no_ + 1);
    uint8_t b0 = hdr_[0], b1 = hdr_[1];
    uint8_t op = b0 & 0x0F;
    if (b0 & 0x70) return fail(events, ws_close::protocol_error, where + ": RSV bits set, no extension negotiated");
    if (!known_opcode(op)) return fail(events, ws_close::protocol_error, where + ": unknown opcode " + std::to_string(op));
    bool masked = b1 & 0x80;
    if (role_ == WsRole::server && !masked)
        return fail(events, ws_close::protocol_error, where + ": client frame not masked (RFC 6455 §5.1)");
    if (role_ == WsRole::client && masked)
        return fail(events, ws_close::protocol_error, where + ": server frame masked (RFC 6455 §5.1)");
    bool control = op & 0x8;
    if (control && !(b0 & 0x80)) return fail(events, ws_close::protocol_error, where + ": fragmented control frame");
    if (control && (b1 & 0x7F) > max_control_payload)
        return fail(events, ws_close::protocol_error, where + ": control frame longer than 125 bytes");
}

// The whole header (checked by check_first_bytes): length and mask key.
void WebSocket::frame_header(std::vector<WsEvent>& events) {
    std::string where = "websocket frame " + std::to_string(frame_no_ + 1);
    uint8_t b0 = hdr_[0];
    uint8_t op = b0 & 0x0F;
    uint8_t len7 = hdr_[1] & 0x7F;
    uint64_t len = len7;
    size_t p = 2;
    if (len7 == 126) {
        len = static_cast<uint64_t>(hdr_[2]) << 8 | hdr_[3];
        p = 4;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; ++i) len = len << 8 | hdr_[2 + i];
        p = 10;
        if (len >> 63) return fail(events, ws_close::protocol_error, where + ": 64-bit length with its top bit set");
    }
    masked_ = hdr_[1] & 0x80;
    if (masked_) std::copy_n(hdr_.data() + p, 4, mask_.data());
    op_ = static_cast<WsOpcode>(op);
    fin_ = b0 & 0x80;
    remaining_ = len;
    frame_pos_ = 0;
    hdr_have_ = 0;
    ++frame_no_;
    if (!is_control(op_)) {
        if (op_ == WsOpcode::continuation && !in_message_)
            return fail(events, ws_close::protocol_error, where + ": continuation frame with no message begun");
        if (op_ != WsOpcode::continuation && in_message_)
            return fail(events, ws_close::protocol_error, where + ": new message before the last one's final fragment");
        if (len > limits_.max_message - message_.size())
            return fail(events, ws_close::message_too_big,
                        where + ": message longer than " + std::to_string(limits_.max_message) + " bytes");
        if (op_ != WsOpcode::continuation) {
            in_message_ = true;
            message_text_ = op_ == WsOpcode::text;
        }
    } else {
        control_.clear();
    }
    state_ = State::payload;
    if (remaining_ == 0) frame_end(events);
}

void WebSocket::frame_end(std::vector<WsEvent>& events) {
    state_ = State::header;
    if (is_control(op_)) return control_frame(events);
    if (!fin_) return;
    in_message_ = false;
    if (message_text_ && !valid_utf8(message_))
        return fail(events, ws_close::invalid_payload,
                    "websocket frame " + std::to_string(frame_no_) + ": text message is not UTF-8");
    WsEvent e;
    e.kind = WsEvent::Kind::message;
    e.text = message_text_;
    e.data = std::move(message_);
    message_.clear();
    events.push_back(std::move(e));
}

void WebSocket::control_frame(std::vector<WsEvent>& events) {
    std::string where = "websocket frame " + std::to_string(frame_no_);
    WsEvent e;
    if (op_ == WsOpcode::ping) {
        if (!close_sent_) queue_pong(control_);
        e.kind = WsEvent::Kind::ping;
        e.data = control_;
        events.push_back(std::move(e));
        return;
    }
    if (op_ == WsOpcode::pong) {
        e.kind = WsEvent::Kind::pong;
        e.data = control_;
        events.push_back(std::move(e));
        return;
    }
    // Close (§5.5.1): empty, or a 2-byte code and a UTF-8 reason.
    if (control_.size() == 1) return fail(events, ws_close::protocol_error, where + ": close frame of 1 byte");
    e.kind = WsEvent::Kind::close;
    e.code = ws_close::no_status;
    if (control_.size() >= 2) {
        e.code = static_cast<uint16_t>(static_cast<uint8_t>(control_[0]) << 8 | static_cast<uint8_t>(control_[1]));
        if (!valid_close_code(e.code))
            return fail(events, ws_close::protocol_error, where + ": invalid close code " + std::to_string(e.code));
        e.data = control_.substr(2);
        if (!valid_utf8(e.data)) return fail(events, ws_close::invalid_payload, where + ": close reason is not UTF-8");
    }
    close_received_ = true;
    state_ = State::done;
    message_.clear();
    // Echo the peer's code, as endpoints typically do (§5.5.1).
    if (!close_sent_) queue_close(e.code == ws_close::no_status ? 0 : e.code, {});
    events.push_back(std::move(e));
}

void WebSocket::queue(WsOpcode op, std::string_view payload) {
    if (role_ == WsRole::server) {
        out_ += ws_encode_frame(op, payload);
        return;
    }
    // §5.3: a fresh unpredictable key per frame, so a client's payload
    // cannot be chosen to look like bytes an intermediary would act on.
    std::array<uint8_t, 4> key;
    random_bytes(key.data(), key.size());
    out_ += ws_encode_frame(op, payload, true, &key);
}

void WebSocket::queue_pong(std::string_view payload) {
    if (pong_pending_) out_.erase(pong_begin_, pong_end_ - pong_begin_);
    pong_begin_ = out_.size();
    queue(WsOpcode::pong, payload);
    pong_end_ = out_.size();
    pong_pending_ = true;
}

// code 0: a close frame without a body.
void WebSocket::queue_close(uint16_t code, std::string_view reason) {
    std::string body;
    if (code) {
        body += static_cast<char>(code >> 8);
        body += static_cast<char>(code);
        body += fit_reason(reason);
    }
    queue(WsOpcode::close, body);
    close_sent_ = true;
}

void WebSocket::consume_output(size_t n) {
    out_pos_ += std::min(n, out_.size() - out_pos_);
    if (pong_pending_ && out_pos_ > pong_begin_) pong_pending_ = false;   // on the wire now
    if (out_pos_ == out_.size()) {
        out_.clear();
        out_pos_ = 0;
    } else if (out_pos_ >= 64 * 1024 && out_pos_ * 2 >= out_.size()) {
        // Drop the written prefix once it dominates the buffer.
        out_.erase(0, out_pos_);
        pong_begin_ -= pong_pending_ ? out_pos_ : 0;
        pong_end_ -= pong_pending_ ? out_pos_ : 0;
        out_pos_ = 0;
    }
}

void WebSocket::send_text(std::string_view data) {
    if (close_sent_) throw Error(EPIPE, "websocket: send after close");
    if (!valid_utf8(data)) throw Error(EINVAL, "websocket: text message is not UTF-8");
    queue(WsOpcode::text, data);
}

void WebSocket::send_binary(std::string_view data) {
    if (close_sent_) throw Error(EPIPE, "websocket: send after close");
    queue(WsOpcode::binary, data);
}

void WebSocket::send_ping(std::string_view payload) {
    if (close_sent_) throw Error(EPIPE, "websocket: ping after close");
    queue(WsOpcode::ping, payload);
}

void WebSocket::close(uint16_t code, std::string_view reason) {
    if (close_sent_) throw Error(EPIPE, "websocket: close sent twice");
    if (!valid_close_code(code)) throw Error(EINVAL, "websocket: close code " + std::to_string(code) + " may not be sent");
    if (reason.size() > max_control_payload - 2 || !valid_utf8(reason))
        throw Error(EINVAL, "websocket: close reason over 123 bytes or not UTF-8");
    queue_close(code, reason);
}

} // namespace berth::stream
