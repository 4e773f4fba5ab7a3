#include "stream_server.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "http_request.hpp"
#include "http_response.hpp"
#include "log.hpp"
#include "portforward_session.hpp"
#include "portforward_ws_session.hpp"
#include "protocols.hpp"
#include "upgrade.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace berth::stream {

namespace log = berth::cri::log;
using berth::cri::LogLevel;

namespace {

constexpr size_t kMaxConnections = 256;
constexpr std::chrono::seconds kHeadTimeout{15};

void write_all(int fd, std::string_view s) {
    while (!s.empty()) {
        ssize_t w = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                pollfd p{fd, POLLOUT, 0};
                if (::poll(&p, 1, 5000) <= 0) throw Error(ETIMEDOUT, "stream: the client does not read");
                continue;
            }
            throw_errno("stream: write");
        }
        s.remove_prefix(static_cast<size_t>(w));
    }
}

// "127.0.0.1:0", "[::1]:10010", ":0" (all of IPv4).
sockaddr_storage parse_address(const std::string& a, socklen_t& len) {
    auto colon = a.rfind(':');
    if (colon == std::string::npos) throw Error(EINVAL, "stream address \"" + a + "\": expected HOST:PORT");
    std::string host = a.substr(0, colon), port_s = a.substr(colon + 1);
    char* end = nullptr;
    long port = std::strtol(port_s.c_str(), &end, 10);
    if (port_s.empty() || *end || port < 0 || port > 65535)
        throw Error(EINVAL, "stream address \"" + a + "\": bad port \"" + port_s + "\"");
    sockaddr_storage ss{};
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(static_cast<uint16_t>(port));
        if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &s6->sin6_addr) != 1)
            throw Error(EINVAL, "stream address \"" + a + "\": bad IPv6 address");
        len = sizeof *s6;
        return ss;
    }
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<uint16_t>(port));
    if (host.empty()) s4->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (::inet_pton(AF_INET, host.c_str(), &s4->sin_addr) != 1)
        throw Error(EINVAL, "stream address \"" + a + "\": \"" + host + "\" is not an IP address");
    len = sizeof *s4;
    return ss;
}

std::string url_host_port(const sockaddr_storage& ss) {
    char buf[INET6_ADDRSTRLEN];
    if (ss.ss_family == AF_INET6) {
        auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        ::inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
        return "[" + std::string(buf) + "]:" + std::to_string(ntohs(s6->sin6_port));
    }
    auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    std::string host = s4->sin_addr.s_addr == htonl(INADDR_ANY) ? "127.0.0.1" : (::inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof buf), buf);
    return host + ":" + std::to_string(ntohs(s4->sin_port));
}

const char* kind_of(const Request& r) {
    return std::holds_alternative<ExecRequest>(r) ? "exec" : std::holds_alternative<AttachRequest>(r) ? "attach" : "portforward";
}

} // namespace

StreamServer::StreamServer(const std::string& address, StreamBackend& backend) : backend_(backend) {
    socklen_t len = 0;
    sockaddr_storage ss = parse_address(address, len);
    listen_.reset(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listen_) throw_errno("stream address " + address + ": socket");
    int one = 1;
    ::setsockopt(listen_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0) throw_errno("stream address " + address + ": bind");
    if (::listen(listen_.get(), 64) < 0) throw_errno("stream address " + address + ": listen");
    sockaddr_storage got{};
    socklen_t glen = sizeof got;
    ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&got), &glen);
    base_url_ = "http://" + url_host_port(got);
    make_pipe(stop_r_, stop_w_);
    acceptor_ = std::thread([this] { accept_loop(); });
}

StreamServer::~StreamServer() {
    stop_w_.reset();   // wakes the acceptor
    if (acceptor_.joinable()) acceptor_.join();
    std::unique_lock l(conns_mu_);
    for (int fd : conns_) ::shutdown(fd, SHUT_RDWR);
    if (!conns_cv_.wait_for(l, std::chrono::seconds(10), [&] { return conns_.empty(); }))
        log::warn("stream: " + std::to_string(conns_.size()) + " connection(s) still ending at shutdown");
}

std::string StreamServer::url_for(Request r) {
    const char* kind = kind_of(r);
    return base_url_ + "/" + kind + "/" + tokens_.put(std::move(r));
}

