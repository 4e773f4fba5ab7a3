#include "http_request.hpp"

#include "error.hpp"
#include "http_text.hpp"

#include <cerrno>

namespace berth::stream {

using namespace http_text;

void HttpHeaders::add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }

std::optional<std::string_view> HttpHeaders::get(std::string_view name) const {
    for (const auto& [n, v] : fields_)
        if (iequals(n, name)) return std::string_view(v);
    return std::nullopt;
}

std::vector<std::string_view> HttpHeaders::get_all(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto& [n, v] : fields_)
        if (iequals(n, name)) out.emplace_back(v);
    return out;
}

std::vector<std::string> HttpHeaders::list(std::string_view name) const {
    std::vector<std::string> out;
    for (std::string_view v : get_all(name)) {
        while (true) {
            size_t comma = v.find(',');
            std::string_view item = trim_ows(v.substr(0, comma));
            if (!item.empty()) out.emplace_back(item);
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    return out;
}

bool HttpHeaders::has_token(std::string_view name, std::string_view token) const {
    for (const std::string& item : list(name))
        if (iequals(item, token)) return true;
    return false;
}

std::string_view HttpRequest::path() const {
    std::string_view t = target;
    return t.substr(0, t.find('?'));
}

std::string_view HttpRequest::query() const {
    std::string_view t = target;
    size_t q = t.find('?');
    return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

namespace {

// Go's url.QueryUnescape: nullopt for a '%' not followed by two hex digits.
std::optional<std::string> query_unescape(std::string_view s) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0) return std::nullopt;
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

} // namespace

std::vector<std::string> HttpRequest::query_values(std::string_view key) const {
    std::vector<std::string> out;
    std::string_view q = query();
    while (!q.empty()) {
        size_t amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
        if (pair.empty() || pair.find(';') != std::string_view::npos) continue;
        size_t eq = pair.find('=');
        auto k = query_unescape(pair.substr(0, eq));
        auto v = query_unescape(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
        if (k && v && *k == key) out.push_back(std::move(*v));
    }
    return out;
}

void HttpRequestParser::fail(int err, std::string msg) {
    state_ = State::failed;
    throw Error(err, std::move(msg));
}

size_t HttpRequestParser::feed(std::string_view bytes) {
    if (state_ == State::failed) throw Error(EBADMSG, "HTTP request: fed after a parse error");
    size_t used = 0;
    while (state_ != State::done && used < bytes.size()) {
        size_t nl = bytes.find('\n', used);
        size_t end = nl == std::string_view::npos ? bytes.size() : nl + 1;
        head_bytes_ += end - used;
        if (head_bytes_ > limits_.max_head_bytes)
            fail(EMSGSIZE, "HTTP request head: longer than " + std::to_string(limits_.max_head_bytes) + " bytes");
        if (nl == std::string_view::npos) {
            partial_.append(bytes.substr(used));
            return bytes.size();
        }
        std::string_view l = bytes.substr(used, nl - used);
        used = end;
        if (!partial_.empty()) {
            partial_.append(l);
            std::string whole = std::move(partial_);
            partial_.clear();
            line(whole);
        } else {
            line(l);
        }
    }
    return used;
}

// One line without its LF. A CR before the LF is dropped (RFC 9112 §2.2
// lets a recipient take a bare LF as a line end); a CR elsewhere is an error.
void HttpRequestParser::line(std::string_view l) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.find('\r') != std::string_view::npos)
        fail(EBADMSG, state_ == State::request_line ? "HTTP request line: bare CR"
                                                   : "HTTP header field " + std::to_string(req_.headers.size() + 1) +
                                                         ": bare CR");
    if (state_ == State::request_line)
        request_line(l);
    else
        field_line(l);
}

void HttpRequestParser::request_line(std::string_view l) {
    if (l.empty()) {
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line
        // before the request line (left over from a previous request).
        if (++leading_blank_lines_ > 1) fail(EBADMSG, "HTTP request line: empty");
        return;
    }
    // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
    size_t sp1 = l.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : l.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || l.find(' ', sp2 + 1) != std::string_view::npos)
        fail(EBADMSG, "HTTP request line: expected METHOD SP TARGET SP VERSION");
    std::string_view method = l.substr(0, sp1);
    std::string_view target = l.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = l.substr(sp2 + 1);
    if (!is_token(method)) fail(EBADMSG, "HTTP request line: invalid method");
    if (target.empty()) fail(EBADMSG, "HTTP request line: empty target");
    for (unsigned char c : target)
        if (c <= 0x20 || c == 0x7f) fail(EBADMSG, "HTTP request line: invalid character in target");
    // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3)
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
        version[5] > '9' || version[7] < '0' || version[7] > '9')
        fail(EBADMSG, "HTTP request line: invalid version");
    if (version[5] != '1') fail(ENOTSUP, "HTTP request line: version " + std::string(version) + " not supported");
    req_.method = method;
    req_.target = target;
    req_.version_minor = version[7] - '0';
    state_ = State::fields;
}

void HttpRequestParser::field_line(std::string_view l) {
    if (l.empty()) {
        // RFC 9112 §3.2: an HTTP/1.1 request without exactly one Host, or
        // any request with several, is answered 400.
        size_t hosts = req_.headers.get_all("Host").size();
        if (hosts > 1 || (hosts == 0 && req_.version_minor >= 1))
            fail(EBADMSG, hosts ? "HTTP header Host: repeated" : "HTTP header Host: missing");
        state_ = State::done;
        return;
    }
    std::string where = "HTTP header field " + std::to_string(req_.headers.size() + 1);
    if (req_.headers.size() >= limits_.max_fields)
        fail(EMSGSIZE, "HTTP request head: more than " + std::to_string(limits_.max_fields) + " header fields");
    // RFC 9112 §5.2: obs-fold may be rejected with 400.
    if (l.front() == ' ' || l.front() == '\t') fail(EBADMSG, where + ": obsolete line folding");
    size_t colon = l.find(':');
    if (colon == std::string_view::npos) fail(EBADMSG, where + ": no colon");
    std::string_view name = l.substr(0, colon);
    // RFC 9112 §5.1: no whitespace between the name and the colon.
    if (!is_token(name)) fail(EBADMSG, where + ": invalid field name");
    std::string_view value = trim_ows(l.substr(colon + 1));
    for (unsigned char c : value)
        if (!is_field_value_char(c)) fail(EBADMSG, where + " (" + std::string(name) + "): control character in value");
    req_.headers.add(std::string(name), std::string(value));
}

int http_status_for(const Error& e) {
    switch (e.err()) {
    case EMSGSIZE: return 431;   // RFC 6585 §5
    case ENOTSUP: return 505;
    default: return 400;
    }
}

} // namespace berth::stream
