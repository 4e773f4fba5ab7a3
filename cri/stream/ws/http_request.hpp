// An incremental HTTP/1.1 request-head parser (RFC 9112 §2-§5) for
// berthd's streaming server: the request line and header fields, nothing
// after the blank line. Streaming requests are upgrades (GET, no body), so
// the bytes after the head belong to the upgraded protocol and are left to
// the caller.
//
// Every length is capped: the head's size and the number of fields. A
// violation throws berth::Error whose errno tells the status to answer with
// (http_status_for): EMSGSIZE -> 431, ENOTSUP -> 505, EBADMSG -> 400.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth {
class Error;
}

namespace berth::stream {

// Header fields in arrival order; names compare case-insensitively and
// repeated fields are kept (X-Stream-Protocol-Version may come several times).
class HttpHeaders {
public:
    using Field = std::pair<std::string, std::string>;

    void add(std::string name, std::string value);
    // The first field named `name`, if any.
    std::optional<std::string_view> get(std::string_view name) const;
    // Every field named `name`, in order.
    std::vector<std::string_view> get_all(std::string_view name) const;
    bool has(std::string_view name) const { return get(name).has_value(); }
    // The comma-separated elements of every field named `name`, trimmed of
    // spaces and tabs, empty elements dropped (RFC 9110 §5.6.1 lists).
    std::vector<std::string> list(std::string_view name) const;
    // Whether list(name) holds `token`, compared case-insensitively
    // (Connection: keep-alive, Upgrade).
    bool has_token(std::string_view name, std::string_view token) const;

    const std::vector<Field>& fields() const { return fields_; }
    size_t size() const { return fields_.size(); }

private:
    std::vector<Field> fields_;
};

struct HttpRequest {
    std::string method;
    std::string target;          // as sent: origin-form "/exec/abc?x=1", or absolute-form
    int version_minor = 1;       // HTTP/1.<minor>: 0 or 1
    HttpHeaders headers;

    // The target's path, without the query.
    std::string_view path() const;
    // The target's query (after '?'), empty when none.
    std::string_view query() const;
    // The values of the query parameter `key`, in order (port-forward's
    // repeated port=N), decoded as Go's url.ParseQuery does: '+' is a
    // space, %XX an octet; a pair with a bad escape or a ';' is dropped,
    // as Go drops it.
    std::vector<std::string> query_values(std::string_view key) const;
};

class HttpRequestParser {
public:
    struct Limits {
        // The whole head: request line, fields, line ends. Go's net/http
        // allows 1 MiB; streaming requests carry a few hundred bytes.
        size_t max_head_bytes = 32 * 1024;
        size_t max_fields = 100;
    };

    HttpRequestParser() : HttpRequestParser(Limits{}) {}
    explicit HttpRequestParser(Limits limits) : limits_(limits) {}

    // Feed bytes; returns how many were part of the head. Once the head is
    // complete (done()), the remaining bytes (bytes.substr(returned)) are the
    // upgraded protocol's, and further calls consume nothing. Throws
    // berth::Error on a malformed or oversized head; the parser is then
    // failed and throws again if fed.
    size_t feed(std::string_view bytes);

    bool done() const { return state_ == State::done; }
    // The parsed request; valid once done().
    const HttpRequest& request() const { return req_; }
    HttpRequest take_request() { return std::move(req_); }

private:
    enum class State { request_line, fields, done, failed };
    void line(std::string_view l);
    void request_line(std::string_view l);
    void field_line(std::string_view l);
    [[noreturn]] void fail(int err, std::string msg);

    Limits limits_;
    State state_ = State::request_line;
    std::string partial_;        // an incomplete line
    size_t head_bytes_ = 0;
    int leading_blank_lines_ = 0;
    HttpRequest req_;
};

// The status a server answers a parse error with: 431, 505 or 400.
int http_status_for(const Error& e);

} // namespace berth::stream
