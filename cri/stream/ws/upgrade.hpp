// HTTP/1.1 upgrades to SPDY/3.1 and to WebSocket (RFC 6455 §4.2) for
// berthd's streaming server: check the request, negotiate the subprotocol
// (negotiate.hpp), and build the 101 or the refusal to write back.
#pragma once

#include "http_request.hpp"
#include "http_response.hpp"
#include "negotiate.hpp"

#include <span>
#include <string>
#include <string_view>

namespace berth::stream {

struct UpgradeOptions {
    // Accept a client that names no subprotocol (kubelet does: Kubernetes
    // 1.0 clients); protocol is then empty and means the unversioned one.
    // false answers 400, as newer apimachinery Handshake does for SPDY.
    bool allow_unnegotiated = true;
};

struct Upgrade {
    bool accepted = false;
    // The negotiated subprotocol; empty when the client named none.
    std::string protocol;
    // The 101 to write when accepted, else the refusal (400, 403, 405, 426).
    HttpResponse response;
};

// Whether the request asks for a WebSocket, as wsstream.IsWebSocketRequest:
// Upgrade names "websocket" and Connection holds the token "upgrade".
bool is_websocket_request(const HttpHeaders& headers);
// Whether the request asks for SPDY/3.1, as apimachinery's SPDY upgrader.
bool is_spdy_request(const HttpHeaders& headers);

// RFC 6455 §4.2.2: base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
std::string websocket_accept(std::string_view key);

// The 101 responses. An empty protocol omits the protocol header.
HttpResponse spdy_switching_protocols(std::string_view protocol);
HttpResponse websocket_switching_protocols(std::string_view key, std::string_view protocol);

// Check a WebSocket opening handshake (GET, HTTP/1.1, Upgrade: websocket,
// Connection: upgrade, a Sec-WebSocket-Key of 16 bytes, version 13) and
// negotiate. The body of a refusal says what is wrong.
Upgrade upgrade_websocket(const HttpRequest& req, std::span<const std::string_view> supported,
                          UpgradeOptions opts = {});
// Negotiate first (as kubelet's httpstream.Handshake runs before the
// upgrader), then check Connection: upgrade and Upgrade: SPDY/3.1.
Upgrade upgrade_spdy(const HttpRequest& req, std::span<const std::string_view> supported, UpgradeOptions opts = {});

} // namespace berth::stream
