// Subprotocol negotiation and the SPDY and WebSocket upgrades
// (cri/stream/ws/negotiate, upgrade).
#include "http_request.hpp"
#include "negotiate.hpp"
#include "protocols.hpp"
#include "upgrade.hpp"

#include <criterion/criterion.h>

#include <string>
#include <vector>

using namespace berth::stream;
namespace proto = berth::stream::protocol;

namespace {

HttpRequest request(const std::string& head) {
    HttpRequestParser p;
    p.feed(head + "\r\n");
    cr_assert(p.done(), "incomplete head: %s", head.c_str());
    return p.take_request();
}

// RFC 6455 §1.3's example key.
const std::string kWsHead = "GET /exec/t HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
                            "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n";
const std::string kSpdyHead = "POST /exec/t HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n";

} // namespace

Test(websocket_accept, rfc6455_section_1_3_example) {
    cr_expect_eq(websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

Test(negotiate, the_clients_order_wins) {
    HttpRequest r = request(kSpdyHead + "X-Stream-Protocol-Version: v2.channel.k8s.io\r\n"
                                        "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n");
    Negotiation n = negotiate(r.headers, Transport::spdy, proto::spdy_remotecommand);
    cr_expect(n.outcome == Negotiation::Outcome::chosen);
    // The server lists v4 first, but the client asked for v2 first.
    cr_expect_eq(n.protocol, "v2.channel.k8s.io");
    cr_assert_eq(n.offered.size(), 2u);

    // Comma-separated in one field, unknown ones skipped.
    r = request(kWsHead + "Sec-WebSocket-Protocol: v9.channel.k8s.io, v4.base64.channel.k8s.io,v4.channel.k8s.io\r\n");
    n = negotiate(r.headers, Transport::websocket, proto::websocket_remotecommand);
    cr_expect(n.outcome == Negotiation::Outcome::chosen);
    cr_expect_eq(n.protocol, "v4.base64.channel.k8s.io");
    cr_expect_eq(n.offered.size(), 3u);
}

Test(negotiate, each_transport_reads_its_own_header) {
    HttpRequest r = request(kSpdyHead + "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n");
    cr_expect(negotiate(r.headers, Transport::spdy, proto::spdy_remotecommand).outcome ==
              Negotiation::Outcome::none_requested);
    cr_expect(negotiate(r.headers, Transport::websocket, proto::websocket_remotecommand).outcome ==
              Negotiation::Outcome::chosen);
}

Test(negotiate, names_compare_exactly) {
    HttpRequest r = request(kSpdyHead + "X-Stream-Protocol-Version: V4.Channel.K8s.Io\r\n");
    Negotiation n = negotiate(r.headers, Transport::spdy, proto::spdy_remotecommand);
    cr_expect(n.outcome == Negotiation::Outcome::no_common);
}

Test(negotiate, refusal_is_403_listing_both_sides) {
    HttpRequest r = request(kSpdyHead + "X-Stream-Protocol-Version: v9.channel.k8s.io, v8.channel.k8s.io\r\n");
    Negotiation n = negotiate(r.headers, Transport::spdy, proto::spdy_remotecommand);
    cr_assert(n.outcome == Negotiation::Outcome::no_common);
    HttpResponse resp = negotiation_refusal(n, Transport::spdy, proto::spdy_remotecommand);
    cr_expect_eq(resp.status, 403);
    cr_expect_eq(resp.body,
                 "unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io "
                 "v8.channel.k8s.io], server accepts [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io "
                 "channel.k8s.io]\n");
    std::string wire = resp.serialize();
    for (std::string_view p : proto::spdy_remotecommand)
        cr_expect(wire.find("X-Accepted-Stream-Protocol-Versions: " + std::string(p) + "\r\n") != std::string::npos,
                  "%s", wire.c_str());
}

Test(upgrade, websocket_101_with_accept_and_protocol) {
    HttpRequest r = request(kWsHead + "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n"
                                      "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    cr_expect(is_websocket_request(r.headers));
    cr_expect_not(is_spdy_request(r.headers));
    Upgrade u = upgrade_websocket(r, proto::websocket_remotecommand);
    cr_assert(u.accepted, "%s", u.response.body.c_str());
    cr_expect_eq(u.protocol, "v4.channel.k8s.io");
    cr_expect_eq(u.response.serialize(),
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                 "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n");
    // No extension is accepted, so none is named.
    cr_expect_eq(u.response.header("Sec-WebSocket-Extensions"), "");
}

Test(upgrade, websocket_without_a_protocol_is_the_legacy_case) {
    Upgrade u = upgrade_websocket(request(kWsHead), proto::websocket_remotecommand);
    cr_assert(u.accepted);
    cr_expect_eq(u.protocol, "");
    cr_expect_eq(u.response.header("Sec-WebSocket-Protocol"), "");

    UpgradeOptions strict;
    strict.allow_unnegotiated = false;
    u = upgrade_websocket(request(kWsHead), proto::websocket_remotecommand, strict);
    cr_expect_not(u.accepted);
    cr_expect_eq(u.response.status, 400);
    cr_expect_eq(u.response.body, "unable to upgrade: Sec-WebSocket-Protocol is required\n");
}

Test(upgrade, websocket_refusals) {
    struct Case {
        std::string head;
        int status;
        const char* says;
    } cases[] = {
        {"POST /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
         405, "method POST is not GET"},
        {"GET /x HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
         400, "HTTP/1.1 required"},
        {"GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
         400, "header Upgrade does not name websocket"},
        {"GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
         400, "header Connection has no upgrade token"},
        {"GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
         400, "header Sec-WebSocket-Key missing"},
        {"GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Sec-WebSocket-Version: 13\r\n",
         400, "header Sec-WebSocket-Key repeated"},
        {"GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n",
         400, "header Sec-WebSocket-Key is not 16 bytes in base64"},
        {"GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: !!!!IHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
         400, "header Sec-WebSocket-Key is not 16 bytes in base64"},
        {"GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n",
         426, "header Sec-WebSocket-Version must be 13"},
        {kWsHead + "Sec-WebSocket-Protocol: v9.channel.k8s.io\r\n", 403,
         "requested protocol(s) are not supported: [v9.channel.k8s.io]; supports [v5.channel.k8s.io "
         "v4.channel.k8s.io v4.base64.channel.k8s.io channel.k8s.io base64.channel.k8s.io]"},
    };
    for (const Case& c : cases) {
        HttpRequestParser p;
        p.feed(c.head + "\r\n");
        cr_assert(p.done());
        Upgrade u = upgrade_websocket(p.request(), proto::websocket_remotecommand);
        cr_expect_not(u.accepted, "accepted %s", c.head.c_str());
        cr_expect_eq(u.response.status, c.status, "%s -> %d", c.says, u.response.status);
        cr_expect(u.response.body.find(c.says) != std::string::npos, "got \"%s\", want \"%s\"",
                  u.response.body.c_str(), c.says);
        cr_expect_eq(u.response.header("Connection"), "close");
    }
    // §4.4: a version refusal names the version the server speaks.
    Upgrade u = upgrade_websocket(request("GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"),
                                  proto::websocket_remotecommand);
    cr_expect_eq(u.response.header("Sec-WebSocket-Version"), "13");
}

Test(upgrade, spdy_101_names_the_protocol) {
    HttpRequest r = request(kSpdyHead + "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                                        "X-Stream-Protocol-Version: v3.channel.k8s.io\r\n");
    cr_expect(is_spdy_request(r.headers));
    cr_expect_not(is_websocket_request(r.headers));
    Upgrade u = upgrade_spdy(r, proto::spdy_remotecommand);
    cr_assert(u.accepted, "%s", u.response.body.c_str());
    cr_expect_eq(u.protocol, "v4.channel.k8s.io");
    cr_expect_eq(u.response.serialize(), "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                                         "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n");

    r = request(kSpdyHead + "X-Stream-Protocol-Version: portforward.k8s.io\r\n");
    u = upgrade_spdy(r, proto::spdy_portforward);
    cr_expect(u.accepted);
    cr_expect_eq(u.protocol, "portforward.k8s.io");
}

Test(upgrade, spdy_legacy_missing_headers_and_no_common) {
    // No header: kubelet falls back to the unversioned protocol and names none.
    Upgrade u = upgrade_spdy(request(kSpdyHead), proto::spdy_remotecommand);
    cr_expect(u.accepted);
    cr_expect_eq(u.protocol, "");
    cr_expect_eq(u.response.header("X-Stream-Protocol-Version"), "");
    UpgradeOptions strict;
    strict.allow_unnegotiated = false;
    u = upgrade_spdy(request(kSpdyHead), proto::spdy_remotecommand, strict);
    cr_expect_not(u.accepted);
    cr_expect_eq(u.response.status, 400);
    cr_expect_eq(u.response.body, "unable to upgrade: X-Stream-Protocol-Version is required\n");

    u = upgrade_spdy(request("POST /exec/t HTTP/1.1\r\nHost: h\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"),
                     proto::spdy_remotecommand);
    cr_expect_not(u.accepted);
    cr_expect_eq(u.response.status, 400);
    cr_expect(u.response.body.find("missing upgrade headers") != std::string::npos);

    u = upgrade_spdy(request(kSpdyHead + "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"), proto::spdy_portforward);
    cr_expect_not(u.accepted);
    cr_expect_eq(u.response.status, 403);
    cr_expect_eq(u.response.header("X-Accepted-Stream-Protocol-Versions"), "portforward.k8s.io");
}
