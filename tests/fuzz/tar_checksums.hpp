// Tar inputs for the targets whose tar parser is Debian's libarchive (not
// instrumented): libarchive refuses a header with a bad checksum outright,
// and mutations would seldom get past it. An uncompressed input gets each
// header's checksum recomputed before it is used, walking the headers as a
// tar reader does; gzip, zstd, xz and bzip2 inputs go as they are.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace fuzz {

inline bool compressed(std::string_view b) {
    return b.starts_with("\x1f\x8b") || b.starts_with("\x28\xb5\x2f\xfd") || b.starts_with("\xfd" "7zXZ") ||
           b.starts_with("BZh");
}

inline uint64_t tar_header_size(const unsigned char* h) {
    const unsigned char* f = h + 124;
    uint64_t v = 0;
    if (f[0] & 0x80) {   // base-256 (GNU)
        for (int i = 4; i < 12; ++i) v = v << 8 | f[i];
        return v;
    }
    for (int i = 0; i < 12 && f[i] >= '0' && f[i] <= '7'; ++i) v = v << 3 | uint64_t(f[i] - '0');
    return v;
}

inline void fix_tar_checksums(std::string& tar) {
    if (compressed(tar)) return;
    size_t pos = 0;
    while (pos + 512 <= tar.size()) {
        auto* h = reinterpret_cast<unsigned char*>(tar.data() + pos);
        bool zero = true;
        for (int i = 0; i < 512 && zero; ++i) zero = h[i] == 0;
        if (zero) {
            pos += 512;
            continue;
        }
        unsigned sum = 0;
        for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : h[i];
        char field[8];
        std::snprintf(field, sizeof field, "%06o", sum);
        std::memcpy(h + 148, field, 7);   // six digits and a NUL
        h[155] = ' ';
        // Links, devices, dirs and FIFOs carry no data whatever their size field says.
        uint64_t size = h[156] && std::strchr("23456", h[156]) ? 0 : tar_header_size(h);
        if (size > tar.size()) size = tar.size();
        pos += 512 + (size + 511) / 512 * 512;
    }
}

} // namespace fuzz
