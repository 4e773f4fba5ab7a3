// The HTTP/1.1 request-head parser and response writer (cri/stream/ws/http_*).
#include "error.hpp"
#include "http_request.hpp"
#include "http_response.hpp"

#include <criterion/criterion.h>

#include <string>

using namespace berth::stream;

namespace {

const char* kRequest =
    "GET /exec/tok3n?command=sh&stdin=1 HTTP/1.1\r\n"
    "Host: 127.0.0.1:10010\r\n"
    "Connection: Upgrade\r\n"
    "Upgrade: SPDY/3.1\r\n"
    "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
    "x-stream-protocol-version:   v3.channel.k8s.io , v2.channel.k8s.io\t\r\n"
    "X-Stream-Protocol-Version: channel.k8s.io\r\n"
    "\r\n";

// Parse text whole; the error, if any, as (errno, status, message).
struct Outcome {
    bool ok = false;
    int status = 0;
    std::string what;
};

Outcome parse(const std::string& text, HttpRequestParser::Limits limits = {}) {
    HttpRequestParser p(limits);
    try {
        p.feed(text);
        return {p.done(), 0, ""};
    } catch (const berth::Error& e) {
        return {false, http_status_for(e), e.what()};
    }
}

} // namespace

Test(http_request, parses_fields_in_order_case_insensitively) {
    HttpRequestParser p;
    std::string text = kRequest;
    cr_assert_eq(p.feed(text), text.size());
    cr_assert(p.done());
    const HttpRequest& r = p.request();
    cr_expect_eq(r.method, "GET");
    cr_expect_eq(r.target, "/exec/tok3n?command=sh&stdin=1");
    cr_expect_eq(r.path(), "/exec/tok3n");
    cr_expect_eq(r.query(), "command=sh&stdin=1");
    cr_expect_eq(r.version_minor, 1);
    cr_expect_eq(r.headers.size(), 6u);
    cr_expect_eq(*r.headers.get("HOST"), "127.0.0.1:10010");
    auto all = r.headers.get_all("X-STREAM-PROTOCOL-VERSION");
    cr_assert_eq(all.size(), 3u);
    cr_expect_eq(all[1], "v3.channel.k8s.io , v2.channel.k8s.io");   // OWS trimmed at the ends only
    auto list = r.headers.list("x-stream-protocol-version");
    cr_assert_eq(list.size(), 4u);
    cr_expect_eq(list[0], "v4.channel.k8s.io");
    cr_expect_eq(list[1], "v3.channel.k8s.io");
    cr_expect_eq(list[2], "v2.channel.k8s.io");
    cr_expect_eq(list[3], "channel.k8s.io");
    cr_expect(r.headers.has_token("connection", "upgrade"));
    cr_expect_not(r.headers.has_token("connection", "close"));
    cr_expect_not(r.headers.get("Sec-WebSocket-Key").has_value());
}

Test(http_request, query_values_as_go_parses_them) {
    HttpRequest r;
    r.target = "/portforward/t?port=80&x=1&port=8080%2C9&port=&port=a+b&po%72t=7&port=%zz&port;=1&port=5;6&&port";
    auto v = r.query_values("port");
    // %2C decodes, an empty value is kept, '+' is a space, an escaped key
    // matches; a bad escape or a ';' drops the pair; a bare key is "".
    std::vector<std::string> want = {"80", "8080,9", "", "a b", "7", ""};
    cr_assert_eq(v.size(), want.size(), "%zu values", v.size());
    for (size_t i = 0; i < want.size(); ++i) cr_expect_eq(v[i], want[i], "value %zu: %s", i, v[i].c_str());
    cr_expect(r.query_values("y").empty());
    cr_expect_eq(r.query_values("x").size(), 1u);
    r.target = "/portforward/t";
    cr_expect(r.query_values("port").empty());
    r.target = "/p?port=%4";   // a truncated escape
    cr_expect(r.query_values("port").empty());
}

