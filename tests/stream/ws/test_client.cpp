// The client end of berth's WebSocket: the codec in the client role
// (websocket.hpp), the opening handshake (client_handshake.hpp) and the
// reading of the exit status (channel.hpp's decode_exit_status), each
// checked against berthd's server end.
#include "channel.hpp"
#include "client_handshake.hpp"
#include "error.hpp"
#include "http_request.hpp"
#include "protocols.hpp"
#include "upgrade.hpp"
#include "websocket.hpp"

#include <criterion/criterion.h>

#include <array>
#include <set>
#include <string>

using namespace berth::stream;

namespace {

std::string drain(WebSocket& s) {
    std::string out(s.pending_output());
    s.consume_output(out.size());
    return out;
}

std::vector<WsEvent> trickle(WebSocket& s, std::string_view in) {
    std::vector<WsEvent> all;
    for (char c : in)
        for (WsEvent& e : s.feed(std::string_view(&c, 1))) all.push_back(std::move(e));
    return all;
}

} // namespace

Test(ws_client, frames_are_masked_with_fresh_keys_and_the_server_reads_them) {
    WebSocketClient c;
    WebSocketServer s;
    std::string big(70000, 'x');
    c.send_binary("hello");
    c.send_binary(big);
    std::string wire = drain(c);
    cr_expect(static_cast<uint8_t>(wire[1]) & 0x80, "a client frame carries the mask bit");
    // The key (bytes 2-5 of a short frame) differs frame to frame.
    std::set<std::string> keys;
    for (int i = 0; i < 8; ++i) {
        WebSocketClient k;
        k.send_binary("same");
        keys.insert(drain(k).substr(2, 4));
    }
    cr_expect_gt(keys.size(), 1u, "every frame gets a new random key");
    auto ev = s.feed(wire);
    cr_assert_eq(ev.size(), 2u);
    cr_expect_eq(ev[0].data, "hello");
    cr_expect(ev[1].data == big, "70000 bytes (64-bit length form) arrive intact");
}

Test(ws_client, reads_unmasked_server_frames_split_anywhere) {
    WebSocketServer s;
    WebSocketClient c;
    s.send_binary("out");
    s.send_text(std::string(300, 'y'));
    s.send_ping("p");
    auto ev = trickle(c, drain(s));
    cr_assert_eq(ev.size(), 3u);
    cr_expect(ev[0].kind == WsEvent::Kind::message && ev[0].data == "out");
    cr_expect(ev[1].text && ev[1].data.size() == 300);
    cr_expect(ev[2].kind == WsEvent::Kind::ping);
    // The pong goes back masked, and the server takes it.
    auto back = s.feed(drain(c));
    cr_assert_eq(back.size(), 1u);
    cr_expect(back[0].kind == WsEvent::Kind::pong && back[0].data == "p");
}

Test(ws_client, a_masked_server_frame_fails_the_connection) {
    WebSocketClient c;
    const std::array<uint8_t, 4> key = {1, 2, 3, 4};
    auto ev = c.feed(ws_encode_frame(WsOpcode::binary, "x", true, &key));
    cr_assert_eq(ev.size(), 1u);
    cr_expect(ev[0].kind == WsEvent::Kind::error);
    cr_expect(ev[0].data.find("server frame masked") != std::string::npos, "%s", ev[0].data.c_str());
    cr_expect(c.failed());
}

Test(ws_client, closing_handshake_both_ways) {
    WebSocketServer s;
    WebSocketClient c;
    s.close(ws_close::normal, "done");
    auto ev = c.feed(drain(s));
    cr_assert_eq(ev.size(), 1u);
    cr_expect(ev[0].kind == WsEvent::Kind::close && ev[0].code == ws_close::normal && ev[0].data == "done");
    auto back = s.feed(drain(c));   // the client's echo, masked
    cr_assert_eq(back.size(), 1u);
    cr_expect(back[0].kind == WsEvent::Kind::close && back[0].code == ws_close::normal);
    cr_expect(s.finished() && c.finished());
}

