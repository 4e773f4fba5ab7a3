#include "base64.hpp"

#include "error.hpp"

#include <array>
#include <cerrno>
#include <cstdint>

namespace berth::stream {

namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_reverse() {
    std::array<int8_t, 256> r{};
    for (auto& v : r) v = -1;
    for (int i = 0; i < 64; ++i) r[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    return r;
}
constexpr auto reverse = make_reverse();

[[noreturn]] void bad(size_t at) { throw Error(EINVAL, "invalid base64 at offset " + std::to_string(at)); }

} // namespace

std::string base64_encode(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        uint32_t v = static_cast<uint8_t>(data[i]) << 16 | static_cast<uint8_t>(data[i + 1]) << 8 |
                     static_cast<uint8_t>(data[i + 2]);
        out += alphabet[v >> 18];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    size_t rest = data.size() - i;
    if (rest) {
        uint32_t v = static_cast<uint8_t>(data[i]) << 16;
        if (rest == 2) v |= static_cast<uint8_t>(data[i + 1]) << 8;
        out += alphabet[v >> 18];
        out += alphabet[(v >> 12) & 63];
        out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string base64_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size() / 4 * 3);
    uint32_t quantum = 0;
    int have = 0;          // sextets in the current quantum
    int pad = 0;           // '=' seen in the current quantum
    bool ended = false;    // a padded quantum closed the data
    for (size_t i = 0; i < text.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '\r' || c == '\n') continue;
        if (ended) bad(i);
        if (c == '=') {
            // Padding only in the last two places of a quantum ("xx==", "xxx=").
            if (have + pad < 2) bad(i);
            ++pad;
        } else {
            int8_t v = reverse[c];
            if (v < 0 || pad) bad(i);
            quantum = quantum << 6 | static_cast<uint32_t>(v);
            ++have;
        }
        if (have + pad == 4) {
            quantum <<= 6 * pad;
            out += static_cast<char>(quantum >> 16);
            if (pad < 2) out += static_cast<char>(quantum >> 8);
            if (pad < 1) out += static_cast<char>(quantum);
            ended = pad > 0;
            quantum = 0;
            have = pad = 0;
        }
    }
    if (have + pad) bad(text.size());
    return out;
}

} // namespace berth::stream
