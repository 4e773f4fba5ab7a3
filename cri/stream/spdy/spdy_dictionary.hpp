// The zlib dictionary that primes SPDY/3 header compression (§2.6.10.1):
// 1423 bytes, Adler-32 0xe3c6a7c2 (the DICTID a peer's zlib header names).
#pragma once

#include <cstdint>
#include <string_view>

namespace berth::stream::spdy {

std::string_view header_dictionary();

constexpr uint32_t header_dictionary_adler32 = 0xe3c6a7c2;

} // namespace berth::stream::spdy
