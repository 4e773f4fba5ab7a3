// The client side of the WebSocket opening handshake (RFC 6455 §4.1), for
// berthctl's exec, attach and port-forward: the GET request that asks for
// the upgrade, an incremental parser for the server's response head, and
// the checks on a 101 (accept key, Upgrade, Connection, a subprotocol we
// offered).
#pragma once

#include "http_request.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace berth::stream {

// A fresh Sec-WebSocket-Key: base64 of 16 random bytes (§4.1).
std::string websocket_client_key();

// The request head: GET target HTTP/1.1, Host, the upgrade fields, the key,
// version 13 and the subprotocols in preference order (none: no field).
// Throws Error(EINVAL) for a host or target holding a space or control
// character (no request splitting).
std::string websocket_client_request(std::string_view host, std::string_view target, std::string_view key,
                                     std::span<const std::string_view> protocols);

struct HttpResponseHead {
    int status = 0;
    std::string reason;
    HttpHeaders headers;
};

// The response head, fed as bytes arrive; the bytes after it belong to the
// WebSocket (or are a refusal's body). Throws Error(EBADMSG) for a
// malformed head, EMSGSIZE past max_head_bytes.
class HttpResponseParser {
public:
    explicit HttpResponseParser(size_t max_head_bytes = 32 * 1024) : max_(max_head_bytes) {}
    // Returns how many bytes were part of the head.
    size_t feed(std::string_view bytes);
    bool done() const { return done_; }
    const HttpResponseHead& head() const { return head_; }

private:
    void parse();

    size_t max_;
    std::string buf_;
    bool done_ = false;
    HttpResponseHead head_;
};

// Checks a 101 against what was asked; returns the subprotocol the server
// chose ("" when it named none). Throws Error(EPROTO) saying what is wrong:
// another status (the caller reports the body), a missing or wrong accept
// key, a protocol that was not offered.
std::string check_websocket_response(const HttpResponseHead& head, std::string_view key,
                                     std::span<const std::string_view> offered);

} // namespace berth::stream
