#include "http_response.hpp"

#include "error.hpp"
#include "http_text.hpp"

#include <cerrno>

namespace berth::stream {

using namespace http_text;

std::string_view HttpResponse::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return {};
}

std::string_view reason_phrase(int status) {
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

std::string HttpResponse::serialize() const {
    if (status < 100 || status > 999) throw Error(EINVAL, "HTTP response: invalid status " + std::to_string(status));
    std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
    out += reason_phrase(status);
    out += "\r\n";
    bool has_length = false;
    for (const auto& [name, value] : headers) {
        if (!is_token(name)) throw Error(EINVAL, "HTTP response header \"" + name + "\": invalid name");
        for (unsigned char c : value)
            if (!is_field_value_char(c)) throw Error(EINVAL, "HTTP response header " + name + ": control character in value");
        has_length |= iequals(name, "Content-Length");
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    }
    // RFC 9110 §8.6: no Content-Length in a 1xx or 204.
    bool bodiless = status < 200 || status == 204;
    if (bodiless && !body.empty()) throw Error(EINVAL, "HTTP response: status " + std::to_string(status) + " with a body");
    if (!bodiless && !has_length) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += "\r\n";
    out += body;
    return out;
}

HttpResponse text_response(int status, std::string_view message) {
    HttpResponse r;
    r.status = status;
    r.add("Content-Type", "text/plain; charset=utf-8");
    r.add("X-Content-Type-Options", "nosniff");
    r.add("Connection", "close");
    r.body = std::string(message) + "\n";
    return r;
}

} // namespace berth::stream
