// The RFC 6455 server codec (cri/stream/ws/websocket).
#include "error.hpp"
#include "websocket.hpp"

#include <criterion/criterion.h>

#include <string>
#include <vector>

using namespace berth::stream;

namespace {

const std::array<uint8_t, 4> kMask = {0x37, 0xfa, 0x21, 0x3d};   // RFC 6455 §5.7's key

std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int c : b) s += static_cast<char>(c);
    return s;
}

std::string client(WsOpcode op, std::string_view payload, bool fin = true) {
    return ws_encode_frame(op, payload, fin, &kMask);
}

// Feed one byte at a time, gathering the events.
std::vector<WsEvent> trickle(WebSocketServer& s, std::string_view in) {
    std::vector<WsEvent> all;
    for (char c : in)
        for (WsEvent& e : s.feed(std::string_view(&c, 1))) all.push_back(std::move(e));
    return all;
}

std::string drain(WebSocketServer& s) {
    std::string out(s.pending_output());
    s.consume_output(out.size());
    return out;
}

void expect_failure(std::string_view in, uint16_t code, const char* says) {
    WebSocketServer s;
    auto ev = s.feed(in);
    cr_assert(!ev.empty(), "no event for %s", says);
    const WsEvent& e = ev.back();
    cr_expect(e.kind == WsEvent::Kind::error, "not an error: %s", says);
    cr_expect_eq(e.code, code, "%s: code %u", says, e.code);
    cr_expect(e.data.find(says) != std::string::npos, "got \"%s\", want \"%s\"", e.data.c_str(), says);
    cr_expect(s.failed());
    cr_expect(s.close_sent());
    // The close frame carries the code.
    std::string out = drain(s);
    cr_assert_geq(out.size(), 4u);
    cr_expect_eq(static_cast<uint8_t>(out[0]), 0x88);
    cr_expect_eq((static_cast<uint8_t>(out[2]) << 8) | static_cast<uint8_t>(out[3]), code);
    cr_expect(s.finished());
    // Nothing more is read.
    cr_expect(s.feed(client(WsOpcode::text, "late")).empty());
}

} // namespace

