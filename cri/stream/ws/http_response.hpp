// HTTP/1.1 response heads for berthd's streaming server: the 101 of an
// upgrade, and the short text answers to a refused one (400, 403, 426, 431).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::stream {

struct HttpResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    HttpResponse& add(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    // The first header named `name` (case-insensitive), or empty.
    std::string_view header(std::string_view name) const;

    // Status line, headers, blank line and body. Adds Content-Length unless
    // the status has no body (1xx, 204) or the caller set one. Throws
    // berth::Error(EINVAL) naming a header whose name is not a token or
    // whose value holds a control character (no response splitting).
    std::string serialize() const;
};

// RFC 9110 §15's reason phrase for a status ("Switching Protocols"), or
// "Unknown".
std::string_view reason_phrase(int status);

// A plain-text answer that closes the connection: `message` plus a newline
// as the body, as Go's http.Error writes it.
HttpResponse text_response(int status, std::string_view message);

} // namespace berth::stream
