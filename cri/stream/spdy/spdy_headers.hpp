// SPDY/3 header blocks (§2.6.10): the name/value block with 32-bit counts
// and lengths, and its zlib compression. Each direction of a connection is
// one zlib stream primed with the SPDY/3 dictionary and flushed with
// Z_SYNC_FLUSH after every block, so a connection needs one HeaderDeflater
// (what it sends) and one HeaderInflater (what it receives), and every
// received block must be inflated, even one for a stream that is refused,
// or the two ends' zlib states part ways.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct z_stream_s;

namespace berth::stream::spdy {

// A name and its value; several values share one name NUL-separated
// ("a\0b"), as duplicate names are not allowed (§2.6.10).
struct Header {
    std::string name;
    std::string value;
    bool operator==(const Header&) const = default;
};
using HeaderBlock = std::vector<Header>;

// The value of `name` (lowercase), or nullptr.
const std::string* find_header(const HeaderBlock& headers, std::string_view name);
// The values of a NUL-separated value; none for an empty one.
std::vector<std::string_view> split_values(std::string_view value);

// The uncompressed block. Names are lowercased; throws Error(EINVAL) for an
// empty or duplicate name, a connection-level header SPDY forbids
// (connection, keep-alive, proxy-connection, transfer-encoding: §3.2.1), or
// a value with an empty NUL-separated part.
std::string serialize_header_block(const HeaderBlock& headers);

// Parses an uncompressed block. Throws Error(EPROTO) naming what is wrong:
// a truncated block, more than max_headers pairs, an empty, duplicate or
// uppercase name, a value with an empty part, bytes after the last pair.
HeaderBlock parse_header_block(std::string_view raw, size_t max_headers);

class HeaderDeflater {
public:
    HeaderDeflater();
    ~HeaderDeflater();
    HeaderDeflater(const HeaderDeflater&) = delete;
    HeaderDeflater& operator=(const HeaderDeflater&) = delete;

    // The next compressed block of this direction's stream.
    std::string deflate(std::string_view raw);
    std::string deflate(const HeaderBlock& headers) { return deflate(serialize_header_block(headers)); }

private:
    struct Free {
        void operator()(z_stream_s* z) const;
    };
    std::unique_ptr<z_stream_s, Free> z_;
};

class HeaderInflater {
public:
    explicit HeaderInflater(size_t max_inflated = 256 * 1024);
    ~HeaderInflater();
    HeaderInflater(const HeaderInflater&) = delete;
    HeaderInflater& operator=(const HeaderInflater&) = delete;

    // The uncompressed bytes of the next block. Throws Error(EPROTO) for
    // zlib data that does not decode (or names another dictionary) and
    // Error(EMSGSIZE) for a block that inflates past max_inflated bytes;
    // either leaves the stream unusable, so the caller ends the session.
    std::string inflate(std::string_view compressed);

private:
    struct Free {
        void operator()(z_stream_s* z) const;
    };
    std::unique_ptr<z_stream_s, Free> z_;
    size_t max_inflated_;
};

} // namespace berth::stream::spdy
