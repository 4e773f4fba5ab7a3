#include "spdy_dictionary.hpp"

#include <array>
#include <cstddef>

namespace berth::stream::spdy {

namespace {

// The dictionary of §2.6.10.1 is a run of words, each after its length as
// a 32-bit big-endian integer, then a run of bare text. Written that way
// here and assembled at compile time; the size and the Adler-32 that the
// unit tests check pin it to the draft's bytes.
constexpr std::string_view words[] = {
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
    "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
    "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
    "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public",
    "set-cookie", "keep-alive", "origin",
};

constexpr std::string_view tail =
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

constexpr size_t dictionary_size() {
    size_t n = tail.size();
    for (std::string_view w : words) n += 4 + w.size();
    return n;
}

constexpr auto build() {
    std::array<char, dictionary_size()> d{};
    size_t at = 0;
    for (std::string_view w : words) {
        d[at++] = 0;
        d[at++] = 0;
        d[at++] = 0;
        d[at++] = static_cast<char>(w.size()); // every word is under 256 bytes
        for (char c : w) d[at++] = c;
    }
    for (char c : tail) d[at++] = c;
    return d;
}

constexpr auto dictionary = build();
static_assert(dictionary.size() == 1423, "SPDY/3 dictionary is 1423 bytes (§2.6.10.1)");

} // namespace

std::string_view header_dictionary() { return {dictionary.data(), dictionary.size()}; }

} // namespace berth::stream::spdy
