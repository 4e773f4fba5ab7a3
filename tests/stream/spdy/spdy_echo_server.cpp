// spdy-echo-server: the SPDY side of the interop test (spdy-interop.js).
// Listens on 127.0.0.1 on an ephemeral port, prints "PORT <n>", accepts one
// connection, answers its HTTP/1.1 upgrade to SPDY/3.1 as kubelet's
// streaming server does (101, X-Stream-Protocol-Version v4.channel.k8s.io),
// then runs berth's ServerSession like an exec: the data of the stream with
// "streamtype: stdin" comes back on the "stdout" stream; once stdin ends,
// stdout ends, the "error" stream gets the v4 status and the session ends
// with GOAWAY. Data is reported consumed only when the stdout stream has
// taken it, so a client that does not read stdout stops stdin.
// On exit it prints one line of counters to stderr for the test to check.
// The HTTP parsing is the least that works: berthd has its own parser.
#include "fd.hpp"
#include "spdy_session.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

using namespace berth::stream::spdy;

namespace {

// Safety nets against a hung peer, not test assertions.
constexpr int idle_timeout_ms = 30000;
constexpr size_t max_request = 16 * 1024;

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "spdy-echo-server: %s\n", msg.c_str());
    std::exit(1);
}

[[noreturn]] void die_errno(const std::string& what) { die(what + ": " + std::strerror(errno)); }

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return std::string(s);
}

bool wait_for(int fd, short events) {
    pollfd p{fd, events, 0};
    int rc;
    do {
        rc = ::poll(&p, 1, idle_timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) die_errno("poll");
    return rc > 0;
}

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die_errno("send");
        data.remove_prefix(size_t(n));
    }
}

// Reads the upgrade request, answers it, and returns the bytes that came
// after it (the client's first SPDY frames, if any).
std::string upgrade(int fd) {
    std::string req;
    size_t end;
    while ((end = req.find("\r\n\r\n")) == std::string::npos) {
        if (req.size() > max_request) die("HTTP request header over " + std::to_string(max_request) + " bytes");
        if (!wait_for(fd, POLLIN)) die("no HTTP request within the idle timeout");
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("connection closed before the HTTP request ended");
        req.append(buf, size_t(n));
    }
    std::string rest = req.substr(end + 4);
    req.resize(end);

    bool conn_upgrade = false, spdy = false, v4 = false;
    size_t line_end = req.find("\r\n");
    std::string request_line = req.substr(0, line_end);
    for (size_t at = line_end; at != std::string::npos && at < req.size();) {
        size_t start = at + 2;
        size_t next = req.find("\r\n", start);
        std::string line = req.substr(start, next == std::string::npos ? std::string::npos : next - start);
        at = next;
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = lower(trim(line.substr(0, colon)));
        std::string value = trim(line.substr(colon + 1));
        if (name == "connection" && lower(value).find("upgrade") != std::string::npos) conn_upgrade = true;
        if (name == "upgrade" && lower(value) == "spdy/3.1") spdy = true;
        // One header per version, or several comma-separated (kubelet's
        // httpstream accepts both).
        if (name == "x-stream-protocol-version")
            for (size_t i = 0; i <= value.size();) {
                size_t comma = value.find(',', i);
                if (trim(value.substr(i, comma == std::string::npos ? std::string::npos : comma - i)) == "v4.channel.k8s.io")
                    v4 = true;
                if (comma == std::string::npos) break;
                i = comma + 1;
            }
    }
    if (!conn_upgrade || !spdy || !v4) {
        write_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        die("not a SPDY/3.1 upgrade offering v4.channel.k8s.io: " + request_line);
    }
    write_all(fd, "HTTP/1.1 101 Switching Protocols\r\n"
                  "Connection: Upgrade\r\n"
                  "Upgrade: SPDY/3.1\r\n"
                  "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n");
    return rest;
}

class Echo {
public:
    explicit Echo(ServerSession& s) : s_(s) {}

    void handle(std::vector<Event> events) {
        for (Event& e : events) std::visit([&](auto& ev) { on(ev); }, e);
        forward();
    }
    // Retried after the output drains: the stdout stream takes more then.
    void forward();
    bool finished() const { return finished_ || failed_; }
    bool failed() const { return failed_; }
    bool all_sent() const {
        for (auto& [id, type] : types_)
            if (s_.queued(id) > 0) return false;
        return s_.pending_output().empty();
    }
    void report() const {
        const SessionStats& st = s_.stats();
        std::fprintf(stderr,
                     "spdy-echo-server: echoed=%zu max_held=%zu streams_opened=%llu window_stalls=%llu "
                     "window_updates_sent=%llu window_updates_received=%llu peer_flow_control=%d "
                     "pings_received=%zu our_pings_answered=%zu peer_resets=%zu half_closed=%zu failed=%d\n",
                     echoed_, max_held_, (unsigned long long)st.streams_opened, (unsigned long long)st.window_stalls,
                     (unsigned long long)st.window_updates_sent, (unsigned long long)st.window_updates_received,
                     st.peer_flow_control ? 1 : 0, pings_received_, pings_answered_, peer_resets_, half_closed_,
                     failed_ ? 1 : 0);
    }

private:
    void on(StreamOpened& e) {
        const std::string* t = find_header(e.headers, "streamtype");
        std::string type = t ? *t : "";
        types_[e.stream_id] = type;
        if (!ids_.count(type)) ids_[type] = e.stream_id;
        // kubelet replies with no headers; spdy-transport wants a :status.
        // The client's x- headers come back as x-echo-*, so the test sees
        // header blocks cross both ways, multi-valued ones included.
        HeaderBlock reply = {{":status", "200"}, {":version", "HTTP/1.1"}, {"x-echo-streamtype", type}};
        for (const Header& h : e.headers)
            if (h.name.rfind("x-", 0) == 0) reply.push_back({"x-echo-" + h.name, h.value});
        s_.reply(e.stream_id, reply);
    }
    void on(StreamData& e) {
        if (e.stream_id == id_of("stdin") && !finished_) {
            held_ += e.data;
            max_held_ = std::max(max_held_, held_.size());
        } else {
            s_.consumed(e.stream_id, e.data.size()); // nothing else is echoed
        }
    }
    void on(StreamHalfClosed& e) {
        ++half_closed_;
        if (e.stream_id == id_of("stdin")) stdin_done_ = true;
    }
    void on(StreamReset& e) {
        if (e.by_peer) ++peer_resets_;
        std::fprintf(stderr, "spdy-echo-server: stream %u (%s) reset: %s\n", e.stream_id,
                     types_[e.stream_id].c_str(), e.reason.c_str());
    }
    void on(PingReceived&) { ++pings_received_; }
    void on(PingAnswered&) { ++pings_answered_; }
    void on(StreamHeaders&) {}
    void on(GoawayReceived&) {}
    void on(SessionError& e) {
        failed_ = true;
        std::fprintf(stderr, "spdy-echo-server: session error: %s\n", e.message.c_str());
    }