Test(http_request, one_byte_at_a_time_and_leaves_the_upgraded_bytes) {
    std::string text = std::string(kRequest) + "\x80\x01SPDY";
    HttpRequestParser p;
    size_t head = std::string(kRequest).size();
    size_t used = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        size_t n = p.feed(std::string_view(text).substr(i, 1));
        used += n;
        if (p.done() && i >= head) cr_expect_eq(n, 0u, "consumed byte %zu after the head", i);
    }
    cr_expect(p.done());
    cr_expect_eq(used, head);
    cr_expect_eq(p.request().headers.list("X-Stream-Protocol-Version").size(), 4u);

    // In one piece: feed() returns where the head ends.
    HttpRequestParser q;
    cr_expect_eq(q.feed(text), head);
    cr_expect_eq(q.feed("more"), 0u);
}

Test(http_request, bare_lf_and_one_leading_blank_line) {
    Outcome o = parse("\r\nGET / HTTP/1.1\nHost: h\n\n");
    cr_expect(o.ok, "%s", o.what.c_str());
    o = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_expect_not(o.ok);
    cr_expect_eq(o.status, 400);
}

Test(http_request, http_1_0_needs_no_host) {
    HttpRequestParser p;
    p.feed("GET / HTTP/1.0\r\n\r\n");
    cr_assert(p.done());
    cr_expect_eq(p.request().version_minor, 0);
}

