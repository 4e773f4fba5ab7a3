#include "channel.hpp"

#include "base64.hpp"
#include "error.hpp"
#include "http_text.hpp"
#include "json.hpp"
#include "protocols.hpp"

#include <cerrno>
#include <cstdlib>

namespace berth::stream {

std::optional<ChannelProtocol> channel_protocol(std::string_view p) {
    if (p.empty() || p == protocol::channel_v1) return ChannelProtocol{false, 1, false};
    if (p == protocol::base64_channel_v1) return ChannelProtocol{true, 1, false};
    if (p == protocol::channel_v4) return ChannelProtocol{false, 4, false};
    if (p == protocol::base64_channel_v4) return ChannelProtocol{true, 4, false};
    if (p == protocol::channel_v5) return ChannelProtocol{false, 5, true};
    return std::nullopt;
}

std::optional<ChannelMessage> ChannelCodec::decode(std::string_view payload) const {
    if (payload.empty()) return std::nullopt;
    ChannelMessage m;
    unsigned char first = static_cast<unsigned char>(payload[0]);
    std::string_view rest = payload.substr(1);
    if (p_.close_signal && first == channel::close_signal) {
        if (rest.size() != 1)
            throw Error(EPROTO, "channel message: CLOSE signal of " + std::to_string(payload.size()) +
                                    " bytes, expected 2 (255, channel)");
        m.kind = ChannelMessage::Kind::close;
        m.channel = static_cast<uint8_t>(rest[0]);
        return m;
    }
    if (!p_.base64) {
        m.channel = first;
        m.data = rest;
        return m;
    }
    if (first < '0')
        throw Error(EPROTO, "channel message: channel character " + std::to_string(first) + " is below '0'");
    m.channel = static_cast<uint8_t>(first - '0');
    m.data = with_context("channel " + std::to_string(m.channel), [&] { return base64_decode(rest); });
    return m;
}

std::string ChannelCodec::encode(uint8_t ch, std::string_view data) const {
    std::string out;
    if (!p_.base64) {
        out.reserve(data.size() + 1);
        out += static_cast<char>(ch);
        out.append(data);
        return out;
    }
    if (ch > 255 - '0') throw Error(EINVAL, "channel " + std::to_string(ch) + ": too high for a base64 protocol");
    out += static_cast<char>('0' + ch);
    out += base64_encode(data);
    return out;
}

std::string ChannelCodec::encode_close(uint8_t ch) const {
    if (!p_.close_signal) throw Error(ENOTSUP, "channel " + std::to_string(ch) + ": CLOSE signal needs v5.channel.k8s.io");
    return std::string{static_cast<char>(channel::close_signal), static_cast<char>(ch)};
}

std::string portforward_port_prefix(uint16_t port) {
    return std::string{static_cast<char>(port & 0xFF), static_cast<char>(port >> 8)};
}

TerminalSize parse_terminal_size(std::string_view text) {
    return with_context("resize message", [&] {
        json::Document doc(text, "");
        TerminalSize size;
        // Go's encoding/json: keys match the field names case-insensitively;
        // a later duplicate wins; null leaves the field as it is.
        for (const auto& [key, value] : doc.root().members()) {
            if (value.is_null()) continue;
            if (http_text::iequals(key, "Width"))
                size.width = value.as_uint16();
            else if (http_text::iequals(key, "Height"))
                size.height = value.as_uint16();
        }
        return size;
    });
}

std::vector<TerminalSize> ResizeDecoder::feed(std::string_view bytes) {
    if (failed_) throw Error(EINVAL, "resize stream: fed after an error");
    std::vector<TerminalSize> sizes;
    for (char c : bytes) {
        if (depth_ == 0) {
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
            if (c != '{') {
                failed_ = true;
                throw Error(EINVAL, "resize stream: expected '{', got byte " +
                                        std::to_string(static_cast<unsigned char>(c)));
            }
        }
        if (object_.size() >= max_object_) {
            failed_ = true;
            throw Error(EMSGSIZE, "resize stream: object longer than " + std::to_string(max_object_) + " bytes");
        }
        object_ += c;
        if (in_string_) {
            if (escape_)
                escape_ = false;
            else if (c == '\\')
                escape_ = true;
            else if (c == '"')
                in_string_ = false;
            continue;
        }
        if (c == '"') {
            in_string_ = true;
        } else if (c == '{' || c == '[') {
            ++depth_;
        } else if (c == '}' || c == ']') {
            if (--depth_ == 0) {
                std::string obj = std::move(object_);
                object_.clear();
                try {
                    sizes.push_back(parse_terminal_size(obj));
                } catch (...) {
                    failed_ = true;
                    throw;
                }
            }
        }
    }
    return sizes;
}

namespace {

void check_exit_code(int code) {
    if (code < 0 || code > 255) throw Error(EINVAL, "exit status: code " + std::to_string(code) + " is not 0-255");
}

std::string exit_message(int code, std::string_view detail) {
    return "command terminated with non-zero exit code: " +
           (detail.empty() ? "exit status " + std::to_string(code) : std::string(detail));
}

std::string internal_error_message(std::string_view message) {
    return "Internal error occurred: " + std::string(message);
}

} // namespace

// Field order as Go's json.Marshal of metav1.Status writes it: metadata
// (ListMeta, always present), status, message, reason, details, code.
std::string exit_status_json(int code, std::string_view detail) {
    check_exit_code(code);
    json::Writer w;
    w.begin_object().key("metadata").begin_object().end_object();
    if (code == 0) {
        w.kv("status", "Success").end_object();
        return w.str();
    }
    w.kv("status", "Failure").kv("message", exit_message(code, detail)).kv("reason", "NonZeroExitCode");
    w.key("details").begin_object().key("causes").begin_array();
    w.begin_object().kv("reason", "ExitCode").kv("message", std::to_string(code)).end_object();
    w.end_array().end_object().end_object();
    return w.str();
}

std::string internal_error_status_json(std::string_view message) {
    json::Writer w;
    w.begin_object().key("metadata").begin_object().end_object();
    w.kv("status", "Failure").kv("message", internal_error_message(message)).kv("reason", "InternalError");
    w.key("details").begin_object().key("causes").begin_array();
    w.begin_object().kv("message", message).end_object();
    w.end_array().end_object();
    w.kv("code", 500).end_object();
    return w.str();
}

std::string legacy_exit_status_text(int code, std::string_view detail) {
    check_exit_code(code);
    return code == 0 ? std::string() : exit_message(code, detail);
}

std::string legacy_internal_error_text(std::string_view message) { return internal_error_message(message); }

RemoteExit decode_exit_status(int version, std::string_view text) {
    RemoteExit r;
    if (text.empty()) return r;
    if (version < 4) {
        r.exit_code = 1;
        r.error = std::string(text);
        return r;
    }
    auto protocol_error = [&](std::string why) {
        r.exit_code = 1;
        r.error = "error stream protocol error: " + why;
        return r;
    };
    try {
        json::Document doc(text, "error stream");
        json::Value root = doc.root();
        std::string status = root.has("status") ? root.get("status").as_string() : "";
        if (status == "Success") return r;
        if (status != "Failure") return protocol_error("unknown status \"" + status + "\"");
        std::string message = root.has("message") ? root.get("message").as_string() : "";
        if (root.has("reason") && root.get("reason").as_string() == "NonZeroExitCode") {
            auto details = root.find("details");
            if (!details) return protocol_error("details must be set");
            if (auto causes = details->find("causes")) {
                for (const auto& c : causes->as_array()) {
                    if (!c.has("reason") || c.get("reason").as_string() != "ExitCode") continue;
                    std::string m = c.has("message") ? c.get("message").as_string() : "";
                    char* end = nullptr;
                    unsigned long code = std::strtoul(m.c_str(), &end, 10);
                    if (m.empty() || *end || code > 255) return protocol_error("invalid exit code value \"" + m + "\"");
                    r.exit_code = static_cast<int>(code);
                    return r;
                }
            }
            return protocol_error("no ExitCode cause given");
        }
        r.exit_code = 1;
        r.error = message.empty() ? "the exec failed with no message" : message;
        return r;
    } catch (const Error& e) {
        return protocol_error(std::string(e.what()) + " in \"" + std::string(text.substr(0, 200)) + "\"");
    }
}

} // namespace berth::stream
