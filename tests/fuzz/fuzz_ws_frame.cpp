// libFuzzer target for berth's WebSocket transport (cri/stream/ws): the
// peer's bytes into a WebSocket end, server (berthd's streaming server) or
// client (berthctl exec/attach/port-forward). The first byte is a mode:
//   bit 0     the role: 0 server (the input is a client's), 1 client
//   bits 1-3  the channel protocol the messages are read with (v1, base64
//             v1, v4, base64 v4, v5)
//   bit 4     a whole connection: the input starts with the HTTP head (the
//             upgrade request for a server, the 101 for a client), parsed
//             and checked as the server and berthctl do, and the channel
//             protocol is what it negotiated
//   all       the seed of the split points (split.hpp)
// Properties:
//   - fed whole or in pieces, an end gives the same events and queues the
//     same frames (client frames compared decoded: their masks are random);
//   - what an end queues (pongs, closes, the error's close) is valid for
//     the other role: it decodes with no error event;
//   - an end driven by an owner (echoing messages, pinging, writing out
//     part of its output at a time) never throws on legitimate calls, and
//     nothing follows an error or a close;
//   - each message decodes as the channel protocol says or is refused with
//     berth::Error; decoded data encodes back to the same; the resize
//     channel's JSON and the error channel's status decode or are refused.
// berth::Error is how the codecs reject the peer; anything else is a finding.
#include "channel.hpp"
#include "client_handshake.hpp"
#include "error.hpp"
#include "http_request.hpp"
#include "protocols.hpp"
#include "split.hpp"
#include "upgrade.hpp"
#include "websocket.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace berth::stream;

namespace {

bool verbose() {
    static const bool v = std::getenv("FUZZ_VERBOSE") != nullptr;   // what a seed reaches
    return v;
}

[[noreturn]] void finding(const std::string& what, const std::string& detail = {}) {
    std::fprintf(stderr, "fuzz_ws_frame: %s\n%s\n", what.c_str(), detail.c_str());
    __builtin_trap();
}

std::string describe(const std::vector<WsEvent>& events) {
    std::string out;
    for (const auto& e : events)
        out += std::to_string(int(e.kind)) + "/" + std::to_string(e.text) + "/" + std::to_string(e.code) + "/" +
               std::to_string(e.data.size()) + ":" + e.data.substr(0, 64) + "\n";
    return out;
}

bool same(const std::vector<WsEvent>& a, const std::vector<WsEvent>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].kind != b[i].kind || a[i].text != b[i].text || a[i].code != b[i].code || a[i].data != b[i].data)
            return false;
    return true;
}

WsRole other(WsRole r) { return r == WsRole::server ? WsRole::client : WsRole::server; }

// What `out` (queued by an end of role `from`) means to the other end; an
// error event there is a finding.
std::vector<WsEvent> read_as_peer(std::string_view out, WsRole from) {
    WebSocket peer(other(from));
    std::vector<WsEvent> events = peer.feed(out);
    for (const auto& e : events)
        if (e.kind == WsEvent::Kind::error)
            finding("an end queued frames its peer refuses: " + e.data, describe(events));
    return events;
}

const std::array<std::string_view, 5> kProtocols = {"", protocol::base64_channel_v1, protocol::channel_v4,
                                                     protocol::base64_channel_v4, protocol::channel_v5};

// ---- messages through the channel protocol

void channel_message(const ChannelCodec& codec, const WsEvent& e, ResizeDecoder& resize, bool& resize_failed,
                     WsRole role) {
    std::optional<ChannelMessage> m;
    try {
        m = codec.decode(e.data);
    } catch (const berth::Error&) {
        return;
    }
    if (!m) {
        if (!e.data.empty()) finding("a non-empty message decoded to nothing");
        return;
    }
    if (m->kind == ChannelMessage::Kind::close) {
        if (!codec.protocol().close_signal) finding("a CLOSE signal on a protocol without one");
        return;
    }
    if (!(codec.protocol().close_signal && m->channel == channel::close_signal)) {
        std::string again;
        try {
            again = codec.encode(m->channel, m->data);
        } catch (const berth::Error& ex) {
            finding(std::string("decoded data does not encode: ") + ex.what());
        }
        std::optional<ChannelMessage> back = codec.decode(again);
        if (!back || back->channel != m->channel || back->data != m->data)
            finding("channel data does not survive encode and decode", e.data.substr(0, 200));
    }
    if (role == WsRole::server && m->channel == channel::resize && !resize_failed) {
        try {
            for (const TerminalSize& s : resize.feed(m->data)) (void)s;
        } catch (const berth::Error&) {
            resize_failed = true;   // the decoder is unusable after an error, as documented
        }
    }
    if (role == WsRole::client && m->channel == channel::error) {
        RemoteExit r = decode_exit_status(codec.protocol().version, m->data);
        if (r.exit_code < 0 || r.exit_code > 255) finding("exit code " + std::to_string(r.exit_code));
    }
}

// ---- the frames