Test(ws_client_handshake, request_is_accepted_by_berthds_upgrade) {
    std::string key = websocket_client_key();
    cr_expect_eq(key.size(), 24u, "16 bytes in base64");
    cr_expect_neq(key, websocket_client_key());
    const std::array<std::string_view, 2> offered = {protocol::channel_v5, protocol::channel_v4};
    std::string req = websocket_client_request("127.0.0.1:1234", "/exec/tok?x=1", key, offered);
    HttpRequestParser p;
    cr_assert_eq(p.feed(req), req.size());
    cr_assert(p.done());
    Upgrade up = upgrade_websocket(p.request(), protocol::websocket_remotecommand);
    cr_assert(up.accepted, "%s", up.response.body.c_str());
    cr_expect_eq(up.protocol, "v5.channel.k8s.io", "our first choice wins");
    cr_expect_eq(p.request().target, "/exec/tok?x=1");

    std::string resp = up.response.serialize() + "FRAMES";
    HttpResponseParser rp;
    size_t used = 0;
    for (size_t i = 0; i < resp.size() && !rp.done(); ++i) used += rp.feed(resp.substr(i, 1));
    cr_assert(rp.done());
    cr_expect_eq(resp.substr(used), "FRAMES", "the bytes after the head are left to the WebSocket");
    cr_expect_eq(check_websocket_response(rp.head(), key, offered), "v5.channel.k8s.io");
    // Another key does not match the server's accept.
    try {
        check_websocket_response(rp.head(), websocket_client_key(), offered);
        cr_assert_fail("a wrong accept key passed");
    } catch (const berth::Error& e) {
        cr_expect(std::string(e.what()).find("Sec-WebSocket-Accept") != std::string::npos, "%s", e.what());
    }
    // A protocol we did not offer is refused.
    const std::array<std::string_view, 1> only_v4 = {protocol::channel_v4};
    try {
        check_websocket_response(rp.head(), key, only_v4);
        cr_assert_fail("an unoffered protocol passed");
    } catch (const berth::Error& e) {
        cr_expect(std::string(e.what()).find("did not offer") != std::string::npos, "%s", e.what());
    }
}

Test(ws_client_handshake, refusals_and_bad_heads) {
    HttpResponseParser rp;
    std::string r = "HTTP/1.1 404 Not Found\r\nContent-Length: 19\r\n\r\n404 page not found\n";
    size_t used = rp.feed(r);
    cr_assert(rp.done());
    cr_expect_eq(rp.head().status, 404);
    cr_expect_eq(rp.head().reason, "Not Found");
    cr_expect_eq(r.substr(used), "404 page not found\n");
    try {
        check_websocket_response(rp.head(), "k", {});
        cr_assert_fail("a 404 passed");
    } catch (const berth::Error& e) {
        cr_expect(std::string(e.what()).find("404 Not Found") != std::string::npos, "%s", e.what());
    }
    for (const char* bad : {"HTTP/2 101 x\r\n\r\n", "HTTP/1.1 1O1 x\r\n\r\n", "HTTP/1.1 101 x\r\nno colon\r\n\r\n"}) {
        HttpResponseParser b;
        try {
            b.feed(bad);
            cr_expect_fail("accepted: %s", bad);
        } catch (const berth::Error& e) {
            cr_expect_eq(e.err(), EBADMSG, "%s", bad);
        }
    }
    HttpResponseParser small(64);
    try {
        small.feed("HTTP/1.1 101 x\r\n" + std::string(100, 'a'));
        cr_expect_fail("an endless head was taken");
    } catch (const berth::Error& e) {
        cr_expect_eq(e.err(), EMSGSIZE);
    }
    try {
        websocket_client_request("h", "/x HTTP/1.1\r\nEvil: 1", "k", {});
        cr_expect_fail("a target with a line break was taken");
    } catch (const berth::Error& e) {
        cr_expect_eq(e.err(), EINVAL);
    }
}

Test(ws_client_exit, reads_what_berthd_writes) {
    cr_expect_eq(decode_exit_status(4, exit_status_json(0)).exit_code, 0);
    auto r = decode_exit_status(5, exit_status_json(3));
    cr_expect_eq(r.exit_code, 3);
    cr_expect(r.error.empty(), "%s", r.error.c_str());
    cr_expect_eq(decode_exit_status(4, exit_status_json(255)).exit_code, 255);
    r = decode_exit_status(4, internal_error_status_json("container gone"));
    cr_expect_neq(r.exit_code, 0);
    cr_expect(r.error.find("container gone") != std::string::npos, "%s", r.error.c_str());
    cr_expect_eq(decode_exit_status(4, "").exit_code, 0, "an empty error stream is success");
    r = decode_exit_status(3, legacy_exit_status_text(2));
    cr_expect(r.exit_code != 0 && r.error.find("exit code") != std::string::npos, "%s", r.error.c_str());
    r = decode_exit_status(4, "{not json");
    cr_expect(r.error.find("error stream protocol error") != std::string::npos, "%s", r.error.c_str());
    r = decode_exit_status(4, R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"300"}]}})");
    cr_expect(r.error.find("invalid exit code") != std::string::npos, "%s", r.error.c_str());
    r = decode_exit_status(4, R"({"status":"Failure","reason":"NonZeroExitCode"})");
    cr_expect(r.error.find("details must be set") != std::string::npos, "%s", r.error.c_str());
}
