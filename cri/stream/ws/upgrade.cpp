#include "upgrade.hpp"

#include "base64.hpp"
#include "error.hpp"
#include "http_text.hpp"

#include <openssl/evp.h>

namespace berth::stream {

namespace {

// RFC 6455 §1.3: the GUID a server appends to the client's key.
constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

Upgrade refuse(HttpResponse r) {
    Upgrade u;
    u.response = std::move(r);
    return u;
}

std::string sha1(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr) != 1)
        throw Error("websocket accept key: SHA-1 failed");
    return std::string(reinterpret_cast<char*>(md), len);
}

} // namespace

bool is_websocket_request(const HttpHeaders& headers) {
    return headers.has_token("Upgrade", "websocket") && headers.has_token("Connection", "upgrade");
}

bool is_spdy_request(const HttpHeaders& headers) {
    return headers.has_token("Upgrade", "SPDY/3.1") && headers.has_token("Connection", "upgrade");
}

std::string websocket_accept(std::string_view key) {
    std::string input(key);
    input += websocket_guid;
    return base64_encode(sha1(input));
}

HttpResponse spdy_switching_protocols(std::string_view protocol) {
    HttpResponse r;
    r.status = 101;
    r.add("Connection", "Upgrade").add("Upgrade", "SPDY/3.1");
    if (!protocol.empty()) r.add("X-Stream-Protocol-Version", std::string(protocol));
    return r;
}

HttpResponse websocket_switching_protocols(std::string_view key, std::string_view protocol) {
    HttpResponse r;
    r.status = 101;
    r.add("Upgrade", "websocket").add("Connection", "Upgrade").add("Sec-WebSocket-Accept", websocket_accept(key));
    if (!protocol.empty()) r.add("Sec-WebSocket-Protocol", std::string(protocol));
    return r;
}

Upgrade upgrade_websocket(const HttpRequest& req, std::span<const std::string_view> supported, UpgradeOptions opts) {
    const HttpHeaders& h = req.headers;
    // RFC 6455 §4.2.1, items 1-6, in that order.
    if (req.method != "GET") {
        HttpResponse r = text_response(405, "websocket upgrade: method " + req.method + " is not GET");
        r.add("Allow", "GET");
        return refuse(std::move(r));
    }
    if (req.version_minor < 1) return refuse(text_response(400, "websocket upgrade: HTTP/1.1 required"));
    if (!h.has_token("Upgrade", "websocket"))
        return refuse(text_response(400, "websocket upgrade: header Upgrade does not name websocket"));
    if (!h.has_token("Connection", "upgrade"))
        return refuse(text_response(400, "websocket upgrade: header Connection has no upgrade token"));
    auto keys = h.get_all("Sec-WebSocket-Key");
    if (keys.size() != 1)
        return refuse(text_response(400, keys.empty() ? "websocket upgrade: header Sec-WebSocket-Key missing"
                                                       : "websocket upgrade: header Sec-WebSocket-Key repeated"));
    std::string_view key = http_text::trim_ows(keys[0]);
    bool key_ok = false;
    try {
        key_ok = base64_decode(key).size() == 16;
    } catch (const Error&) {
    }
    if (!key_ok)
        return refuse(text_response(400, "websocket upgrade: header Sec-WebSocket-Key is not 16 bytes in base64"));
    auto versions = h.list("Sec-WebSocket-Version");
    if (versions.size() != 1 || versions[0] != "13") {
        // §4.4: name the versions this server speaks.
        HttpResponse r = text_response(426, "websocket upgrade: header Sec-WebSocket-Version must be 13");
        r.add("Sec-WebSocket-Version", "13");
        return refuse(std::move(r));
    }
    Negotiation n = negotiate(h, Transport::websocket, supported);
    if (n.outcome == Negotiation::Outcome::no_common)
        return refuse(negotiation_refusal(n, Transport::websocket, supported));
    if (n.outcome == Negotiation::Outcome::none_requested && !opts.allow_unnegotiated)
        return refuse(text_response(400, "unable to upgrade: Sec-WebSocket-Protocol is required"));
    Upgrade u;
    u.accepted = true;
    u.protocol = n.protocol;
    u.response = websocket_switching_protocols(key, n.protocol);
    return u;
}

Upgrade upgrade_spdy(const HttpRequest& req, std::span<const std::string_view> supported, UpgradeOptions opts) {
    Negotiation n = negotiate(req.headers, Transport::spdy, supported);
    if (n.outcome == Negotiation::Outcome::no_common) return refuse(negotiation_refusal(n, Transport::spdy, supported));
    if (n.outcome == Negotiation::Outcome::none_requested && !opts.allow_unnegotiated)
        return refuse(text_response(400, "unable to upgrade: X-Stream-Protocol-Version is required"));
    if (!is_spdy_request(req.headers))
        return refuse(text_response(400, "unable to upgrade: missing upgrade headers in request: "
                                         "Connection: upgrade and Upgrade: SPDY/3.1 required"));
    Upgrade u;
    u.accepted = true;
    u.protocol = n.protocol;
    u.response = spdy_switching_protocols(n.protocol);
    return u;
}

} // namespace berth::stream
