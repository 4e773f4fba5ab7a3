#include "spdy_headers.hpp"

#include "spdy_dictionary.hpp"

#include "error.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <set>

namespace berth::stream::spdy {

namespace {

void put32(std::string& out, size_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t get32(std::string_view s, size_t at) {
    return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
           (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

// A value is empty or NUL-separated non-empty parts (§2.6.10).
bool valid_value(std::string_view v) {
    if (v.empty()) return true;
    if (v.front() == '\0' || v.back() == '\0') return false;
    return v.find(std::string_view("\0\0", 2)) == std::string_view::npos;
}

// For messages: the name as text, unprintable bytes escaped.
std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (char c : s.substr(0, 64)) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out.push_back(c);
        } else {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", uint8_t(c));
            out += hex;
        }
    }
    if (s.size() > 64) out += "...";
    return out + "\"";
}

[[noreturn]] void bad_block(const std::string& what) { throw Error(EPROTO, "SPDY header block: " + what); }

std::string zlib_message(const z_stream& z, int rc) {
    return z.msg ? std::string(z.msg) : "zlib error " + std::to_string(rc);
}

constexpr size_t inflate_chunk = 4096;

} // namespace

const std::string* find_header(const HeaderBlock& headers, std::string_view name) {
    for (const Header& h : headers)
        if (h.name == name) return &h.value;
    return nullptr;
}

std::vector<std::string_view> split_values(std::string_view value) {
    std::vector<std::string_view> out;
    while (!value.empty()) {
        size_t nul = value.find('\0');
        out.push_back(value.substr(0, nul));
        if (nul == std::string_view::npos) break;
        value.remove_prefix(nul + 1);
    }
    return out;
}

std::string serialize_header_block(const HeaderBlock& headers) {
    std::string out;
    put32(out, headers.size());
    std::set<std::string> seen;
    for (const Header& h : headers) {
        std::string name = h.name;
        std::transform(name.begin(), name.end(), name.begin(), [](char c) {
            return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
        });
        if (name.empty()) throw Error(EINVAL, "SPDY header block: empty header name");
        if (name.find('\0') != std::string::npos)
            throw Error(EINVAL, "SPDY header block: header name " + quoted(name) + " holds a NUL");
        if (name == "connection" || name == "keep-alive" || name == "proxy-connection" || name == "transfer-encoding")
            throw Error(EINVAL, "SPDY header block: header " + quoted(name) + " is not allowed in SPDY (§3.2.1)");
        if (!seen.insert(name).second)
            throw Error(EINVAL, "SPDY header block: duplicate header " + quoted(name) +
                                    " (join several values with NUL)");
        if (!valid_value(h.value))
            throw Error(EINVAL, "SPDY header block: value of " + quoted(name) + " has an empty NUL-separated part");
        put32(out, name.size());
        out += name;
        put32(out, h.value.size());
        out += h.value;
    }
    return out;
}

HeaderBlock parse_header_block(std::string_view raw, size_t max_headers) {
    if (raw.size() < 4) bad_block("truncated: " + std::to_string(raw.size()) + " bytes, no pair count");
    uint32_t count = get32(raw, 0);
    if (count > max_headers)
        bad_block(std::to_string(count) + " pairs, over the limit of " + std::to_string(max_headers));
    size_t at = 4;
    auto field = [&](uint32_t pair, const char* what) {
        if (raw.size() - at < 4)
            bad_block("pair " + std::to_string(pair) + ": truncated before the " + what + " length");
        uint32_t len = get32(raw, at);
        at += 4;
        if (raw.size() - at < len)
            bad_block("pair " + std::to_string(pair) + ": " + what + " length " + std::to_string(len) + " runs past the block's end");
        std::string_view s = raw.substr(at, len);
        at += len;
        return s;
    };
    HeaderBlock out;
    out.reserve(count);
    std::set<std::string_view> seen;
    for (uint32_t i = 0; i < count; ++i) {
        std::string_view name = field(i, "name");
        std::string_view value = field(i, "value");
        if (name.empty()) bad_block("pair " + std::to_string(i) + ": empty name");
        for (char c : name)
            if ((c >= 'A' && c <= 'Z') || c == '\0')
                bad_block("header " + quoted(name) + ": names must be lowercase, without NUL");
        if (!seen.insert(name).second) bad_block("duplicate header " + quoted(name));
        if (!valid_value(value)) bad_block("header " + quoted(name) + ": value has an empty NUL-separated part");
        out.push_back({std::string(name), std::string(value)});
    }
    if (at != raw.size()) bad_block(std::to_string(raw.size() - at) + " bytes after the last pair");
    return out;
}

void HeaderDeflater::Free::operator()(z_stream_s* z) const {
    deflateEnd(z);
    delete z;
}

HeaderDeflater::HeaderDeflater() : z_(new z_stream{}) {
    // Header blocks are small: a 2 KiB window still holds the whole
    // 1423-byte dictionary, and memLevel 1 keeps the state near 10 KiB per
    // connection. Any peer's inflate reads a smaller window.
    int rc = deflateInit2(z_.get(), Z_DEFAULT_COMPRESSION, Z_DEFLATED, 11, 1, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
        z_.release();
        throw Error(rc == Z_MEM_ERROR ? ENOMEM : EINVAL, "SPDY header compression: deflateInit2 failed");
    }
    std::string_view dict = header_dictionary();
    rc = deflateSetDictionary(z_.get(), reinterpret_cast<const Bytef*>(dict.data()), static_cast<uInt>(dict.size()));
    if (rc != Z_OK) throw Error(EINVAL, "SPDY header compression: " + zlib_message(*z_, rc));
}

HeaderDeflater::~HeaderDeflater() = default;

std::string HeaderDeflater::deflate(std::string_view raw) {
    std::string out;
    z_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
    z_->avail_in = static_cast<uInt>(raw.size());
    // Z_SYNC_FLUSH ends each block on a byte boundary (§2.6.10.1); loop
    // while deflate fills the space it was given.
    do {
        size_t used = out.size();
        out.resize(used + raw.size() / 2 + 64);
        z_->next_out = reinterpret_cast<Bytef*>(out.data() + used);
        z_->avail_out = static_cast<uInt>(out.size() - used);
        int rc = ::deflate(z_.get(), Z_SYNC_FLUSH);
        if (rc != Z_OK && rc != Z_BUF_ERROR) throw Error(EINVAL, "SPDY header compression: " + zlib_message(*z_, rc));
        out.resize(out.size() - z_->avail_out);
    } while (z_->avail_out == 0 || z_->avail_in > 0);
    return out;
}

void HeaderInflater::Free::operator()(z_stream_s* z) const {
    inflateEnd(z);
    delete z;
}

HeaderInflater::HeaderInflater(size_t max_inflated) : z_(new z_stream{}), max_inflated_(max_inflated) {
    int rc = inflateInit(z_.get());
    if (rc != Z_OK) {
        z_.release();
        throw Error(rc == Z_MEM_ERROR ? ENOMEM : EINVAL, "SPDY header decompression: inflateInit failed");
    }
}

HeaderInflater::~HeaderInflater() = default;

std::string HeaderInflater::inflate(std::string_view compressed) {
    std::string out;
    z_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    z_->avail_in = static_cast<uInt>(compressed.size());
    for (;;) {
        size_t used = out.size();
        out.resize(used + inflate_chunk);
        z_->next_out = reinterpret_cast<Bytef*>(out.data() + used);
        z_->avail_out = inflate_chunk;
        int rc = ::inflate(z_.get(), Z_SYNC_FLUSH);
        out.resize(out.size() - z_->avail_out);
        if (out.size() > max_inflated_)
            throw Error(EMSGSIZE, "SPDY header block inflates past the limit of " + std::to_string(max_inflated_) +
                                      " bytes");
        if (rc == Z_NEED_DICT) {
            // The peer's first block names the dictionary by its Adler-32.
            if (z_->adler != header_dictionary_adler32) {
                char id[16];
                std::snprintf(id, sizeof id, "%08lx", static_cast<unsigned long>(z_->adler));
                throw Error(EPROTO, std::string("SPDY header block: compressed with dictionary 0x") + id +
                                        ", not SPDY/3's");
            }
            std::string_view dict = header_dictionary();
            rc = inflateSetDictionary(z_.get(), reinterpret_cast<const Bytef*>(dict.data()),
                                      static_cast<uInt>(dict.size()));
            if (rc != Z_OK) throw Error(EPROTO, "SPDY header block: " + zlib_message(*z_, rc));
            continue;
        }
        if (rc == Z_STREAM_END) throw Error(EPROTO, "SPDY header block: the peer ended its compression stream");
        if (rc == Z_BUF_ERROR && z_->avail_in == 0) break; // all input used, nothing left to flush
        if (rc != Z_OK) throw Error(EPROTO, "SPDY header block: " + zlib_message(*z_, rc));
        if (z_->avail_in == 0 && z_->avail_out != 0) break;
    }
    return out;
}

} // namespace berth::stream::spdy
