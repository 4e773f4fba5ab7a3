#include "port_forward.hpp"

#include "channel.hpp"
#include "error.hpp"
#include "protocols.hpp"
#include "websocket.hpp"
#include "ws_dial.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

namespace berth::ctl {

namespace {

namespace protocol = stream::protocol;
constexpr size_t kHighWater = 256 * 1024;
std::mutex g_print_mu;   // connection threads print whole lines

void say(FILE* f, const std::string& line) {
    std::lock_guard g(g_print_mu);
    std::fprintf(f, "%s\n", line.c_str());
    std::fflush(f);
}

uint16_t parse_port(const std::string& s, const std::string& arg, bool zero_ok) {
    char* end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end || v < (zero_ok ? 0 : 1) || v > 65535)
        throw Error(EINVAL, "port-forward: \"" + arg + "\": \"" + s + "\" is not a valid port");
    return static_cast<uint16_t>(v);
}

// One accepted connection, carried to the pod until either side is done.
void forward(UniqueFd local, uint16_t remote, const std::string& url, std::chrono::milliseconds timeout) {
    static constexpr std::array<std::string_view, 2> offered = {protocol::channel_v4, protocol::base64_channel_v4};
    WsConnection conn = ws_dial(url, "port=" + std::to_string(remote), offered, timeout);
    auto proto = stream::channel_protocol(conn.protocol);
    if (!proto) throw Error(EPROTO, "the server chose \"" + conn.protocol + "\"");
    stream::ChannelCodec codec(*proto);
    stream::WebSocketClient ws;
    int sock = conn.fd.get();
    // Each channel's data starts with the port (2 bytes) the server echoes.
    size_t prefix_left[2] = {2, 2};
    std::string error;
    bool server_done = false, local_done = false;
    std::string to_local;
    auto handle = [&](std::string_view bytes) {
        for (auto& ev : ws.feed(bytes)) {
            if (ev.kind == stream::WsEvent::Kind::close) server_done = true;
            else if (ev.kind == stream::WsEvent::Kind::error) throw Error(EPROTO, ev.data);
            if (ev.kind != stream::WsEvent::Kind::message) continue;
            auto m = codec.decode(ev.data);
            if (!m || m->kind != stream::ChannelMessage::Kind::data || m->channel > 1) continue;
            std::string_view d = m->data;
            size_t& skip = prefix_left[m->channel];
            size_t k = std::min(skip, d.size());
            skip -= k;
            d.remove_prefix(k);
            if (m->channel == 0) to_local.append(d);
            else if (error.size() < 4096) error.append(d);
        }
    };
    handle(conn.rest);
    while (!server_done) {
        pollfd fds[2];
        fds[0] = {sock, static_cast<short>((to_local.size() < kHighWater ? POLLIN : 0) |
                                           (ws.pending_output().empty() ? 0 : POLLOUT)), 0};
        fds[1] = {local.get(), static_cast<short>((!local_done && ws.pending_output().size() < kHighWater ? POLLIN : 0) |
                                                  (to_local.empty() ? 0 : POLLOUT)), 0};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll");
        }
        if (fds[0].revents & POLLOUT) {
            auto out = ws.pending_output();
            ssize_t w = ::send(sock, out.data(), out.size(), MSG_NOSIGNAL);
            if (w > 0) ws.consume_output(static_cast<size_t>(w));
            else if (w < 0 && errno != EAGAIN && errno != EINTR) break;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[64 * 1024];
            ssize_t r = ::read(sock, buf, sizeof buf);
            if (r > 0) handle(std::string_view(buf, static_cast<size_t>(r)));
            else if (r == 0 || (errno != EAGAIN && errno != EINTR)) break;
        }
        if (fds[1].revents & POLLOUT && !to_local.empty()) {
            ssize_t w = ::send(local.get(), to_local.data(), to_local.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) to_local.erase(0, static_cast<size_t>(w));
            else if (w < 0 && errno != EAGAIN && errno != EINTR) break;   // the local client left
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR) && !local_done) {
            char buf[32 * 1024];
            ssize_t r = ::recv(local.get(), buf, sizeof buf, MSG_DONTWAIT);
            if (r > 0) {
                if (!ws.close_sent()) ws.send_binary(codec.encode(0, std::string_view(buf, static_cast<size_t>(r))));
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                // WebSocket port-forward has no half-close: the local end
                // finishing ends the forwarded connection.
                local_done = true;
                if (!ws.close_sent()) ws.close(stream::ws_close::normal);
            }
        }
    }
    // What the pod sent before the end still reaches the local client.
    if (!to_local.empty()) {
        pollfd p{local.get(), POLLOUT, 0};
        while (!to_local.empty() && ::poll(&p, 1, 5000) > 0) {
            ssize_t w = ::send(local.get(), to_local.data(), to_local.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w <= 0 && errno != EAGAIN && errno != EINTR) break;
            if (w > 0) to_local.erase(0, static_cast<size_t>(w));
        }
    }
    if (!ws.pending_output().empty()) {
        auto out = ws.pending_output();
        [[maybe_unused]] ssize_t w = ::send(sock, out.data(), out.size(), MSG_NOSIGNAL);
    }
    if (!error.empty()) throw Error(EIO, error);
}

