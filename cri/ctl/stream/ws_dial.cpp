#include "ws_dial.hpp"

#include "client_handshake.hpp"
#include "error.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace berth::ctl {

namespace {

using Clock = std::chrono::steady_clock;

struct Url {
    std::string host;   // as in the URL: "127.0.0.1", "[::1]", a name
    std::string port;
    std::string target; // path and query
};

Url parse_url(const std::string& url) {
    constexpr std::string_view http = "http://";
    if (url.rfind(http, 0) != 0) {
        if (url.rfind("https://", 0) == 0)
            throw Error(ENOTSUP, "streaming URL " + url + ": https is not supported (serve the stream on loopback)");
        throw Error(EINVAL, "streaming URL \"" + url + "\": expected http://HOST:PORT/PATH");
    }
    std::string rest = url.substr(http.size());
    size_t slash = rest.find('/');
    Url u;
    std::string authority = rest.substr(0, slash);
    u.target = slash == std::string::npos ? "/" : rest.substr(slash);
    size_t colon = authority.rfind(':');
    if (colon == std::string::npos || (authority.find(']') != std::string::npos && colon < authority.find(']'))) {
        u.host = authority;
        u.port = "80";
    } else {
        u.host = authority.substr(0, colon);
        u.port = authority.substr(colon + 1);
    }
    if (u.host.empty()) throw Error(EINVAL, "streaming URL \"" + url + "\": no host");
    return u;
}

int ms_left(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for fd to be ready for `events`; Error(ETIMEDOUT) past the deadline.
void wait_for(int fd, short events, Clock::time_point deadline, const std::string& what) {
    for (;;) {
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, ms_left(deadline));
        if (n > 0) return;
        if (n == 0) throw Error(ETIMEDOUT, what + ": timed out");
        if (errno != EINTR) throw_errno(what + ": poll");
    }
}

UniqueFd connect_to(const Url& u, Clock::time_point deadline, const std::string& what) {
    std::string host = u.host;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), u.port.c_str(), &hints, &res); rc != 0)
        throw Error(EHOSTUNREACH, what + ": resolving " + u.host + ": " + ::gai_strerror(rc));
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
    int last = ECONNREFUSED;
    for (addrinfo* a = res; a; a = a->ai_next) {
        UniqueFd fd(::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!fd) {
            last = errno;
            continue;
        }
        if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) < 0) {
            if (errno != EINPROGRESS) {
                last = errno;
                continue;
            }
            wait_for(fd.get(), POLLOUT, deadline, what + ": connect");
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                last = err;
                continue;
            }
        }
        int one = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return fd;
    }
    throw Error(last, what + ": connect to " + u.host + ":" + u.port);
}

} // namespace

WsConnection ws_dial(const std::string& url, std::string_view query, std::span<const std::string_view> protocols,
                     std::chrono::milliseconds timeout) {
    const std::string what = "streaming URL " + url;
    auto deadline = Clock::now() + timeout;
    Url u = parse_url(url);
    if (!query.empty()) u.target += (u.target.find('?') == std::string::npos ? "?" : "&") + std::string(query);
    WsConnection c;
    c.fd = connect_to(u, deadline, what);

    std::string key = stream::websocket_client_key();
    std::string req = stream::websocket_client_request(u.host + ":" + u.port, u.target, key, protocols);
    for (std::string_view out(req); !out.empty();) {
        ssize_t w = ::send(c.fd.get(), out.data(), out.size(), MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) throw_errno(what + ": send");
            wait_for(c.fd.get(), POLLOUT, deadline, what + ": send");
            continue;
        }
        out.remove_prefix(static_cast<size_t>(w));
    }

    stream::HttpResponseParser parser;
    std::string body;   // after a refusal's head
    for (;;) {
        wait_for(c.fd.get(), POLLIN, deadline, what + ": waiting for the server's answer");
        char buf[16 * 1024];
        ssize_t r = ::read(c.fd.get(), buf, sizeof buf);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            throw_errno(what + ": read");
        }
        std::string_view got(buf, static_cast<size_t>(r));
        if (!parser.done()) {
            if (r == 0) throw Error(ECONNRESET, what + ": the server closed the connection before answering");
            size_t used = parser.feed(got);
            if (!parser.done()) continue;
            got.remove_prefix(used);
            if (parser.head().status == 101) {
                c.protocol = stream::check_websocket_response(parser.head(), key, protocols);
                c.rest.assign(got);
                return c;
            }
        }
        // A refusal: its short text body says why (a used token, no common
        // protocol). Read it until the server closes or it is long enough.
        body.append(got);
        // Go's servers keep the connection open after http.Error: the
        // body ends at its Content-Length.
        size_t want = 1024;
        if (auto cl = parser.head().headers.get("Content-Length")) want = std::min<size_t>(want, std::strtoul(std::string(*cl).c_str(), nullptr, 10));
        if (r == 0 || body.size() >= want) {
            while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
            const auto& h = parser.head();
            throw Error(h.status == 404 ? ENOENT : EPROTO,
                        what + ": " + std::to_string(h.status) + " " + h.reason + (body.empty() ? "" : ": " + body.substr(0, 1024)));
        }
    }
}

} // namespace berth::ctl