void passive(std::string_view wire, WsRole role, uint8_t seed) {
    WebSocket whole(role);
    std::vector<WsEvent> a = whole.feed(wire);
    if (verbose()) std::fprintf(stderr, "events:\n%s", describe(a).c_str());
    WebSocket cut(role);
    std::vector<WsEvent> b;
    for (std::string_view piece : fuzz::split(wire, seed)) {
        bool ended = cut.failed() || cut.close_received();
        std::vector<WsEvent> got = cut.feed(piece);
        if (ended && !got.empty()) finding("events after an error or a close", describe(got));
        for (auto& e : got) b.push_back(std::move(e));
    }
    if (!same(a, b)) finding("whole and in pieces, the frames read differently", describe(a) + "---\n" + describe(b));
    std::vector<WsEvent> out_a = read_as_peer(whole.pending_output(), role);
    std::vector<WsEvent> out_b = read_as_peer(cut.pending_output(), role);
    if (role == WsRole::server ? whole.pending_output() != cut.pending_output() : !same(out_a, out_b))
        finding("whole and in pieces, the ends queue different frames", describe(out_a) + "---\n" + describe(out_b));
    for (size_t i = 0; i + 1 < a.size(); ++i)
        if (a[i].kind == WsEvent::Kind::error || a[i].kind == WsEvent::Kind::close)
            finding("events after an error or a close", describe(a));
}

void driven(std::string_view wire, WsRole role, const ChannelCodec& codec, uint8_t seed) {
    WebSocket ws(role, WebSocket::Limits{64 * 1024});
    ResizeDecoder resize;
    bool resize_failed = false;
    std::string written;   // what went out, in order
    int round = 0;
    auto call = [&](auto&& f, const char* what) {
        try {
            f();
        } catch (const berth::Error& e) {
            finding(std::string("the owner's ") + what + " threw: " + e.what());
        }
    };
    for (std::string_view piece : fuzz::split(wire, seed ^ 0x5a)) {
        for (const WsEvent& e : ws.feed(piece)) {
            if (e.kind != WsEvent::Kind::message) continue;
            channel_message(codec, e, resize, resize_failed, role);
            if (ws.close_sent()) continue;
            if (e.text)
                call([&] { ws.send_text(e.data); }, "send_text");
            else
                call([&] { ws.send_binary(e.data.substr(0, 1000)); }, "send_binary");
        }
        if (++round % 7 == 0 && !ws.close_sent()) call([&] { ws.send_ping("berth"); }, "send_ping");
        if (round == 50 && !ws.close_sent()) call([&] { ws.close(ws_close::going_away, "bye"); }, "close");
        // The socket takes half of what waits, as a slow one would.
        std::string_view pending = ws.pending_output();
        size_t n = (pending.size() + 1) / 2;
        written.append(pending.substr(0, n));
        ws.consume_output(n);
    }
    written.append(ws.pending_output());
    ws.consume_output(ws.pending_output().size());
    if (!ws.pending_output().empty()) finding("output left after consuming all of it");
    read_as_peer(written, role);
}

// ---- the HTTP heads of a whole connection

// The server's side: the upgrade request, as the streaming server reads it.
// Returns the bytes after the head and the negotiated protocol, or nullopt
// when the request is refused.
std::optional<std::pair<std::string_view, std::string>> server_handshake(std::string_view in, uint8_t seed) {
    HttpRequestParser parser;
    size_t used = 0;
    try {
        for (std::string_view piece : fuzz::split(in, seed)) {
            size_t n = parser.feed(piece);
            if (n > piece.size()) finding("feed() used more bytes than it was given");
            used += n;
            if (parser.done()) break;
        }
    } catch (const berth::Error& e) {
        if (verbose()) std::fprintf(stderr, "request refused: %s\n", e.what());
        int status = http_status_for(e);
        if (status != 400 && status != 431 && status != 505) finding("http_status_for answered " + std::to_string(status));
        return std::nullopt;
    }
    if (!parser.done()) return std::nullopt;
    const HttpRequest& req = parser.request();
    (void)req.path();
    (void)req.query_values("port");
    if (!is_websocket_request(req.headers)) {
        (void)upgrade_spdy(req, protocol::spdy_remotecommand);
        return std::nullopt;
    }
    Upgrade u = upgrade_websocket(req, protocol::websocket_remotecommand);
    std::string head = u.response.serialize();
    if (head.empty()) finding("an empty response");
    if (verbose()) std::fprintf(stderr, "upgrade: %s", head.c_str());
    if (!u.accepted) return std::nullopt;
    if (!channel_protocol(u.protocol)) finding("negotiated \"" + u.protocol + "\", not a channel protocol");
    return std::make_pair(in.substr(used), u.protocol);
}

// berthctl's side: the server's 101 for the key berthctl sent.
std::optional<std::pair<std::string_view, std::string>> client_handshake(std::string_view in, uint8_t seed) {
    static const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";   // RFC 6455's example
    HttpResponseParser parser;
    size_t used = 0;
    try {
        for (std::string_view piece : fuzz::split(in, seed)) {
            used += parser.feed(piece);
            if (parser.done()) break;
        }
        if (!parser.done()) return std::nullopt;
        std::string p = check_websocket_response(parser.head(), key, protocol::websocket_remotecommand);
        if (!channel_protocol(p)) finding("accepted \"" + p + "\", not an offered channel protocol");
        return std::make_pair(in.substr(used), p);
    } catch (const berth::Error& e) {
        if (verbose()) std::fprintf(stderr, "101 refused: %s\n", e.what());
        return std::nullopt;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const uint8_t mode = data[0];
    std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
    const WsRole role = mode & 1 ? WsRole::client : WsRole::server;
    std::string proto(kProtocols[(mode >> 1) % kProtocols.size()]);
    if (mode & 0x10) {
        auto hs = role == WsRole::server ? server_handshake(wire, mode) : client_handshake(wire, mode);
        if (!hs) return 0;
        wire = hs->first;
        proto = hs->second;
    }
    ChannelCodec codec(*channel_protocol(proto));
    passive(wire, role, mode);
    driven(wire, role, codec, mode);
    return 0;
}
