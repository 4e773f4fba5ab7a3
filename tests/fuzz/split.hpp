// Arbitrary split points for the stream targets: a byte of the input seeds
// a small generator that cuts the rest into pieces of 1 to 64 bytes, now
// and then a larger one, as reads from a socket come. The same input always
// gives the same pieces, so a finding reproduces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace fuzz {

inline std::vector<std::string_view> split(std::string_view data, uint8_t seed) {
    std::vector<std::string_view> out;
    uint32_t x = 0x9e3779b9u ^ (uint32_t(seed) * 0x85ebca6bu);
    while (!data.empty()) {
        x = x * 1664525u + 1013904223u;   // an LCG is plenty here
        size_t n = (x >> 24) % 64 + 1;
        if (((x >> 16) & 0xf) == 0) n *= 64;   // one in 16: a big read
        if (n > data.size()) n = data.size();
        out.push_back(data.substr(0, n));
        data.remove_prefix(n);
    }
    return out;
}

} // namespace fuzz
