// ws-echo-server: a one-connection stand-in for berthd's exec endpoint, for
// the interop test (interop.cjs drives it with npm's `ws` client).
//
// It listens on 127.0.0.1 on an ephemeral port, prints the port on stdout,
// serves one connection and exits. The request head goes through
// HttpRequestParser, the upgrade through upgrade_websocket (v5, v4 binary and
// v4 base64, or none: the legacy binary protocol); then, like kubelet, it
// sends an empty stdout message and a ping, and acts as a command that
// echoes stdin to stdout:
//   - the query's bytes=N ends the command after N stdin bytes (0: never;
//     v5's CLOSE of stdin also ends it), and exit=C is its exit code;
//   - resize messages (channel 4) are answered on stderr as "WxH\n";
//   - at the end the status goes on the error channel (v4/v5 JSON, legacy
//     text), once the client has answered the ping, and the server closes
//     (1000) and waits for the client's close.
// Exit status: 0 after a clean closing handshake (either side's), 2 if the
// client broke the WebSocket or channel protocol, 3 for a refused request,
// 4 if the client went away without closing, 1 for anything else.
#include "channel.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "http_request.hpp"
#include "upgrade.hpp"
#include "websocket.hpp"
#include "protocols.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <optional>
#include <string>

using namespace berth;
using namespace berth::stream;

namespace {

// A hang guard: no step waits longer than this for the peer.
constexpr int kPollTimeoutMs = 60 * 1000;

void log(const std::string& msg) { std::fprintf(stderr, "ws-echo-server: %s\n", msg.c_str()); }

void wait_for(int fd, short events) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, kPollTimeoutMs);
    if (r < 0) throw_errno("poll");
    if (r == 0) throw Error(ETIMEDOUT, "peer idle for " + std::to_string(kPollTimeoutMs / 1000) + "s");
}

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("send");
        data.remove_prefix(static_cast<size_t>(n));
    }
}

// The value of name=VALUE in a query, as an unsigned number.
unsigned long query_number(std::string_view query, std::string_view name, unsigned long fallback) {
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view kv = query.substr(0, amp);
        if (kv.size() > name.size() && kv.substr(0, name.size()) == name && kv[name.size()] == '=') {
            std::string_view v = kv.substr(name.size() + 1);
            unsigned long n = 0;
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc() || p != v.data() + v.size()) throw Error(EINVAL, "query " + std::string(name) + ": not a number");
            return n;
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return fallback;
}

class Session {
public:
    Session(int fd, const HttpRequest& req, const std::string& protocol)
        : fd_(fd), codec_(*channel_protocol(protocol)),
          stdin_target_(query_number(req.query(), "bytes", 0)),
          exit_code_(static_cast<int>(query_number(req.query(), "exit", 0))) {}

    int run(std::string_view early_bytes) {
        // kubelet's first message: an empty write on stdout says the streams are up.
        send(channel::stdout_, "");
        ws_.send_ping("srv-ping");
        if (!handle(ws_.feed(early_bytes))) {
            flush();
            return result_;
        }
        std::array<char, 65536> buf;
        while (true) {
            flush();
            if (ws_.finished()) return result_;
            wait_for(fd_, POLLIN);
            ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("recv");
            if (n == 0) {
                log("client went away without a closing handshake");
                return 4;
            }
            if (!handle(ws_.feed(std::string_view(buf.data(), static_cast<size_t>(n))))) {
                flush();
                return result_;
            }
        }
    }

private:
    void send(uint8_t ch, std::string_view data) {
        std::string m = codec_.encode(ch, data);
        if (codec_.text())
            ws_.send_text(m);
        else
            ws_.send_binary(m);
    }

    void flush() {
        while (!ws_.pending_output().empty()) {
            write_all(fd_, ws_.pending_output());
            ws_.consume_output(ws_.pending_output().size());
        }
    }

    // The command ends: its status, then the server's close. Waits for the
    // client's pong first, so a Success also says the ping went round.
    void maybe_finish() {
        if (!stdin_done_ || !got_pong_ || ws_.close_sent()) return;
        if (codec_.protocol().version >= 4) {
            send(channel::error, exit_status_json(exit_code_));
        } else {
            std::string text = legacy_exit_status_text(exit_code_);
            if (!text.empty()) send(channel::error, text);
        }
        ws_.close(ws_close::normal, "command done");
    }

