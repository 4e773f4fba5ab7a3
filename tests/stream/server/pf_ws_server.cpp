// pf-ws-server: berthd's streaming server (StreamServer, the real HTTP and
// upgrade path) in front of a TCP echo server on 127.0.0.1, for the
// port-forward interop test (tests/stream/ws/pf-interop.cjs drives it with
// npm's `ws`).
//
//   pf-ws-server TOKENS [ALLOWED,...]
//
// Prints the base URL, then TOKENS port-forward paths (/portforward/T),
// one a line, each for a PortForwardRequest naming ALLOWED (none: any
// port). Every port connects to the echo server, except 9, which connects
// to a port nothing listens on (a real ECONNREFUSED). Runs until its stdin
// ends, then stops the server (which ends its sessions) and exits 0 when
// every connection made to the echo server was closed by the forwarder,
// else 5 (and says which), 1 on an error.
#include "error.hpp"
#include "fd.hpp"
#include "stream_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace berth;
using namespace berth::stream;

namespace {

sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

UniqueFd listener(uint16_t& port) {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a = loopback(0);
    if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) throw_errno("bind 127.0.0.1:0");
    socklen_t len = sizeof a;
    ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return s;
}

// Echoes each connection until its EOF; counts them (and those that ended).
class EchoServer {
public:
    EchoServer() {
        lfd_ = listener(port_);
        if (::listen(lfd_.get(), 64) < 0) throw_errno("listen");
        acceptor_ = std::thread([this] {
            for (;;) {
                int c = ::accept4(lfd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) return;
                ++accepted_;
                std::lock_guard g(mu_);
                fds_.emplace_back(c);
                conns_.emplace_back([this, c] { echo(c); });
            }
        });
    }
    ~EchoServer() {
        ::shutdown(lfd_.get(), SHUT_RDWR);
        acceptor_.join();
        for (auto& fd : fds_) ::shutdown(fd.get(), SHUT_RDWR);   // ones the forwarder left open
        for (auto& t : conns_) t.join();
    }
    uint16_t port() const { return port_; }
    int accepted() const { return accepted_; }
    int ended() const { return ended_; }

private:
    void echo(int c) {
        char buf[65536];
        for (;;) {
            ssize_t r = ::read(c, buf, sizeof buf);
            if (r <= 0) break;
            for (ssize_t off = 0; off < r;) {
                ssize_t w = ::send(c, buf + off, static_cast<size_t>(r - off), MSG_NOSIGNAL);
                if (w <= 0) goto done;
                off += w;
            }
        }
    done:
        ++ended_;
    }

    UniqueFd lfd_;
    uint16_t port_ = 0;
    std::thread acceptor_;
    std::mutex mu_;
    std::vector<UniqueFd> fds_;   // closed after the threads end
    std::vector<std::thread> conns_;
    std::atomic<int> accepted_{0}, ended_{0};
};

class Backend final : public StreamBackend {
public:
    explicit Backend(uint16_t echo) : echo_(echo) {
        refused_ = listener(refused_port_);   // bound, never listening: connect is refused
    }
    std::unique_ptr<CommandProcess> exec(const ExecRequest&) override { throw Error(ENOTSUP, "no exec here"); }
    std::unique_ptr<CommandProcess> attach(const AttachRequest&) override { throw Error(ENOTSUP, "no attach here"); }
    UniqueFd port_connect(const PortForwardRequest&, uint16_t port) override {
        uint16_t to = port == 9 ? refused_port_ : echo_;
        UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a = loopback(to);
        if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0)
            throw_errno("connect to 127.0.0.1:" + std::to_string(port));
        return s;
    }

private:
    uint16_t echo_;
    UniqueFd refused_;
    uint16_t refused_port_ = 0;
};

} // namespace

int main(int argc, char** argv) {
    try {
        if (argc < 2) throw Error(EINVAL, "usage: pf-ws-server TOKENS [ALLOWED,...]");
        int tokens = std::stoi(argv[1]);
        std::vector<int32_t> allowed;
        if (argc > 2)
            for (std::string a = argv[2]; !a.empty();) {
                size_t comma = a.find(',');
                allowed.push_back(std::stoi(a.substr(0, comma)));
                a = comma == std::string::npos ? "" : a.substr(comma + 1);
            }
        EchoServer echo;
        int rc = 0;
        {
            Backend backend(echo.port());
            StreamServer srv("127.0.0.1:0", backend);
            std::printf("%s\n", srv.base_url().c_str());
            for (int i = 0; i < tokens; ++i) {
                std::string url = srv.url_for(PortForwardRequest{"pod-interop", allowed});
                std::printf("%s\n", url.substr(srv.base_url().size()).c_str());
            }
            std::fflush(stdout);
            char buf[256];
            while (::read(0, buf, sizeof buf) > 0) {
            }
        }   // the server ends its sessions here
        // The forwarder closes what it connected: the echo side sees EOF.
        for (int i = 0; i < 200 && echo.ended() < echo.accepted(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        std::fprintf(stderr, "pf-ws-server: %d connection(s) to the echo server, %d ended\n", echo.accepted(), echo.ended());
        if (echo.ended() != echo.accepted()) rc = 5;
        return rc;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pf-ws-server: %s\n", e.what());
        return 1;
    }
}