Test(http_request, malformed_heads_are_400_naming_the_fault) {
    struct Case {
        const char* text;
        const char* says;
    } cases[] = {
        {"GET /\r\nHost: h\r\n\r\n", "HTTP request line: expected METHOD SP TARGET SP VERSION"},
        {"GET  HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP request line: empty target"},
        {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP request line: expected"},
        {"GET / HTTP/1.1 x\r\nHost: h\r\n\r\n", "HTTP request line: expected"},
        {"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP request line: invalid method"},
        {"GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP request line: invalid character in target"},
        {"GET / HTTP/1.x\r\nHost: h\r\n\r\n", "HTTP request line: invalid version"},
        {"GET / http/1.1\r\nHost: h\r\n\r\n", "HTTP request line: invalid version"},
        {"GET / HTTP/1.1\r\nHost: h\r\nNo-Colon\r\n\r\n", "HTTP header field 2: no colon"},
        {"GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", "HTTP header field 2: invalid field name"},
        {"GET / HTTP/1.1\r\nHost: h\r\nName : x\r\n\r\n", "HTTP header field 2: invalid field name"},
        {"GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", "HTTP header field 2: invalid field name"},
        {"GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n c\r\n\r\n", "HTTP header field 3: obsolete line folding"},
        {"GET / HTTP/1.1\r\nHost: h\r\nA: b\x01\r\n\r\n", "HTTP header field 2 (A): control character in value"},
        {"GET / HTTP/1.1\r\nHost: h\r\nA: b\rc\r\n\r\n", "HTTP header field 2: bare CR"},
        {"GET / HTTP/1.1\r\n\r\n", "HTTP header Host: missing"},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP header Host: repeated"},
    };
    for (const Case& c : cases) {
        Outcome o = parse(c.text);
        cr_expect_not(o.ok, "accepted %s", c.text);
        cr_expect_eq(o.status, 400, "%s -> %d", c.text, o.status);
        cr_expect(o.what.find(c.says) == 0, "%s: got \"%s\", want \"%s\"", c.text, o.what.c_str(), c.says);
    }
    std::string nul = std::string("GET / HTTP/1.1\r\nHost: h\r\nA: b") + '\0' + "c\r\n\r\n";
    cr_expect_eq(parse(nul).status, 400);
}

Test(http_request, version_2_is_505) {
    Outcome o = parse("GET / HTTP/2.0\r\nHost: h\r\n\r\n");
    cr_expect_eq(o.status, 505);
    cr_expect(o.what.find("version HTTP/2.0 not supported") != std::string::npos, "%s", o.what.c_str());
}

Test(http_request, head_size_cap_is_431_even_without_a_line_end) {
    HttpRequestParser::Limits l;
    l.max_head_bytes = 64;
    Outcome o = parse("GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n", l);
    cr_expect_eq(o.status, 431);
    cr_expect_str_eq(o.what.c_str(), "HTTP request head: longer than 64 bytes");
    // A client that never sends a line end cannot grow the buffer past the cap.
    HttpRequestParser p(l);
    p.feed(std::string(60, 'G'));
    try {
        p.feed(std::string(10, 'G'));
        cr_expect_fail("no error past the cap");
    } catch (const berth::Error& e) {
        cr_expect_eq(http_status_for(e), 431);
    }
    // The parser stays failed.
    try {
        p.feed("\r\n");
        cr_expect_fail("fed after failure");
    } catch (const berth::Error&) {
    }
    // Exactly at the cap is fine.
    std::string exact = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    l.max_head_bytes = exact.size();
    cr_expect(parse(exact, l).ok);
}

Test(http_request, field_count_cap_is_431) {
    HttpRequestParser::Limits l;
    l.max_fields = 3;
    std::string text = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
    cr_expect(parse(text, l).ok);
    Outcome o = parse("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", l);
    cr_expect_eq(o.status, 431);
    cr_expect_str_eq(o.what.c_str(), "HTTP request head: more than 3 header fields");
}

Test(http_response, serializes_status_headers_and_length) {
    HttpResponse r;
    r.status = 101;
    r.add("Connection", "Upgrade").add("Upgrade", "SPDY/3.1");
    cr_expect_eq(r.serialize(), "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n");
    cr_expect_eq(r.header("upgrade"), "SPDY/3.1");

    HttpResponse t = text_response(403, "no");
    cr_expect_eq(t.serialize(),
                 "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "X-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: 3\r\n\r\nno\n");
    cr_expect_eq(reason_phrase(431), "Request Header Fields Too Large");
}

Test(http_response, refuses_header_injection) {
    for (auto [name, value] : {std::pair<std::string, std::string>{"X-A", "b\r\nSet-Cookie: c"},
                               {"X-A", std::string("b\0c", 3)}, {"X A", "b"}, {"", "b"}}) {
        HttpResponse r;
        r.add(name, value);
        try {
            r.serialize();
            cr_expect_fail("serialized header \"%s\"", name.c_str());
        } catch (const berth::Error& e) {
            cr_expect_eq(e.err(), EINVAL);
            cr_expect(std::string(e.what()).find("HTTP response header") == 0, "%s", e.what());
        }
    }
    HttpResponse r;
    r.status = 101;
    r.body = "x";
    try {
        r.serialize();
        cr_expect_fail("101 with a body");
    } catch (const berth::Error&) {
    }
}

// Arbitrary bytes in arbitrary chunks: a result or an error, never more
// than the head cap buffered, never a crash (fixed seed).
Test(http_request, arbitrary_input) {
    uint64_t seed = 0x2545f4914f6cdd1dull;
    auto next = [&seed] {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed;
    };
    const std::string alphabet = "GET /x HTTP/1.1\r\nHost: h:\t \x01\x80Upgrade,";
    int done = 0, failed = 0;
    for (int round = 0; round < 3000; ++round) {
        HttpRequestParser::Limits l;
        l.max_head_bytes = 512;
        HttpRequestParser p(l);
        std::string in = round % 2 ? std::string(kRequest).substr(0, next() % 200) : "";
        while (in.size() < 600) in += alphabet[next() % alphabet.size()];
        size_t at = 0;
        try {
            while (at < in.size() && !p.done()) {
                size_t n = 1 + next() % 50;
                size_t used = p.feed(std::string_view(in).substr(at, n));
                cr_assert_leq(used, n);
                at += used;
                if (used < std::min(n, in.size() - at + used)) cr_assert(p.done());
            }
            done += p.done();
        } catch (const berth::Error& e) {
            ++failed;
            int st = http_status_for(e);
            cr_assert(st == 400 || st == 431 || st == 505, "%d", st);
        }
    }
    cr_expect_gt(failed, 0);
}
