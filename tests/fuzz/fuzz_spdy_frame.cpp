// libFuzzer target for berthd's SPDY/3.1 streaming codec (cri/stream/spdy):
// the input is what a client sends on an upgraded connection, its first
// byte choosing how it is read. It goes:
//   1. through FrameDecoder whole and cut into arbitrary pieces (split.hpp):
//      both must decode the same frames (each written back with encode(),
//      DATA joined per frame) and end in the same error; next() must
//      leave no byte unread when it asks for more. The frames written back
//      must decode to themselves.
//   2. header blocks: every SYN_STREAM, SYN_REPLY and HEADERS block, in
//      order, through one HeaderInflater (the connection's zlib stream,
//      256 KiB per block: a decompression bomb stops there). A block that
//      parses is serialized back byte-identical (unless it names a header
//      SPDY forbids, which the serializer refuses), and berth's own
//      HeaderDeflater's output inflates back to it.
//   3. through a ServerSession, fed piece by piece, with an owner that
//      replies to every stream, sends data, reports what it consumed,
//      pings, resets and goes away as berthd's streaming server would.
//      feed() must not throw and the owner's calls (all legitimate) must
//      not either; after a SessionError nothing more happens. Everything
//      the session writes must be valid SPDY for the client: its frames
//      decode and its header blocks inflate and parse.
// berth::Error is how the codec rejects the peer; anything else (a
// sanitizer report, a leak, a broken property) is a finding.
#include "error.hpp"
#include "spdy_frame.hpp"
#include "spdy_headers.hpp"
#include "spdy_session.hpp"
#include "split.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

using namespace berth::stream::spdy;