    uint32_t id_of(const std::string& type) const {
        auto it = ids_.find(type);
        return it == ids_.end() ? 0 : it->second;
    }

    ServerSession& s_;
    std::map<uint32_t, std::string> types_;
    std::map<std::string, uint32_t> ids_; // first stream of each type
    std::string held_;                    // stdin data the stdout stream has not taken yet
    size_t max_held_ = 0;
    size_t echoed_ = 0;
    size_t pings_received_ = 0, pings_answered_ = 0, peer_resets_ = 0, half_closed_ = 0;
    bool stdin_done_ = false;
    bool finished_ = false;
    bool failed_ = false;
};

void Echo::forward() {
    if (failed_ || finished_) return;
    uint32_t out = id_of("stdout"), in = id_of("stdin");
    if (out && s_.is_open(out) && !held_.empty()) {
        size_t n = s_.send_data(out, held_);
        if (n > 0) {
            held_.erase(0, n);
            echoed_ += n;
            s_.consumed(in, n); // credits the session window even if stdin was reset meanwhile
        }
    }
    if (!stdin_done_ || !held_.empty()) return;
    // Like an exec whose process exited: end the output streams, send the
    // v4 status on the error stream, and end the session.
    for (auto& [id, type] : types_) {
        if (!s_.may_send(id)) continue;
        if (type == "error")
            s_.send_data(id, R"({"metadata":{},"status":"Success"})", true);
        else
            s_.send_data(id, "", true);
    }
    s_.goaway(GoawayStatus::ok);
    finished_ = true;
}

int run(int fd, const SessionConfig& cfg) {
    std::string first = upgrade(fd);
    ServerSession session(cfg);
    Echo echo(session);
    session.ping(); // the client must answer ours too
    echo.handle(session.feed(first));
    bool peer_eof = false;
    for (;;) {
        while (!session.pending_output().empty()) {
            std::string_view out = session.pending_output();
            ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            if (n < 0) die_errno("send");
            session.consume_output(size_t(n));
            echo.forward();
        }
        if (echo.finished() && echo.all_sent()) break;
        if (peer_eof && session.pending_output().empty()) die("the client closed the connection before the echo ended");
        pollfd p{fd, short((peer_eof ? 0 : POLLIN) | (session.pending_output().empty() ? 0 : POLLOUT)), 0};
        int rc = ::poll(&p, 1, idle_timeout_ms);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) die_errno("poll");
        if (rc == 0) die("no progress within the idle timeout");
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[65536];
            ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n < 0) die_errno("recv");
            if (n == 0)
                peer_eof = true;
            else
                echo.handle(session.feed(std::string_view(buf, size_t(n))));
        }
    }
    // The client closes once it has seen everything; wait for that.
    ::shutdown(fd, SHUT_WR);
    while (!peer_eof && wait_for(fd, POLLIN)) {
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        echo.handle(session.feed(std::string_view(buf, size_t(n))));
    }
    echo.report();
    return echo.failed() ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
    SessionConfig cfg;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--enforce-flow-control")
            cfg.peer_flow_control = PeerFlowControl::enforce;
        else
            die("usage: spdy-echo-server [--enforce-flow-control]");
    }
    berth::UniqueFd lfd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!lfd) die_errno("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(lfd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) die_errno("bind 127.0.0.1:0");
    if (::listen(lfd.get(), 1) < 0) die_errno("listen");
    socklen_t len = sizeof addr;
    if (::getsockname(lfd.get(), reinterpret_cast<sockaddr*>(&addr), &len) < 0) die_errno("getsockname");
    std::printf("PORT %u\n", unsigned(ntohs(addr.sin_port)));
    std::fflush(stdout);
    if (!wait_for(lfd.get(), POLLIN)) die("no client within the idle timeout");
    berth::UniqueFd fd(::accept4(lfd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd) die_errno("accept");
    lfd.reset();
    try {
        return run(fd.get(), cfg);
    } catch (const std::exception& e) {
        die(e.what());
    }
}
