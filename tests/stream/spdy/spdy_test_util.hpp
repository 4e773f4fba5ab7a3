// Helpers for the SPDY unit tests: error expectations, hex, and a test
// client that writes frames as kubelet's would and reads the server's.
#pragma once

#include <criterion/criterion.h>

#include "error.hpp"
#include "spdy_frame.hpp"
#include "spdy_headers.hpp"
#include "spdy_session.hpp"

#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace spdy_test {

using namespace berth::stream::spdy;

// Expect fn to throw a berth::Error with errno `err` whose message holds `want`.
template <class Fn>
void expect_error(Fn&& fn, int err, const char* want) {
    try {
        fn();
    } catch (const berth::Error& e) {
        cr_expect(std::strstr(e.what(), want) != nullptr, "error \"%s\" does not contain \"%s\"", e.what(), want);
        cr_expect(e.err() == err, "error \"%s\": errno %d, wanted %d", e.what(), e.err(), err);
        return;
    }
    cr_expect(false, "no error thrown, wanted one containing \"%s\"", want);
}

inline std::string unhex(std::string_view hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return out;
}

inline std::string hex(std::string_view bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xf]);
    }
    return out;
}

// Frames in the order given: the elements of a braced list are evaluated
// in order, the operands of + are not, and header blocks must reach the
// server in the order the client's zlib stream made them.
inline std::string join(std::initializer_list<std::string> parts) {
    std::string out;
    for (const std::string& p : parts) out += p;
    return out;
}

// A DATA frame the test client read whole.
struct Data {
    uint32_t stream_id = 0;
    std::string data;
    bool fin = false;
};
using Read = std::variant<Data, SynStream, SynReply, RstStream, Settings, Ping, Goaway, HeadersFrame, WindowUpdate>;

// The client end: its own compression streams, as a real peer has.
class Client {
public:
    std::string syn_stream(uint32_t id, const HeaderBlock& headers, uint8_t flags = 0) {
        std::string out;
        encode(SynStream{id, 0, 0, 0, flags, deflater_.deflate(headers)}, out);
        return out;
    }
    std::string syn_reply(uint32_t id, const HeaderBlock& headers) {
        std::string out;
        encode(SynReply{id, 0, deflater_.deflate(headers)}, out);
        return out;
    }
    std::string headers(uint32_t id, const HeaderBlock& headers, uint8_t flags = 0) {
        std::string out;
        encode(HeadersFrame{id, flags, deflater_.deflate(headers)}, out);
        return out;
    }
    static std::string data(uint32_t id, std::string_view payload, bool fin = false) {
        std::string out;
        encode_data(id, payload, fin, out);
        return out;
    }
    template <class F>
    static std::string frame(const F& f) {
        std::string out;
        encode(f, out);
        return out;
    }

    // Everything the server has written, decoded; the output is consumed.
    std::vector<Read> read(ServerSession& s) {
        std::string bytes(s.pending_output());
        s.consume_output(bytes.size());
        return decode(bytes);
    }
    std::vector<Read> decode(std::string_view bytes) {
        std::vector<Read> out;
        while (auto f = decoder_.next(bytes)) {
            if (auto* c = std::get_if<DataChunk>(&*f)) {
                if (out.empty() || !std::holds_alternative<Data>(out.back()) || partial_ == false)
                    out.emplace_back(std::in_place_type<Data>, Data{c->stream_id, {}, false});
                Data& d = std::get<Data>(out.back());
                d.data.append(c->data);
                d.fin = c->fin;
                partial_ = !c->end_of_frame;
            } else {
                std::visit([&](auto& v) {
                    using T = std::decay_t<decltype(v)>;
                if constexpr (!std::is_same_v<T, DataChunk>) out.emplace_back(std::in_place_type<T>, std::move(v));
                }, *f);
            }
        }
        return out;
    }
    HeaderBlock inflate(const std::string& block) { return parse_header_block(inflater_.inflate(block), 256); }

private:
    HeaderDeflater deflater_;
    HeaderInflater inflater_;
    FrameDecoder decoder_;
    bool partial_ = false;
};

template <class T>
std::vector<T> all_of(const std::vector<Read>& frames) {
    std::vector<T> out;
    for (const Read& r : frames)
        if (auto* v = std::get_if<T>(&r)) out.push_back(*v);
    return out;
}

template <class T>
std::vector<T> events_of(const std::vector<Event>& events) {
    std::vector<T> out;
    for (const Event& e : events)
        if (auto* v = std::get_if<T>(&e)) out.push_back(*v);
    return out;
}

// Bytes of DATA on a stream among the frames read.
inline size_t data_bytes(const std::vector<Read>& frames, uint32_t id) {
    size_t n = 0;
    for (const Data& d : all_of<Data>(frames))
        if (d.stream_id == id) n += d.data.size();
    return n;
}

} // namespace spdy_test