namespace {

template <class... F>
struct Overload : F... {
    using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

[[noreturn]] void finding(const std::string& what, const std::string& detail = {}) {
    std::fprintf(stderr, "fuzz_spdy_frame: %s\n%s\n", what.c_str(), detail.c_str());
    __builtin_trap();
}

std::string hex(std::string_view s, size_t max = 256) {
    static const char* d = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < s.size() && i < max; ++i) {
        out += d[uint8_t(s[i]) >> 4];
        out += d[uint8_t(s[i]) & 15];
    }
    return s.size() > max ? out + "..." : out;
}

// ---- 1. the frame decoder

struct Decoded {
    std::string frames;               // every whole frame, written back
    std::string end;                  // the error that ended it, or a DATA frame cut short
    std::vector<std::string> blocks;  // compressed header blocks, in order
};

template <class F>
void write_back(const F& f, std::string& out) {
    try {
        encode(f, out);
    } catch (const berth::Error& e) {
        finding(std::string("a decoded frame does not encode: ") + e.what());
    }
}

Decoded decode(const std::vector<std::string_view>& pieces) {
    Decoded d;
    FrameDecoder dec;
    std::string data;   // the DATA frame being read
    uint32_t data_stream = 0;
    bool in_data = false;
    try {
        for (std::string_view piece : pieces) {
            std::string_view in = piece;
            while (auto f = dec.next(in)) {
                std::visit(Overload{
                               [&](const DataChunk& c) {
                                   if (in_data && c.stream_id != data_stream) finding("a DATA frame changed stream");
                                   in_data = true;
                                   data_stream = c.stream_id;
                                   data.append(c.data);
                                   if (c.fin && !c.end_of_frame) finding("FIN before the end of a DATA frame");
                                   if (c.end_of_frame) {
                                       encode_data(c.stream_id, data, c.fin, d.frames);
                                       data.clear();
                                       in_data = false;
                                   }
                               },
                               [&](const SynStream& f) {
                                   d.blocks.push_back(f.header_block);
                                   write_back(f, d.frames);
                               },
                               [&](const SynReply& f) {
                                   d.blocks.push_back(f.header_block);
                                   write_back(f, d.frames);
                               },
                               [&](const HeadersFrame& f) {
                                   d.blocks.push_back(f.header_block);
                                   write_back(f, d.frames);
                               },
                               [&](const auto& f) { write_back(f, d.frames); },
                           },
                           *f);
            }
            if (!in.empty()) finding("next() asked for more with " + std::to_string(in.size()) + " bytes unread");
        }
    } catch (const berth::Error& e) {
        d.end = std::string("error ") + std::to_string(e.err()) + ": " + e.what();
        return d;
    }
    if (in_data) d.end = "DATA on stream " + std::to_string(data_stream) + " cut after " + hex(data);
    return d;
}

void check_decoder(std::string_view wire, uint8_t seed) {
    Decoded whole = decode({wire});
    Decoded cut = decode(fuzz::split(wire, seed));
    if (whole.frames != cut.frames || whole.end != cut.end)
        finding("whole and in pieces, the stream decodes differently",
                "whole: " + hex(whole.frames) + " / " + whole.end + "\npieces: " + hex(cut.frames) + " / " + cut.end);
    Decoded again = decode({whole.frames});
    if (again.frames != whole.frames || !again.end.empty())
        finding("frames written back decode differently", hex(whole.frames) + "\n" + hex(again.frames) + " / " + again.end);

    // ---- 2. the header blocks, one zlib stream
    HeaderInflater inflater;
    HeaderInflater mirror;   // reads berth's own deflater's blocks
    HeaderDeflater deflater;
    for (const std::string& block : whole.blocks) {
        std::string raw;
        try {
            raw = inflater.inflate(block);
        } catch (const berth::Error&) {
            break;   // the stream is unusable from here on, as the session ends it
        }
        if (raw.size() > 256 * 1024 + 4096) finding("a block inflated past its limit: " + std::to_string(raw.size()));
        HeaderBlock headers;
        try {
            headers = parse_header_block(raw, 256);
        } catch (const berth::Error&) {
            continue;
        }
        std::string again_raw;
        try {
            again_raw = serialize_header_block(headers);
        } catch (const berth::Error&) {
            continue;   // connection, keep-alive, ...: SPDY forbids sending them
        }
        if (again_raw != raw) finding("a header block serializes differently", hex(raw) + "\n" + hex(again_raw));
        std::string round;
        try {
            round = mirror.inflate(deflater.deflate(raw));
        } catch (const berth::Error& e) {
            finding(std::string("berth's deflater's block does not inflate: ") + e.what(), hex(raw));
        }
        if (round != raw) finding("deflate then inflate changed a block", hex(raw) + "\n" + hex(round));
    }
}

// ---- 3. the server session with an owner

// What the session wrote, read as the client reads it.
void check_output(const std::string& wire) {
    FrameDecoder dec;
    HeaderInflater inflater;
    std::string_view in = wire;
    try {
        while (auto f = dec.next(in)) {
            const std::string* block = nullptr;
            if (auto* r = std::get_if<SynReply>(&*f)) block = &r->header_block;
            if (auto* h = std::get_if<HeadersFrame>(&*f)) block = &h->header_block;
            if (std::get_if<SynStream>(&*f)) finding("the server opened a stream");
            if (auto* c = std::get_if<DataChunk>(&*f); c && c->stream_id % 2 == 0)
                finding("the server sent DATA on an even stream");
            if (block) parse_header_block(inflater.inflate(*block), 256);
        }
    } catch (const berth::Error& e) {
        finding(std::string("the session's output is not valid SPDY: ") + e.what(), hex(wire, 1024));
    }
    if (!in.empty()) finding("the client's decoder left bytes unread");
}

void check_session(std::string_view wire, uint8_t mode) {
    SessionConfig config;
    config.peer_flow_control = mode & 1 ? PeerFlowControl::enforce : PeerFlowControl::detect;
    if (mode & 2) config.max_streams = 2;
    if (mode & 4) config.initial_window = 1 << 20, config.session_window = 1 << 20;
    config.max_output = 64 * 1024;
    ServerSession s(config);
    std::string out;
    std::set<uint32_t> finished;   // streams the owner sent FIN on
    bool failed = false;
    int round = 0;
    const HeaderBlock reply_headers = {{"x-stream-protocol-version", "v4.channel.k8s.io"}};
    const std::string payload(300, 'o');
    auto owner = [&](auto&& call, const char* what) {
        try {
            call();
        } catch (const berth::Error& e) {
            finding(std::string("the owner's ") + what + " threw: " + e.what());
        }
    };
    for (std::string_view piece : fuzz::split(wire, mode)) {
        std::vector<Event> events = s.feed(piece);
        if (failed && !events.empty()) finding("events after a SessionError");
        for (Event& ev : events) {
            std::visit(Overload{
                           [&](StreamOpened& o) {
                               if (o.unidirectional || !s.is_open(o.stream_id)) return;
                               owner([&] { s.reply(o.stream_id, reply_headers); }, "reply");
                               owner([&] { s.send_data(o.stream_id, payload); }, "send_data");
                           },
                           [&](StreamData& d) {
                               owner([&] { s.consumed(d.stream_id, d.data.size()); }, "consumed");
                               if (d.data.size() % 7 == 3 && s.is_open(d.stream_id))
                                   owner([&] { s.reset(d.stream_id); }, "reset");
                           },
                           [&](StreamHalfClosed& h) {
                               if (s.may_send(h.stream_id) && finished.insert(h.stream_id).second)
                                   owner([&] { s.send_data(h.stream_id, "bye", true); }, "send_data FIN");
                           },
                           [&](SessionError& e) {
                               failed = true;
                               static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;
                               if (verbose) std::fprintf(stderr, "session error: %s\n", e.message.c_str());
                           },
                           [&](auto&) {},
                       },
                       ev);
        }
        if (failed != s.failed()) finding("failed() disagrees with the events");
        if (++round % 5 == 0) owner([&] { s.ping(); }, "ping");
        if (round == 40) owner([&] { s.goaway(); }, "goaway");
        // The socket takes all of it, or half when the mode says it is slow.
        std::string_view pending = s.pending_output();
        size_t n = mode & 8 ? pending.size() / 2 : pending.size();
        out.append(pending.substr(0, n));
        owner([&] { s.consume_output(n); }, "consume_output");
    }
    out.append(s.pending_output());
    static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;
    if (verbose)
        std::fprintf(stderr, "session: %llu streams opened, %llu refused, %zu bytes out\n",
                     (unsigned long long)s.stats().streams_opened, (unsigned long long)s.stats().streams_refused,
                     out.size());
    check_output(out);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0];
    std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
    check_decoder(wire, mode);
    check_session(wire, mode);
    return 0;
}
