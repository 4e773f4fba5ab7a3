// Port-forward over WebSocket (cri/stream/portforward_ws_session.cpp): the
// session runs on one end of a socketpair and the test is the client on
// the other, speaking RFC 6455 frames itself. The pod's side is a real TCP
// server on 127.0.0.1 (echo, or one that says bye and half-closes) or, where
// the test must hold the pod's end (backpressure), a socketpair. Also the
// port list from the query, and the server's wiring (StreamServer with a
// fake backend, over TCP).
#include "channel.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "portforward_ws_session.hpp"
#include "stream_server.hpp"
#include "websocket.hpp"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace berth;
using namespace berth::stream;
using namespace std::chrono_literals;

namespace {

const std::array<uint8_t, 4> kMask = {0x12, 0x34, 0x56, 0x78};

std::string le16(uint16_t p) { return std::string{static_cast<char>(p & 0xff), static_cast<char>(p >> 8)}; }

std::string pattern(size_t n, uint32_t seed) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) {
        seed = seed * 1103515245 + 12345;
        s[i] = static_cast<char>(seed >> 16);
    }
    return s;
}

bool wait_fd(int fd, short ev, int ms) {
    pollfd p{fd, ev, 0};
    return ::poll(&p, 1, ms) > 0;
}

void write_all(int fd, std::string_view s) {
    while (!s.empty()) {
        ssize_t w = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
            wait_fd(fd, POLLOUT, 1000);
            continue;
        }
        if (w < 0) throw_errno("test: send");
        s.remove_prefix(static_cast<size_t>(w));
    }
}