UniqueFd listen_on(uint16_t port, uint16_t& bound) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("port-forward: socket");
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0)
        throw_errno("port-forward: unable to listen on 127.0.0.1:" + std::to_string(port));
    if (::listen(fd.get(), 64) < 0) throw_errno("port-forward: listen");
    socklen_t len = sizeof a;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
    bound = ntohs(a.sin_port);
    return fd;
}

} // namespace

PortPair parse_port_pair(const std::string& arg) {
    PortPair p;
    auto colon = arg.find(':');
    if (colon == std::string::npos) {
        p.remote = parse_port(arg, arg, false);
        p.local = p.remote;
        return p;
    }
    std::string l = arg.substr(0, colon), r = arg.substr(colon + 1);
    p.local = l.empty() ? 0 : parse_port(l, arg, true);
    p.remote = parse_port(r, arg, false);
    return p;
}

void run_port_forward(const std::vector<PortPair>& pairs, const std::function<std::string(uint16_t)>& new_url,
                      std::chrono::milliseconds dial_timeout) {
    std::vector<UniqueFd> listeners;
    std::vector<PortPair> bound;
    for (const auto& p : pairs) {
        PortPair b = p;
        listeners.push_back(listen_on(p.local, b.local));
        bound.push_back(b);
        say(stdout, "Forwarding from 127.0.0.1:" + std::to_string(b.local) + " -> " + std::to_string(b.remote));
    }
    // Shared with the connection threads, which may outlive this frame if
    // it throws.
    auto url_for = std::make_shared<std::function<std::string(uint16_t)>>(new_url);
    std::vector<pollfd> fds;
    for (auto& l : listeners) fds.push_back({l.get(), POLLIN, 0});
    for (;;) {
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("port-forward: poll");
        }
        for (size_t i = 0; i < fds.size(); ++i) {
            if (!(fds[i].revents & POLLIN)) continue;
            UniqueFd c(::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC));
            if (!c) continue;
            int one = 1;
            ::setsockopt(c.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            PortPair p = bound[i];
            say(stdout, "Handling connection for " + std::to_string(p.local));
            // A thread per connection: each blocks in its own poll, and this
            // process never enters a namespace.
            std::thread([c = std::move(c), p, url_for, dial_timeout]() mutable {
                try {
                    forward(std::move(c), p.remote, (*url_for)(p.remote), dial_timeout);
                } catch (const std::exception& e) {
                    say(stderr, "berthctl: port-forward: error forwarding port " + std::to_string(p.remote) + ": " + e.what());
                }
            }).detach();
        }
    }
}

} // namespace berth::ctl
