// libFuzzer target for ttrpc (shim/ttrpc): what a peer writes on a shim's
// socket, as berth-shim's server reads requests from containerd or berthd,
// and as berthd's client reads a shim's answers. The first byte seeds the
// split points (split.hpp) and, in its low bit, picks the frame limit
// (4 MiB, containerd's; or berth's 40 MiB for its own replies).
//   - FrameDecoder, fed whole and in pieces, gives the same frames and
//     fails at the same frame; each frame encoded again with encode_frame
//     is byte-for-byte what was read; buffered() counts what is left.
//   - Each frame's payload as a ttrpc Request and Response: what parses
//     serializes, and that parses and serializes to the same bytes.
//   - Client::call over a socketpair whose other end holds the input (then
//     shut): the call answers, or throws StatusError (or berth::Error);
//     a client left connected is called again, up to three calls.
// Anything else (a sanitizer report, another exception, a hang) is a finding.
#include "error.hpp"
#include "fd.hpp"
#include "split.hpp"
#include "ttrpc.hpp"
#include "ttrpc.pb.h"
#include "ttrpc_client.hpp"

#include <google/protobuf/stubs/logging.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

using namespace berth::ttrpc;

namespace {

[[noreturn]] void finding(const std::string& what, const std::string& detail = {}) {
    std::fprintf(stderr, "fuzz_ttrpc_frame: %s\n%s\n", what.c_str(), detail.c_str());
    __builtin_trap();
}

struct Read {
    std::vector<Frame> frames;
    std::string error;
    size_t left = 0;
};

Read decode(const std::vector<std::string_view>& pieces, uint32_t limit) {
    Read r;
    FrameDecoder dec(limit);
    size_t fed = 0, used = 0;
    try {
        for (std::string_view p : pieces) {
            dec.feed(p.data(), p.size());
            fed += p.size();
            while (auto f = dec.next()) {
                used += header_size + f->payload.size();
                r.frames.push_back(std::move(*f));
            }
            if (dec.buffered() != fed - used)
                finding("buffered() is " + std::to_string(dec.buffered()) + ", " + std::to_string(fed - used) + " left");
        }
    } catch (const berth::Error& e) {
        r.error = e.what();
    }
    r.left = dec.buffered();
    return r;
}

bool same(const Read& a, const Read& b) {
    if (a.error != b.error || a.frames.size() != b.frames.size()) return false;
    for (size_t i = 0; i < a.frames.size(); ++i) {
        const Frame &x = a.frames[i], &y = b.frames[i];
        if (x.stream != y.stream || x.type != y.type || x.flags != y.flags || x.payload != y.payload) return false;
    }
    return a.error.empty() ? a.left == b.left : true;
}

template <class Message>
void reserialize(const std::string& payload, const char* what) {
    Message m;
    if (!m.ParseFromString(payload)) return;
    std::string s = m.SerializeAsString();
    Message again;
    if (!again.ParseFromString(s)) finding(std::string(what) + ": its own serialization does not parse");
    if (again.SerializeAsString() != s) finding(std::string(what) + ": serialization is not stable");
}

void frames(std::string_view wire, uint8_t mode) {
    uint32_t limit = mode & 1 ? max_berth_payload : max_payload;
    Read whole = decode({wire}, limit);
    Read cut = decode(fuzz::split(wire, mode), limit);
    if (!same(whole, cut)) finding("whole and in pieces, the stream frames differently", whole.error + " / " + cut.error);
    std::string again;
    for (const Frame& f : whole.frames) {
        try {
            again += encode_frame(f.stream, static_cast<MsgType>(f.type), f.flags, f.payload, limit);
        } catch (const berth::Error& e) {
            finding(std::string("a frame read does not encode: ") + e.what());
        }
        reserialize<Request>(f.payload, "Request");
        reserialize<Response>(f.payload, "Response");
    }
    if (wire.substr(0, again.size()) != again) finding("frames encoded again differ from the bytes read");
}

// berthd's (and the shim's) client reading a shim's answers.
void client(std::string_view wire) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) finding("socketpair failed");
    berth::UniqueFd server(sv[1]);
    ::fcntl(sv[0], F_SETFL, O_NONBLOCK);
    // Room for the input and the requests, so neither side blocks.
    int big = 1 << 20;
    ::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    ::setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    for (size_t off = 0; off < wire.size();) {
        ssize_t n = ::write(sv[1], wire.data() + off, wire.size() - off);
        if (n <= 0) finding("could not write the input to the socketpair");
        off += static_cast<size_t>(n);
    }
    ::shutdown(sv[1], SHUT_WR);
    Client c{berth::UniqueFd(sv[0])};
    for (int i = 0; i < 3 && c.connected(); ++i) {
        try {
            c.call("containerd.task.v2.Task", "State", std::string("\x0a\x03" "abc", 5));
        } catch (const berth::Error&) {
            // StatusError (a server's status, or unavailable) or a transport error
        }
    }
}

} // namespace

// protobuf logs every string field that is not UTF-8: noise at this rate.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    google::protobuf::SetLogHandler(nullptr);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
    frames(wire, data[0]);
    client(wire);
    return 0;
}
