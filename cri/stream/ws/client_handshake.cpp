#include "client_handshake.hpp"

#include "base64.hpp"
#include "error.hpp"
#include "random.hpp"
#include "upgrade.hpp"

#include <algorithm>
#include <cerrno>

namespace berth::stream {

namespace {

void check_field_text(std::string_view what, std::string_view s) {
    for (unsigned char c : s)
        if (c <= ' ' || c == 0x7F)
            throw Error(EINVAL, "websocket request: " + std::string(what) + " \"" + std::string(s) +
                                    "\" holds a space or control character");
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

} // namespace

std::string websocket_client_key() {
    unsigned char k[16];
    random_bytes(k, sizeof k);
    return base64_encode(std::string_view(reinterpret_cast<const char*>(k), sizeof k));
}

std::string websocket_client_request(std::string_view host, std::string_view target, std::string_view key,
                                     std::span<const std::string_view> protocols) {
    check_field_text("host", host);
    check_field_text("target", target);
    std::string r = "GET " + std::string(target) + " HTTP/1.1\r\nHost: " + std::string(host) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + std::string(key) +
                    "\r\nSec-WebSocket-Version: 13\r\n";
    if (!protocols.empty()) {
        r += "Sec-WebSocket-Protocol: ";
        for (size_t i = 0; i < protocols.size(); ++i) r += (i ? ", " : "") + std::string(protocols[i]);
        r += "\r\n";
    }
    return r + "\r\n";
}

size_t HttpResponseParser::feed(std::string_view bytes) {
    if (done_) return 0;
    size_t before = buf_.size();
    // Look for the blank line from a little before the new bytes: it may
    // straddle two reads.
    buf_.append(bytes);
    size_t from = before >= 3 ? before - 3 : 0;
    size_t end = buf_.find("\r\n\r\n", from);
    if (end == std::string::npos) {
        if (buf_.size() > max_)
            throw Error(EMSGSIZE, "HTTP response head longer than " + std::to_string(max_) + " bytes");
        return bytes.size();
    }
    size_t head_len = end + 4;
    if (head_len > max_) throw Error(EMSGSIZE, "HTTP response head longer than " + std::to_string(max_) + " bytes");
    buf_.resize(head_len);
    parse();
    done_ = true;
    return head_len - before;
}

void HttpResponseParser::parse() {
    std::string_view s(buf_);
    size_t eol = s.find("\r\n");
    std::string_view line = s.substr(0, eol);
    // "HTTP/1.1 101 Switching Protocols"
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' || (line.size() > 12 && line[12] != ' '))
        throw Error(EBADMSG, "HTTP response: bad status line \"" + std::string(line) + "\"");
    int status = 0;
    for (char c : line.substr(9, 3)) {
        if (c < '0' || c > '9') throw Error(EBADMSG, "HTTP response: bad status line \"" + std::string(line) + "\"");
        status = status * 10 + (c - '0');
    }
    head_.status = status;
    head_.reason = std::string(line.size() > 13 ? line.substr(13) : std::string_view{});
    s.remove_prefix(eol + 2);
    while (!s.empty()) {
        eol = s.find("\r\n");
        line = s.substr(0, eol);
        s.remove_prefix(eol + 2);
        if (line.empty()) break;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0)
            throw Error(EBADMSG, "HTTP response: bad header line \"" + std::string(line) + "\"");
        head_.headers.add(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
    }
}

std::string check_websocket_response(const HttpResponseHead& head, std::string_view key,
                                     std::span<const std::string_view> offered) {
    if (head.status != 101)
        throw Error(EPROTO, "the server answered " + std::to_string(head.status) + " " + head.reason +
                                " instead of switching to WebSocket");
    if (!head.headers.has_token("Upgrade", "websocket") || !head.headers.has_token("Connection", "upgrade"))
        throw Error(EPROTO, "the server's 101 lacks Upgrade: websocket or Connection: Upgrade");
    auto accept = head.headers.get("Sec-WebSocket-Accept");
    if (!accept || *accept != websocket_accept(key))
        throw Error(EPROTO, "the server's Sec-WebSocket-Accept does not match our key");
    auto proto = head.headers.get("Sec-WebSocket-Protocol");
    if (!proto) return "";
    if (std::find(offered.begin(), offered.end(), *proto) == offered.end())
        throw Error(EPROTO, "the server chose the subprotocol \"" + std::string(*proto) + "\", which we did not offer");
    return std::string(*proto);
}

} // namespace berth::stream