// §5.7 examples, as the server writes them (unmasked).
Test(ws_encode, rfc6455_section_5_7_examples) {
    cr_expect_eq(ws_encode_frame(WsOpcode::text, "Hello"), bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
    cr_expect_eq(ws_encode_frame(WsOpcode::text, "Hel", false), bytes({0x01, 0x03, 0x48, 0x65, 0x6c}));
    cr_expect_eq(ws_encode_frame(WsOpcode::continuation, "lo"), bytes({0x80, 0x02, 0x6c, 0x6f}));
    cr_expect_eq(ws_encode_frame(WsOpcode::ping, "Hello"), bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
    cr_expect_eq(client(WsOpcode::text, "Hello"),
                 bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
    cr_expect_eq(client(WsOpcode::pong, "Hello"),
                 bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
    std::string f256 = ws_encode_frame(WsOpcode::binary, std::string(256, 'x'));
    cr_expect_eq(f256.substr(0, 4), bytes({0x82, 0x7e, 0x01, 0x00}));
    cr_expect_eq(f256.size(), 260u);
    std::string f64k = ws_encode_frame(WsOpcode::binary, std::string(65536, 'x'));
    cr_expect_eq(f64k.substr(0, 10), bytes({0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}));
    cr_expect_eq(f64k.size(), 65546u);
    // The boundaries of the 7- and 16-bit lengths.
    cr_expect_eq(ws_encode_frame(WsOpcode::binary, std::string(125, 'x'))[1], 125);
    cr_expect_eq(ws_encode_frame(WsOpcode::binary, std::string(126, 'x'))[1], 126);
    cr_expect_eq(ws_encode_frame(WsOpcode::binary, std::string(65535, 'x'))[1], 126);
    cr_expect_eq(ws_encode_frame(WsOpcode::binary, std::string(65536, 'x'))[1], 127);
    // Control frames are short and final.
    try {
        ws_encode_frame(WsOpcode::ping, std::string(126, 'x'));
        cr_expect_fail("126-byte ping");
    } catch (const berth::Error& e) {
        cr_expect_eq(e.err(), EINVAL);
    }
}

Test(ws_decode, rfc_masked_hello) {
    WebSocketServer s;
    auto ev = s.feed(bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
    cr_assert_eq(ev.size(), 1u);
    cr_expect(ev[0].kind == WsEvent::Kind::message);
    cr_expect(ev[0].text);
    cr_expect_eq(ev[0].data, "Hello");
    cr_expect(s.pending_output().empty());
}

Test(ws_decode, every_length_form_byte_by_byte) {
    for (size_t n : {0ul, 1ul, 125ul, 126ul, 127ul, 65535ul, 65536ul, 70000ul}) {
        std::string payload;
        for (size_t i = 0; i < n; ++i) payload += static_cast<char>(i * 31 + 7);
        WebSocketServer s;
        std::string frame = client(WsOpcode::binary, payload);
        auto ev = n <= 300 ? trickle(s, frame) : s.feed(frame);
        cr_assert_eq(ev.size(), 1u, "length %zu", n);
        cr_expect_not(ev[0].text);
        cr_expect(ev[0].data == payload, "length %zu", n);
    }
}

Test(ws_decode, fragments_with_control_frames_between) {
    WebSocketServer s;
    std::string in = client(WsOpcode::text, "Hel", false) + client(WsOpcode::ping, "p1") +
                     client(WsOpcode::continuation, "lo, ", false) + client(WsOpcode::pong, "p2") +
                     client(WsOpcode::continuation, "world") + client(WsOpcode::binary, "\xff\x00", true);
    auto ev = trickle(s, in);
    cr_assert_eq(ev.size(), 4u);
    cr_expect(ev[0].kind == WsEvent::Kind::ping);
    cr_expect_eq(ev[0].data, "p1");
    cr_expect(ev[1].kind == WsEvent::Kind::pong);
    cr_expect_eq(ev[1].data, "p2");
    cr_expect(ev[2].kind == WsEvent::Kind::message);
    cr_expect(ev[2].text);
    cr_expect_eq(ev[2].data, "Hello, world");
    cr_expect(ev[3].kind == WsEvent::Kind::message);
    cr_expect_not(ev[3].text);
    cr_expect_eq(ev[3].data, std::string("\xff", 1));
    // The ping was answered with a pong carrying its payload.
    cr_expect_eq(drain(s), ws_encode_frame(WsOpcode::pong, "p1"));
}

Test(ws_decode, binary_need_not_be_utf8_but_text_must) {
    WebSocketServer s;
    auto ev = s.feed(client(WsOpcode::binary, "\xc0\xaf"));
    cr_assert_eq(ev.size(), 1u);
    cr_expect(ev[0].kind == WsEvent::Kind::message);
    expect_failure(client(WsOpcode::text, "\xc0\xaf"), ws_close::invalid_payload, "text message is not UTF-8");
    // Split in the middle of a character across fragments is fine.
    WebSocketServer t;
    ev = t.feed(client(WsOpcode::text, "\xe2\x82", false) + client(WsOpcode::continuation, "\xac"));
    cr_assert_eq(ev.size(), 1u);
    cr_expect_eq(ev[0].data, "\xe2\x82\xac");
}

Test(ws_utf8, validator) {
    for (const char* ok : {"", "abc", "\xc2\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf"})
        cr_expect(valid_utf8(ok), "rejected %s", ok);
    for (const char* bad : {"\x80", "\xc0\x80", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                            "\xf5\x80\x80\x80", "\xe2\x82", "\xc2", "\xf0\x9f\x98", "\xff"})
        cr_expect_not(valid_utf8(bad), "accepted %s", bad);
}

Test(ws_decode, malformed_frames_fail_with_1002) {
    // Unmasked client frame (§5.1).
    expect_failure(ws_encode_frame(WsOpcode::text, "Hello"), ws_close::protocol_error, "client frame not masked");
    // RSV1 without an extension.
    std::string rsv = client(WsOpcode::text, "x");
    rsv[0] = static_cast<char>(rsv[0] | 0x40);
    expect_failure(rsv, ws_close::protocol_error, "websocket frame 1: RSV bits set");
    // Reserved opcodes.
    for (int op : {3, 7, 0xB, 0xF}) {
        std::string f = client(WsOpcode::text, "x");
        f[0] = static_cast<char>(0x80 | op);
        expect_failure(f, ws_close::protocol_error, "unknown opcode");
    }
    // A fragmented control frame, a long one.
    std::string frag_ping = client(WsOpcode::ping, "x");
    frag_ping[0] = static_cast<char>(frag_ping[0] & 0x7f);
    expect_failure(frag_ping, ws_close::protocol_error, "fragmented control frame");
    std::string long_ping = bytes({0x89, 0xfe, 0x00, 0x7e});
    expect_failure(long_ping, ws_close::protocol_error, "control frame longer than 125 bytes");
    // Continuation with nothing begun; a new message inside another.
    expect_failure(client(WsOpcode::continuation, "x"), ws_close::protocol_error, "continuation frame with no message");
    expect_failure(client(WsOpcode::text, "a", false) + client(WsOpcode::text, "b"), ws_close::protocol_error,
                   "websocket frame 2: new message before the last one's final fragment");
    // A 64-bit length with the top bit set.
    expect_failure(bytes({0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}), ws_close::protocol_error,
                   "64-bit length with its top bit set");
    // Close frames: one byte, a code not for the wire, a reason not UTF-8.
    expect_failure(client(WsOpcode::close, "\x03"), ws_close::protocol_error, "close frame of 1 byte");
    for (int code : {0, 999, 1004, 1005, 1006, 1015, 2000, 2999, 5000}) {
        std::string body = bytes({code >> 8, code & 0xff});
        expect_failure(client(WsOpcode::close, body), ws_close::protocol_error, "invalid close code");
    }
    expect_failure(client(WsOpcode::close, bytes({0x03, 0xe8, 0xc0, 0xaf})), ws_close::invalid_payload,
                   "close reason is not UTF-8");
}

Test(ws_decode, message_cap_is_1009_before_the_payload_arrives) {
    WebSocketServer::Limits l;
    l.max_message = 1000;
    WebSocketServer ok(l);
    auto ev = ok.feed(client(WsOpcode::binary, std::string(1000, 'a')));
    cr_assert_eq(ev.size(), 1u);
    cr_expect_eq(ev[0].data.size(), 1000u);

    // The header alone announces too much: fail without buffering anything.
    WebSocketServer s(l);
    std::string frame = client(WsOpcode::binary, std::string(1001, 'a'));
    ev = s.feed(std::string_view(frame).substr(0, 8));
    cr_assert_eq(ev.size(), 1u);
    cr_expect(ev[0].kind == WsEvent::Kind::error);
    cr_expect_eq(ev[0].code, ws_close::message_too_big);
    cr_expect(ev[0].data.find("message longer than 1000 bytes") != std::string::npos, "%s", ev[0].data.c_str());

    // Fragments count together.
    WebSocketServer f(l);
    ev = f.feed(client(WsOpcode::binary, std::string(600, 'a'), false) +
                client(WsOpcode::continuation, std::string(401, 'b')));
    cr_assert_eq(ev.size(), 1u);
    cr_expect_eq(ev[0].code, ws_close::message_too_big);
    // A 2^62-byte announcement is refused the same way.
    WebSocketServer h(l);
    ev = h.feed(bytes({0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}));
    cr_assert_eq(ev.size(), 1u);
    cr_expect_eq(ev[0].code, ws_close::message_too_big);
}

Test(ws_close_handshake, client_initiated_is_echoed) {
    WebSocketServer s;
    auto ev = s.feed(client(WsOpcode::close, bytes({0x03, 0xe8}) + "bye") + client(WsOpcode::text, "ignored"));
    cr_assert_eq(ev.size(), 1u);
    cr_expect(ev[0].kind == WsEvent::Kind::close);
    cr_expect_eq(ev[0].code, 1000);
    cr_expect_eq(ev[0].data, "bye");
    cr_expect(s.close_received());
    cr_expect(s.close_sent());
    cr_expect_not(s.finished());   // the echo is still to write
    cr_expect_eq(drain(s), bytes({0x88, 0x02, 0x03, 0xe8}));
    cr_expect(s.finished());
    try {
        s.send_binary("x");
        cr_expect_fail("sent after close");
    } catch (const berth::Error& e) {
        cr_expect_eq(e.err(), EPIPE);
    }
}

Test(ws_close_handshake, empty_close_is_1005_and_echoed_empty) {
    WebSocketServer s;
    auto ev = s.feed(client(WsOpcode::close, ""));
    cr_assert_eq(ev.size(), 1u);
    cr_expect_eq(ev[0].code, ws_close::no_status);
    cr_expect_eq(drain(s), bytes({0x88, 0x00}));
}

Test(ws_close_handshake, server_initiated_waits_for_the_reply) {
    WebSocketServer s;
    s.send_binary("\x01out");
    s.close(ws_close::normal, "done");
    cr_expect(s.close_sent());
    cr_expect_eq(drain(s), ws_encode_frame(WsOpcode::binary, "\x01out") + bytes({0x88, 0x06, 0x03, 0xe8}) + "done");
    cr_expect_not(s.finished());
    // Data still arriving before the client's close is delivered; pings get no pong.
    auto ev = s.feed(client(WsOpcode::binary, "late") + client(WsOpcode::ping, "p"));
    cr_assert_eq(ev.size(), 2u);
    cr_expect_eq(ev[0].data, "late");
    cr_expect(s.pending_output().empty());
    ev = s.feed(client(WsOpcode::close, bytes({0x03, 0xe8})));
    cr_assert_eq(ev.size(), 1u);
    cr_expect(ev[0].kind == WsEvent::Kind::close);
    cr_expect(s.pending_output().empty());   // no second close
    cr_expect(s.finished());
    try {
        s.close();
        cr_expect_fail("closed twice");
    } catch (const berth::Error&) {
    }
}

Test(ws_send, frames_and_checks) {
    WebSocketServer s;
    s.send_text("héllo");
    s.send_ping("hb");
    cr_expect_eq(drain(s), ws_encode_frame(WsOpcode::text, "héllo") + ws_encode_frame(WsOpcode::ping, "hb"));
    for (auto bad : {+[](WebSocketServer& w) { w.send_text("\xff"); },
                     +[](WebSocketServer& w) { w.send_ping(std::string(126, 'p')); },
                     +[](WebSocketServer& w) { w.close(1005); },
                     +[](WebSocketServer& w) { w.close(1000, std::string(124, 'r')); }}) {
        try {
            bad(s);
            cr_expect_fail("accepted");
        } catch (const berth::Error& e) {
            cr_expect_eq(e.err(), EINVAL);
        }
    }
}

Test(ws_output, pings_do_not_pile_up_pongs) {
    WebSocketServer s;
    std::string pings;
    for (int i = 0; i < 1000; ++i) pings += client(WsOpcode::ping, "ping " + std::to_string(i));
    auto ev = s.feed(pings);
    cr_expect_eq(ev.size(), 1000u);
    // One pong, for the latest ping.
    cr_expect_eq(std::string(s.pending_output()), ws_encode_frame(WsOpcode::pong, "ping 999"));

    // A pong already partly written stays; the next goes after it.
    s.consume_output(3);
    s.feed(client(WsOpcode::ping, "next"));
    cr_expect_eq(std::string(s.pending_output()),
                 ws_encode_frame(WsOpcode::pong, "ping 999").substr(3) + ws_encode_frame(WsOpcode::pong, "next"));
    // Queued data before a pending pong is kept in order.
    WebSocketServer t;
    t.send_binary("a");
    t.feed(client(WsOpcode::ping, "1"));
    t.send_binary("b");
    t.feed(client(WsOpcode::ping, "2"));
    cr_expect_eq(drain(t), ws_encode_frame(WsOpcode::binary, "a") + ws_encode_frame(WsOpcode::binary, "b") +
                               ws_encode_frame(WsOpcode::pong, "2"));
}

Test(ws_output, partial_writes_keep_order_across_compaction) {
    WebSocketServer s;
    std::string want;
    for (int i = 0; i < 40; ++i) {
        std::string m(5000 + i, static_cast<char>('a' + i % 26));
        s.send_binary(m);
        want += ws_encode_frame(WsOpcode::binary, m);
    }
    // A pong queued behind 200 KB of data, then most of the data written:
    // the written prefix is dropped, and a newer ping still replaces the pong.
    s.feed(client(WsOpcode::ping, "old"));
    std::string got;
    while (got.size() < 150000) {
        size_t n = std::min<size_t>(777, s.pending_output().size());
        got.append(s.pending_output().substr(0, n));
        s.consume_output(n);
    }
    s.feed(client(WsOpcode::ping, "new"));
    got += drain(s);
    cr_expect(got == want + ws_encode_frame(WsOpcode::pong, "new"), "output differs: %zu vs %zu bytes", got.size(),
              want.size());
}

// Arbitrary client bytes (a fixed seed, so a failure reproduces): the codec
// never crashes, holds at most max_message of payload, and what the client
// alone makes it queue (pongs, a close) stays small.
Test(ws_decode, arbitrary_input_stays_bounded) {
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    auto next = [&seed] {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed;
    };
    WebSocketServer::Limits l;
    l.max_message = 4096;
    for (int round = 0; round < 2000; ++round) {
        WebSocketServer s(l);
        std::string in;
        // Mostly well-formed masked frames of random kinds, sometimes raw noise.
        while (in.size() < 3000) {
            uint64_t r = next();
            if (r % 9 == 0) {
                for (int i = 0; i < 20; ++i) in += static_cast<char>(next());
                continue;
            }
            static const WsOpcode ops[] = {WsOpcode::text, WsOpcode::binary, WsOpcode::continuation,
                                           WsOpcode::ping, WsOpcode::pong, WsOpcode::close};
            WsOpcode op = ops[(r >> 8) % 6];
            size_t len = (r >> 16) % (op == WsOpcode::ping || op == WsOpcode::pong || op == WsOpcode::close ? 126 : 700);
            std::string payload;
            for (size_t i = 0; i < len; ++i) payload += static_cast<char>(next());
            bool fin = op >= WsOpcode::close || (r >> 32) % 3 != 0;
            std::array<uint8_t, 4> mask = {static_cast<uint8_t>(r >> 40), static_cast<uint8_t>(r >> 48),
                                           static_cast<uint8_t>(r >> 56), 7};
            in += ws_encode_frame(op, payload, fin, &mask);
        }
        size_t at = 0;
        bool ended = false;
        while (at < in.size()) {
            size_t n = 1 + next() % 97;
            for (const WsEvent& e : s.feed(std::string_view(in).substr(at, n))) {
                cr_assert_leq(e.data.size(), l.max_message);
                ended |= e.kind == WsEvent::Kind::close || e.kind == WsEvent::Kind::error;
            }
            at += n;
            // One pong (<= 127 bytes) and one close (<= 127 bytes) at most.
            cr_assert_leq(s.pending_output().size(), 254u, "round %d: %zu bytes queued", round, s.pending_output().size());
        }
        cr_assert_eq(ended, s.close_received() || s.failed(), "round %d", round);
    }
}