// A TCP server on 127.0.0.1: each connection is served on its own thread.
//   echo: echoes until EOF, then closes;
//   bye:  writes "bye", shuts down its write side, records what it still
//         reads until EOF.
class PodServer {
public:
    enum class Mode { echo, bye };
    explicit PodServer(Mode m) : mode_(m) {
        lfd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert(::bind(lfd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        cr_assert(::listen(lfd_.get(), 16) == 0);
        socklen_t len = sizeof a;
        ::getsockname(lfd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~PodServer() {
        ::shutdown(lfd_.get(), SHUT_RDWR);
        acceptor_.join();
        for (auto& t : conns_) t.join();
    }
    uint16_t port() const { return port_; }
    int accepted() const { return accepted_; }
    // Connections that ended (saw the forwarder's EOF or reset).
    int ended() const { return ended_; }
    std::string received() {
        std::lock_guard g(mu_);
        return received_;
    }

private:
    void accept_loop() {
        for (;;) {
            int c = ::accept4(lfd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;
            ++accepted_;
            conns_.emplace_back([this, c] { serve(UniqueFd(c)); });
        }
    }
    void serve(UniqueFd c) {
        if (mode_ == Mode::bye) {
            write_all(c.get(), "bye");
            ::shutdown(c.get(), SHUT_WR);
        }
        char buf[65536];
        for (;;) {
            if (!wait_fd(c.get(), POLLIN, 20000)) break;
            ssize_t r = ::read(c.get(), buf, sizeof buf);
            if (r <= 0) break;
            if (mode_ == Mode::echo) {
                try {
                    write_all(c.get(), std::string_view(buf, static_cast<size_t>(r)));
                } catch (const Error&) {
                    break;
                }
            } else {
                std::lock_guard g(mu_);
                received_.append(buf, static_cast<size_t>(r));
            }
        }
        ++ended_;
    }

    Mode mode_;
    UniqueFd lfd_;
    uint16_t port_ = 0;
    std::thread acceptor_;
    std::vector<std::thread> conns_;
    std::atomic<int> accepted_{0}, ended_{0};
    std::mutex mu_;
    std::string received_;
};

// A real connect to 127.0.0.1:port, as berthd's netns-connect does in the pod.
UniqueFd tcp_connect(uint16_t port) {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0)
        throw_errno("connect to 127.0.0.1:" + std::to_string(port));
    return s;
}

// A port nothing listens on.
uint16_t closed_port() {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

struct Frame {
    WsOpcode op = WsOpcode::binary;
    std::string data;
};

// The client's end: masked frames out, the server's frames in.
class Client {
public:
    explicit Client(int fd, bool base64 = false) : fd_(fd), base64_(base64) {}

    void send(uint8_t ch, std::string_view data) {
        if (base64_) {
            std::string m(1, static_cast<char>('0' + ch));
            m += ChannelCodec(ChannelProtocol{true, 4, false}).encode(ch, data).substr(1);
            write_all(fd_, ws_encode_frame(WsOpcode::text, m, true, &kMask));
        } else {
            std::string m(1, static_cast<char>(ch));
            m += data;
            write_all(fd_, ws_encode_frame(WsOpcode::binary, m, true, &kMask));
        }
    }
    void close(uint16_t code = ws_close::normal) {
        std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
        write_all(fd_, ws_encode_frame(WsOpcode::close, p, true, &kMask));
    }

    // The next frame, or nullopt at EOF or after ms without one.
    std::optional<Frame> next(int ms = 5000) {
        for (;;) {
            if (auto f = parse()) return f;
            if (!wait_fd(fd_, POLLIN, ms)) return std::nullopt;
            char buf[65536];
            ssize_t r = ::read(fd_, buf, sizeof buf);
            if (r <= 0) return std::nullopt;
            in_.append(buf, static_cast<size_t>(r));
        }
    }
    // The next data message as (channel, data); a close frame ends it.
    std::optional<std::pair<uint8_t, std::string>> message(int ms = 5000) {
        auto f = next(ms);
        if (!f || f->op == WsOpcode::close) {
            last_close_ = f;
            return std::nullopt;
        }
        cr_assert(f->op == (base64_ ? WsOpcode::text : WsOpcode::binary), "frame opcode %d",
                  static_cast<int>(f->op));
        auto m = ChannelCodec(ChannelProtocol{base64_, 4, false}).decode(f->data);
        cr_assert(m.has_value());
        return std::make_pair(m->channel, m->data);
    }
    // Data messages until `want` bytes came on channel ch (others kept in `other`).
    std::string read_channel(uint8_t ch, size_t want, int ms = 5000) {
        std::string got;
        for (auto it = other.begin(); it != other.end() && got.size() < want;) {
            if (it->first == ch) {
                got += it->second;
                it = other.erase(it);
            } else {
                ++it;
            }
        }
        while (got.size() < want) {
            auto m = message(ms);
            cr_assert(m.has_value(), "channel %u: %zu of %zu bytes, then the end", ch, got.size(), want);
            if (m->first == ch) got += m->second;
            else other.push_back(*m);
        }
        return got;
    }
    // The server's close code, reading past data messages (kept in `other`).
    int close_code(int ms = 5000) {
        for (;;) {
            if (last_close_) break;
            auto m = message(ms);
            if (!m) break;
            other.push_back(*m);
        }
        if (!last_close_ || last_close_->data.size() < 2) return -1;
        return (static_cast<uint8_t>(last_close_->data[0]) << 8) | static_cast<uint8_t>(last_close_->data[1]);
    }

    std::vector<std::pair<uint8_t, std::string>> other;

private:
    std::optional<Frame> parse() {
        if (in_.size() < 2) return std::nullopt;
        auto b = [&](size_t i) { return static_cast<uint8_t>(in_[i]); };
        cr_assert(!(b(1) & 0x80), "a server frame is masked");
        cr_assert(b(0) & 0x80, "a fragmented server frame");
        uint64_t len = b(1) & 0x7f;
        size_t at = 2;
        if (len == 126) {
            if (in_.size() < 4) return std::nullopt;
            len = (b(2) << 8) | b(3);
            at = 4;
        } else if (len == 127) {
            if (in_.size() < 10) return std::nullopt;
            len = 0;
            for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + i);
            at = 10;
        }
        if (in_.size() < at + len) return std::nullopt;
        Frame f{static_cast<WsOpcode>(b(0) & 0x0f), in_.substr(at, len)};
        in_.erase(0, at + len);
        return f;
    }

    int fd_;
    bool base64_;
    std::string in_;
    std::optional<Frame> last_close_;
};

// A session on a thread; join() waits for its end (false: it hung).
struct Session {
    UniqueFd client, server;
    std::promise<std::string> done;   // "" or the exception's text
    std::future<std::string> result = done.get_future();
    std::atomic<int> connects{0};

    Session() {
        int sv[2];
        cr_assert(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        client.reset(sv[0]);
        server.reset(sv[1]);
    }
    void start(std::string protocol, std::vector<uint16_t> ports, std::vector<int32_t> allowed, PortConnect connect,
               WsForwardLimits limits = fast()) {
        int fd = server.get();
        std::thread([this, fd, protocol, ports, allowed, connect, limits] {
            try {
                run_portforward_ws_session(fd, "", protocol, ports, allowed, [&](uint16_t p) {
                    ++connects;
                    return connect(p);
                }, "pod-x", limits);
                done.set_value("");
            } catch (const std::exception& e) {
                done.set_value(e.what());
            }
        }).detach();
    }
    // The session ended within ms, and cleanly.
    void join(int ms = 5000) {
        cr_assert(result.wait_for(std::chrono::milliseconds(ms)) == std::future_status::ready, "the session did not end");
        std::string err = result.get();
        cr_assert(err.empty(), "the session threw: %s", err.c_str());
    }
    bool ended_within(int ms) { return result.wait_for(std::chrono::milliseconds(ms)) == std::future_status::ready; }
    static WsForwardLimits fast() {
        WsForwardLimits l;
        l.linger = 200ms;
        l.close_wait = 1000ms;
        return l;
    }
};

PortConnect to(uint16_t real) {
    return [real](uint16_t) { return tcp_connect(real); };
}

void expect_prefixes(Client& c, uint16_t port, uint8_t data_ch = 0) {
    auto d = c.message();
    auto e = c.message();
    cr_assert(d && e, "no port prefix");
    cr_expect_eq(d->first, data_ch);
    cr_expect_eq(d->second, le16(port), "data channel's prefix");
    cr_expect_eq(e->first, data_ch + 1);
    cr_expect_eq(e->second, le16(port), "error channel's prefix");
}

std::vector<uint16_t> ports_of(const std::string& target, std::vector<int32_t> requested = {}) {
    HttpRequest r;
    r.target = target;
    return portforward_ws_ports(r, requested);
}

std::string ports_error(const std::string& target, std::vector<int32_t> requested = {}) {
    try {
        ports_of(target, requested);
    } catch (const Error& e) {
        cr_expect_eq(e.err(), EINVAL);
        return e.what();
    }
    return "(no error)";
}

} // namespace

Test(portforward_ws, ports_from_the_query_as_kubelet_reads_them) {
    cr_expect(ports_of("/portforward/t?port=80&port=443") == std::vector<uint16_t>({80, 443}));
    cr_expect(ports_of("/portforward/t?port=80,443&port=%38%30") == std::vector<uint16_t>({80, 443, 80}));
    // Without the query, the CRI request's ports (kubelet's CRI server uses pf.Port).
    cr_expect(ports_of("/portforward/t", {8080, 9}) == std::vector<uint16_t>({8080, 9}));
    cr_expect(ports_of("/portforward/t?port=7", {8080}) == std::vector<uint16_t>({7}));
    cr_expect_eq(ports_error("/portforward/t"), "query parameter \"port\" is required");
    cr_expect_eq(ports_error("/portforward/t?ports=80"), "query parameter \"port\" is required");
    cr_expect_eq(ports_error("/portforward/t?port=80&port="), "query parameter \"port\" cannot be empty");
    cr_expect_eq(ports_error("/portforward/t?port=8o"),
                     "unable to parse \"8o\" as a port: strconv.ParseUint: parsing \"8o\": invalid syntax");
    cr_expect_eq(ports_error("/portforward/t?port=80,"),
                     "unable to parse \"80,\" as a port: strconv.ParseUint: parsing \"\": invalid syntax");
    cr_expect_eq(ports_error("/portforward/t?port=-1"),
                     "unable to parse \"-1\" as a port: strconv.ParseUint: parsing \"-1\": invalid syntax");
    cr_expect_eq(ports_error("/portforward/t?port=65536"),
                     "unable to parse \"65536\" as a port: strconv.ParseUint: parsing \"65536\": value out of range");
    cr_expect_eq(ports_error("/portforward/t?port=0"), "port \"0\" must be > 0");
    std::string many = "/portforward/t?port=1";
    for (int i = 0; i < 100; ++i) many += ",1";
    cr_expect_eq(ports_error(many), "too many ports: 101 (at most 100 in one request)");
}

Test(portforward_ws, prefix_on_both_channels_then_data_both_ways) {
    PodServer pod(PodServer::Mode::echo);
    Session s;
    s.start("v4.channel.k8s.io", {8080}, {8080}, to(pod.port()));
    Client c(s.client.get());
    expect_prefixes(c, 8080);
    // The client's data carries no prefix; the pod sees exactly it.
    c.send(0, "hello");
    cr_expect_eq(c.read_channel(0, 5), "hello");
    std::string big = pattern(300 * 1024, 1);
    c.send(0, big);
    cr_expect(c.read_channel(0, big.size()) == big, "300 KiB came back changed");
    // An error channel, an unknown channel and an empty message are ignored.
    c.send(1, "not for the pod");
    c.send(9, "nor this");
    c.send(0, "!");
    cr_expect_eq(c.read_channel(0, 1), "!");
    cr_expect(c.other.empty(), "%zu unexpected messages", c.other.size());
    // The client closes: the server answers the close and ends, the pod's connection too.
    c.close(ws_close::normal);
    cr_expect_eq(c.close_code(), ws_close::normal);
    s.join();
    cr_expect_eq(pod.accepted(), 1);
    for (int i = 0; i < 100 && pod.ended() < 1; ++i) std::this_thread::sleep_for(10ms);
    cr_expect_eq(pod.ended(), 1, "the pod's connection is still open");
}

Test(portforward_ws, the_pod_ends_its_side_the_port_ends_and_the_websocket_closes) {
    PodServer pod(PodServer::Mode::bye);
    Session s;
    WsForwardLimits l = Session::fast();
    l.linger = 500ms;
    auto start = std::chrono::steady_clock::now();
    s.start("v4.channel.k8s.io", {80}, {}, to(pod.port()), l);
    Client c(s.client.get());
    expect_prefixes(c, 80);
    cr_expect_eq(c.read_channel(0, 3), "bye");
    // After the pod's EOF the client's data still reaches it for a while
    // (v4 has no half-close; containerd gives the other direction a second).
    c.send(0, "late");
    int code = c.close_code(3000);
    auto took = std::chrono::steady_clock::now() - start;
    cr_expect_eq(code, ws_close::normal, "close code %d", code);
    cr_expect(took >= 500ms && took < 2s, "closed after %lld ms",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    cr_expect(c.other.empty(), "no error message: %zu more", c.other.size());
    c.close();
    s.join();
    for (int i = 0; i < 100 && pod.ended() < 1; ++i) std::this_thread::sleep_for(10ms);
    cr_expect_eq(pod.received(), "late");
    cr_expect_eq(pod.ended(), 1);
}

Test(portforward_ws, a_failed_connect_is_written_on_the_error_channel) {
    uint16_t port = closed_port();
    Session s;
    s.start("v4.channel.k8s.io", {port}, {}, to(port));
    Client c(s.client.get());
    expect_prefixes(c, port);
    auto m = c.message();
    cr_assert(m.has_value());
    cr_expect_eq(m->first, 1);
    std::string want = "error forwarding port " + std::to_string(port) + " to pod pod-x: connect to 127.0.0.1:" +
                       std::to_string(port) + ": Connection refused";
    cr_expect_eq(m->second, want, "got \"%s\"", m->second.c_str());
    cr_expect_eq(c.close_code(), ws_close::normal);
    c.close();
    s.join();
}

Test(portforward_ws, a_port_the_request_did_not_name_is_refused) {
    PodServer pod(PodServer::Mode::echo);
    Session s;
    s.start("v4.channel.k8s.io", {8081}, {8080}, to(pod.port()));
    Client c(s.client.get());
    expect_prefixes(c, 8081);
    auto m = c.message();
    cr_assert(m.has_value());
    cr_expect_eq(m->first, 1);
    cr_expect_eq(m->second, "port 8081 was not asked for in the PortForward request");
    cr_expect_eq(c.close_code(), ws_close::normal);
    c.close();
    s.join();
    cr_expect_eq(s.connects.load(), 0, "connected to a refused port");
    cr_expect_eq(pod.accepted(), 0);
}

Test(portforward_ws, two_ports_in_one_request) {
    PodServer echo(PodServer::Mode::echo), bye(PodServer::Mode::bye);
    Session s;
    s.start("v4.channel.k8s.io", {1001, 1002}, {}, [&](uint16_t p) {
        return tcp_connect(p == 1001 ? echo.port() : bye.port());
    });
    Client c(s.client.get());
    expect_prefixes(c, 1001, 0);
    expect_prefixes(c, 1002, 2);
    c.send(0, "one");
    cr_expect_eq(c.read_channel(0, 3), "one");
    cr_expect_eq(c.read_channel(2, 3), "bye");
    c.send(2, "two");
    c.send(0, "uno");
    cr_expect_eq(c.read_channel(0, 3), "uno");
    // The second port ends (its pod said bye); the first goes on.
    std::this_thread::sleep_for(400ms);
    c.send(0, "still");
    cr_expect_eq(c.read_channel(0, 5), "still");
    c.other.clear();
    cr_expect_eq(bye.received(), "two");
    cr_expect_eq(bye.ended(), 1);
    // The WebSocket ends with the client.
    c.close(4000);
    cr_expect_eq(c.close_code(), 4000);
    s.join();
    cr_expect_eq(s.connects.load(), 2);
}

Test(portforward_ws, base64_protocol_text_messages) {
    PodServer pod(PodServer::Mode::echo);
    Session s;
    s.start("v4.base64.channel.k8s.io", {443}, {443}, to(pod.port()));
    Client c(s.client.get(), true);
    expect_prefixes(c, 443);
    std::string data = pattern(70000, 7);   // not UTF-8: base64 carries it
    c.send(0, data);
    cr_expect(c.read_channel(0, data.size()) == data, "base64 data came back changed");
    c.close();
    cr_expect_eq(c.close_code(), ws_close::normal);
    s.join();
}

Test(portforward_ws, no_subprotocol_is_binary) {
    PodServer pod(PodServer::Mode::echo);
    Session s;
    s.start("", {80}, {}, to(pod.port()));
    Client c(s.client.get());
    expect_prefixes(c, 80);
    c.send(0, "legacy");
    cr_expect_eq(c.read_channel(0, 6), "legacy");
    c.close();
    s.join();
}

Test(portforward_ws, a_client_that_goes_away_ends_the_session_and_its_connections) {
    PodServer pod(PodServer::Mode::echo);
    Session s;
    s.start("v4.channel.k8s.io", {80}, {}, to(pod.port()));
    Client c(s.client.get());
    expect_prefixes(c, 80);
    c.send(0, "x");
    cr_expect_eq(c.read_channel(0, 1), "x");
    s.client.reset();   // no close frame: the TCP connection just ends
    s.join();
    for (int i = 0; i < 100 && pod.ended() < 1; ++i) std::this_thread::sleep_for(10ms);
    cr_expect_eq(pod.ended(), 1);
}

// The pod does not read: the session stops reading the client, so what the
// client can write is bounded; once the pod reads, all of it arrives.
Test(portforward_ws, backpressure_toward_the_pod) {
    int sv[2];
    cr_assert(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    UniqueFd pod_end(sv[0]);
    std::optional<UniqueFd> session_end(UniqueFd{sv[1]});
    int small = 16 * 1024;
    ::setsockopt(pod_end.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ::setsockopt(session_end->get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    Session s;
    ::setsockopt(s.client.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::setsockopt(s.server.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    s.start("v4.channel.k8s.io", {5000}, {}, [&](uint16_t) { return std::move(*session_end); });
    Client c(s.client.get());
    expect_prefixes(c, 5000);

    // 4 MiB in 32 KiB messages, written without blocking until it stalls.
    const size_t total = 4 << 20;
    std::string data = pattern(total, 3);
    std::string wire;
    for (size_t off = 0; off < total; off += 32 * 1024)
        wire += ws_encode_frame(WsOpcode::binary, std::string(1, '\0') + data.substr(off, 32 * 1024), true, &kMask);
    ::fcntl(s.client.get(), F_SETFL, ::fcntl(s.client.get(), F_GETFL) | O_NONBLOCK);
    size_t sent = 0;
    for (int idle = 0; idle < 20 && sent < wire.size();) {
        ssize_t w = ::send(s.client.get(), wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
        if (w > 0) {
            sent += static_cast<size_t>(w);
            idle = 0;
        } else {
            ++idle;
            std::this_thread::sleep_for(10ms);
        }
    }
    cr_expect_lt(sent, size_t{1} << 20, "the client wrote %zu bytes to a pod that does not read", sent);

    // The pod reads: everything arrives, in order.
    std::string got;
    char buf[65536];
    while (got.size() < total) {
        if (sent < wire.size()) {
            ssize_t w = ::send(s.client.get(), wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
            if (w > 0) sent += static_cast<size_t>(w);
        }
        if (!wait_fd(pod_end.get(), POLLIN, 5000)) break;
        ssize_t r = ::read(pod_end.get(), buf, sizeof buf);
        if (r <= 0) break;
        got.append(buf, static_cast<size_t>(r));
    }
    cr_expect_eq(got.size(), total);
    cr_expect(got == data, "the pod got the data changed");
    ::fcntl(s.client.get(), F_SETFL, ::fcntl(s.client.get(), F_GETFL) & ~O_NONBLOCK);
    c.close();
    s.join();
}

// The client does not read: the session stops reading the pod once its
// output is over the high-water mark; once the client reads, all arrives.
Test(portforward_ws, backpressure_toward_the_client) {
    int sv[2];
    cr_assert(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    UniqueFd pod_end(sv[0]);
    std::optional<UniqueFd> session_end(UniqueFd{sv[1]});
    int small = 16 * 1024;
    ::setsockopt(pod_end.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::setsockopt(session_end->get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    Session s;
    ::setsockopt(s.client.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ::setsockopt(s.server.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    WsForwardLimits l = Session::fast();
    l.output_high_water = 64 * 1024;
    s.start("v4.channel.k8s.io", {5000}, {}, [&](uint16_t) { return std::move(*session_end); }, l);
    Client c(s.client.get());
    expect_prefixes(c, 5000);

    const size_t total = 4 << 20;
    std::string data = pattern(total, 5);
    ::fcntl(pod_end.get(), F_SETFL, ::fcntl(pod_end.get(), F_GETFL) | O_NONBLOCK);
    size_t sent = 0;
    for (int idle = 0; idle < 20 && sent < total;) {
        ssize_t w = ::send(pod_end.get(), data.data() + sent, total - sent, MSG_NOSIGNAL);
        if (w > 0) {
            sent += static_cast<size_t>(w);
            idle = 0;
        } else {
            ++idle;
            std::this_thread::sleep_for(10ms);
        }
    }
    cr_expect_lt(sent, size_t{1} << 20, "the pod wrote %zu bytes to a client that does not read", sent);

    std::thread writer([&] {
        ::fcntl(pod_end.get(), F_SETFL, ::fcntl(pod_end.get(), F_GETFL) & ~O_NONBLOCK);
        write_all(pod_end.get(), std::string_view(data).substr(sent));
        ::shutdown(pod_end.get(), SHUT_WR);
    });
    std::string got = c.read_channel(0, total);
    writer.join();
    cr_expect(got == data, "the client got the data changed");
    // Messages are at most 32 KiB of data, as kubelet's io.Copy writes them.
    cr_expect_eq(c.close_code(), ws_close::normal);
    c.close();
    s.join();
}

// The server's wiring: a WebSocket on /portforward/TOKEN.
namespace {

struct FakeBackend final : StreamBackend {
    uint16_t target = 0;
    std::vector<uint16_t> asked;
    std::unique_ptr<CommandProcess> exec(const ExecRequest&) override { throw Error(ENOTSUP, "no exec"); }
    std::unique_ptr<CommandProcess> attach(const AttachRequest&) override { throw Error(ENOTSUP, "no attach"); }
    UniqueFd port_connect(const PortForwardRequest&, uint16_t port) override {
        asked.push_back(port);
        return tcp_connect(target);
    }
};

// GET the path with a WebSocket upgrade; the socket and the response head.
std::pair<UniqueFd, std::string> upgrade(StreamServer& srv, const std::string& path_and_query,
                                         const std::string& protocols) {
    std::string hp = srv.base_url().substr(7);
    UniqueFd s = tcp_connect(static_cast<uint16_t>(std::stoi(hp.substr(hp.rfind(':') + 1))));
    std::string req = "GET " + path_and_query + " HTTP/1.1\r\nHost: " + hp +
                      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n" +
                      (protocols.empty() ? "" : "Sec-WebSocket-Protocol: " + protocols + "\r\n") + "\r\n";
    write_all(s.get(), req);
    std::string head;
    char ch;
    while (head.find("\r\n\r\n") == std::string::npos && wait_fd(s.get(), POLLIN, 5000) && ::read(s.get(), &ch, 1) == 1)
        head += ch;
    return {std::move(s), head};
}

std::string body_of(int fd, const std::string& head) {
    std::string body;
    char buf[4096];
    ssize_t r;
    while (wait_fd(fd, POLLIN, 5000) && (r = ::read(fd, buf, sizeof buf)) > 0) body.append(buf, static_cast<size_t>(r));
    (void)head;
    return body;
}

} // namespace

Test(portforward_ws, served_by_the_stream_server) {
    PodServer pod(PodServer::Mode::echo);
    FakeBackend backend;
    backend.target = pod.port();
    StreamServer srv("127.0.0.1:0", backend);
    auto path = [&](std::vector<int32_t> ports) {
        std::string u = srv.url_for(PortForwardRequest{"pod-1", std::move(ports)});
        return u.substr(srv.base_url().size());
    };

    // No port anywhere: 400 in kubelet's words.
    {
        auto [s, head] = upgrade(srv, path({}), "v4.channel.k8s.io");
        cr_expect(head.rfind("HTTP/1.1 400 ", 0) == 0, "%s", head.c_str());
        std::string body = body_of(s.get(), head);
        cr_expect(body.find("query parameter \"port\" is required") != std::string::npos, "%s", body.c_str());
    }
    // A protocol port-forward does not speak: 403.
    {
        auto [s, head] = upgrade(srv, path({80}), "v5.channel.k8s.io");
        cr_expect(head.rfind("HTTP/1.1 403 ", 0) == 0, "%s", head.c_str());
    }
    // The query's ports, v4 chosen by the client's order.
    {
        auto [s, head] = upgrade(srv, path({80, 81}) + "?port=81", "v5.channel.k8s.io, v4.channel.k8s.io");
        cr_assert(head.rfind("HTTP/1.1 101 ", 0) == 0, "%s", head.c_str());
        cr_expect(head.find("Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n") != std::string::npos, "%s", head.c_str());
        Client c(s.get());
        expect_prefixes(c, 81);
        c.send(0, "via berthd");
        cr_expect_eq(c.read_channel(0, 10), "via berthd");
        c.close();
        cr_expect_eq(c.close_code(), ws_close::normal);
    }
    cr_expect(backend.asked == std::vector<uint16_t>({81}));
}