void StreamServer::accept_loop() {
    for (;;) {
        pollfd p[2] = {{listen_.get(), POLLIN, 0}, {stop_r_.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[1].revents) return;
        UniqueFd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c) continue;
        size_t live;
        {
            std::lock_guard g(conns_mu_);
            live = conns_.size();
        }
        if (live >= kMaxConnections) {
            // Refused before any thread is spent on it.
            try {
                write_all(c.get(), text_response(503, "too many streaming connections").serialize());
            } catch (const Error&) {
            }
            continue;
        }
        int one = 1;
        ::setsockopt(c.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int fd = c.release();
        {
            std::lock_guard g(conns_mu_);
            conns_.insert(fd);
        }
        std::thread([this, fd] {
            UniqueFd conn(fd);   // closed after it left conns_: no reused number is shut down
            try {
                serve(conn.get());
            } catch (const std::exception& e) {
                log::write(LogLevel::debug, std::string("stream: ") + e.what());
            }
            std::lock_guard g(conns_mu_);
            conns_.erase(fd);
            conns_cv_.notify_all();
        }).detach();
    }
}

void StreamServer::serve(int fd) {
    HttpRequestParser parser;
    std::string rest;
    auto deadline = std::chrono::steady_clock::now() + kHeadTimeout;
    try {
        while (!parser.done()) {
            int left = static_cast<int>(
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
            pollfd p{fd, POLLIN, 0};
            if (left <= 0 || ::poll(&p, 1, left) <= 0) return;   // a client that says nothing
            char buf[8192];
            ssize_t r = ::read(fd, buf, sizeof buf);
            if (r <= 0) return;
            std::string_view got(buf, static_cast<size_t>(r));
            size_t used = parser.feed(got);
            if (parser.done()) rest.assign(got.substr(used));
        }
    } catch (const Error& e) {
        write_all(fd, text_response(http_status_for(e), e.what()).serialize());
        return;
    }
    HttpRequest req = parser.take_request();
    std::string path(req.path());
    auto slash = path.find('/', 1);
    std::string kind = slash == std::string::npos ? "" : path.substr(1, slash - 1);
    std::string token = slash == std::string::npos ? "" : path.substr(slash + 1);
    std::optional<Request> r;
    if (!token.empty() && token.find('/') == std::string::npos) r = tokens_.take(token);
    if (!r || kind != kind_of(*r)) {
        write_all(fd, text_response(404, "404 page not found").serialize());
        return;
    }
    bool ws = is_websocket_request(req.headers);
    if (auto* pf = std::get_if<PortForwardRequest>(&*r)) {
        PortConnect connect = [&](uint16_t port) { return backend_.port_connect(*pf, port); };
        if (ws) {
            // The ports are fixed before the upgrade (kubelet's NewV4Options).
            std::vector<uint16_t> ports;
            try {
                ports = portforward_ws_ports(req, pf->ports);
            } catch (const Error& e) {
                write_all(fd, text_response(400, e.what()).serialize());
                return;
            }
            Upgrade up = upgrade_websocket(req, protocol::websocket_portforward);
            write_all(fd, up.response.serialize());
            if (!up.accepted) return;
            run_portforward_ws_session(fd, rest, up.protocol, ports, pf->ports, connect, pf->pod_id);
            return;
        }
        Upgrade up = upgrade_spdy(req, protocol::spdy_portforward);
        write_all(fd, up.response.serialize());
        if (!up.accepted) return;
        run_portforward_session(fd, rest, pf->ports, connect, pf->pod_id);
        return;
    }
    Upgrade up = ws ? upgrade_websocket(req, protocol::websocket_remotecommand)
                    : upgrade_spdy(req, protocol::spdy_remotecommand);
    write_all(fd, up.response.serialize());
    if (!up.accepted) return;

    CommandStreams s;
    std::unique_ptr<CommandProcess> proc;
    std::string error;
    if (auto* e = std::get_if<ExecRequest>(&*r)) {
        s = {e->stdin, e->stdout, e->stderr, e->tty};
        try {
            proc = backend_.exec(*e);
        } catch (const Error& err) {
            error = err.what();
        }
    } else if (auto* a = std::get_if<AttachRequest>(&*r)) {
        s = {a->stdin, a->stdout, a->stderr, a->tty};
        try {
            proc = backend_.attach(*a);
        } catch (const Error& err) {
            error = err.what();
        }
    }
    auto t = ws ? websocket_command_transport(up.protocol, s) : spdy_command_transport(up.protocol, s);
    struct Failed final : CommandProcess {
        std::string why;
        void start(std::optional<TerminalSize>) override { throw Error(EIO, why); }
        std::vector<std::pair<int, uint8_t>> outputs() const override { return {}; }
        bool read_output(int, size_t, uint8_t&, std::string&) override { return false; }
        int stdin_fd() const override { return -1; }
        void close_stdin() override {}
        void resize(TerminalSize) override {}
        int exit_fd() const override { return -1; }
        int exit_code() override { return 0; }
        void abandon() override {}
    } failed;
    failed.why = error;
    run_command_session(fd, rest, *t, proc ? *proc : failed, s.tty);
}

} // namespace berth::stream