    // false: stop reading (the connection failed).
    bool handle(std::vector<WsEvent> events) {
        for (WsEvent& e : events) {
            switch (e.kind) {
            case WsEvent::Kind::message:
                try {
                    message(e.data);
                } catch (const Error& err) {
                    log(std::string("channel protocol: ") + err.what());
                    if (!ws_.close_sent()) ws_.close(ws_close::protocol_error, "channel protocol error");
                    result_ = 2;
                }
                break;
            case WsEvent::Kind::ping:
                break;   // the codec queued the pong
            case WsEvent::Kind::pong:
                got_pong_ |= e.data == "srv-ping";
                maybe_finish();
                break;
            case WsEvent::Kind::close:
                log("client closed with " + std::to_string(e.code) + " " + e.data);
                break;
            case WsEvent::Kind::error:
                log("websocket: " + e.data);
                result_ = 2;
                return false;
            }
        }
        return true;
    }

    void message(std::string_view payload) {
        if (ws_.close_sent()) return;   // the command is over
        auto m = codec_.decode(payload);
        if (!m) return;
        if (m->kind == ChannelMessage::Kind::close) {
            if (m->channel == channel::stdin_) {
                stdin_done_ = true;
                maybe_finish();
            }
            return;
        }
        if (m->channel == channel::stdin_) {
            send(channel::stdout_, m->data);
            stdin_bytes_ += m->data.size();
            if (stdin_target_ && stdin_bytes_ >= stdin_target_) {
                stdin_done_ = true;
                maybe_finish();
            }
        } else if (m->channel == channel::resize) {
            for (TerminalSize s : resize_.feed(m->data))
                send(channel::stderr_, std::to_string(s.width) + "x" + std::to_string(s.height) + "\n");
        } else {
            throw Error(EPROTO, "message on channel " + std::to_string(m->channel) + ", which the client may not write");
        }
    }

    int fd_;
    WebSocketServer ws_;
    ChannelCodec codec_;
    ResizeDecoder resize_;
    unsigned long stdin_target_;
    unsigned long stdin_bytes_ = 0;
    int exit_code_;
    bool stdin_done_ = false;
    bool got_pong_ = false;
    int result_ = 0;
};

int serve(int conn) {
    HttpRequestParser parser;
    std::array<char, 4096> buf;
    std::string_view rest;
    while (!parser.done()) {
        wait_for(conn, POLLIN);
        ssize_t n = ::recv(conn, buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("recv");
        if (n == 0) throw Error("client closed before the end of the request head");
        std::string_view got(buf.data(), static_cast<size_t>(n));
        try {
            rest = got.substr(parser.feed(got));
        } catch (const Error& e) {
            log(e.what());
            write_all(conn, text_response(http_status_for(e), e.what()).serialize());
            return 3;
        }
    }
    static constexpr std::array<std::string_view, 3> supported = {protocol::channel_v5, protocol::channel_v4,
                                                                  protocol::base64_channel_v4};
    Upgrade u = upgrade_websocket(parser.request(), supported);
    write_all(conn, u.response.serialize());
    if (!u.accepted) {
        log("refused: " + u.response.body);
        return 3;
    }
    log("upgraded to \"" + u.protocol + "\"");
    // Bytes after the head in the same read already belong to the WebSocket.
    std::string early(rest);
    Session s(conn, parser.request(), u.protocol);
    return s.run(early);
}

} // namespace

int main() {
    try {
        UniqueFd lfd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!lfd) throw_errno("socket");
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(lfd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) throw_errno("bind 127.0.0.1:0");
        if (::listen(lfd.get(), 1) < 0) throw_errno("listen");
        socklen_t len = sizeof addr;
        if (::getsockname(lfd.get(), reinterpret_cast<sockaddr*>(&addr), &len) < 0) throw_errno("getsockname");
        std::printf("%u\n", ntohs(addr.sin_port));
        std::fflush(stdout);
        wait_for(lfd.get(), POLLIN);
        UniqueFd conn(::accept4(lfd.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn) throw_errno("accept");
        lfd.reset();
        int rc = serve(conn.get());
        // The server closes the TCP connection first (RFC 6455 §7.1.1).
        // Read what the client still sends until it closes too, so unread
        // bytes do not turn the close into a reset that could eat the
        // reply (a lingering close, as Go's net/http does after an error).
        ::shutdown(conn.get(), SHUT_WR);
        std::array<char, 4096> sink;
        for (size_t drained = 0; drained < (1u << 20);) {
            pollfd p{conn.get(), POLLIN, 0};
            if (::poll(&p, 1, kPollTimeoutMs) <= 0) break;
            ssize_t n = ::recv(conn.get(), sink.data(), sink.size(), 0);
            if (n <= 0) break;
            drained += static_cast<size_t>(n);
        }
        return rc;
    } catch (const std::exception& e) {
        log(e.what());
        return 1;
    }
}
