#include "remote_command.hpp"

#include "channel.hpp"
#include "error.hpp"
#include "protocols.hpp"
#include "websocket.hpp"
#include "ws_dial.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <optional>

namespace berth::ctl {

namespace {

namespace protocol = stream::protocol;

constexpr size_t kOutputHighWater = 256 * 1024;   // stop reading stdin while this much waits for the socket
constexpr size_t kStdinChunk = 32 * 1024;         // one message each, as client-go writes

// Our terminal in raw mode for the command's, restored however we leave.
class RawTerminal {
public:
    explicit RawTerminal(int fd) : fd_(fd) {
        if (::tcgetattr(fd, &saved_) < 0) return;
        termios raw = saved_;
        ::cfmakeraw(&raw);
        if (::tcsetattr(fd, TCSANOW, &raw) == 0) active_ = true;
    }
    ~RawTerminal() {
        if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    int fd_;
    termios saved_{};
    bool active_ = false;
};

// SIGWINCH turned into a byte on a pipe the loop polls (a handler may do
// no more than write(2)); the old action comes back at the end.
int g_winch_fd = -1;
void on_winch(int) {
    int saved = errno;
    char c = 0;
    [[maybe_unused]] ssize_t n = ::write(g_winch_fd, &c, 1);
    errno = saved;
}
class WinchPipe {
public:
    WinchPipe() {
        int p[2];
        if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) throw_errno("pipe for SIGWINCH");
        r_.reset(p[0]);
        w_.reset(p[1]);
        g_winch_fd = w_.get();
        struct sigaction sa{};
        sa.sa_handler = on_winch;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGWINCH, &sa, &old_);
    }
    ~WinchPipe() {
        ::sigaction(SIGWINCH, &old_, nullptr);
        g_winch_fd = -1;
    }
    int fd() const { return r_.get(); }
    void drain() {
        char buf[64];
        while (::read(r_.get(), buf, sizeof buf) > 0) {
        }
    }

private:
    UniqueFd r_, w_;
    struct sigaction old_{};
};

std::optional<std::string> terminal_size_json() {
    for (int fd : {STDIN_FILENO, STDOUT_FILENO}) {
        winsize ws{};
        if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row)
            return "{\"Width\":" + std::to_string(ws.ws_col) + ",\"Height\":" + std::to_string(ws.ws_row) + "}";
    }
    return std::nullopt;
}

void write_all(int fd, std::string_view s, const char* what) {
    while (!s.empty()) {
        ssize_t w = ::write(fd, s.data(), s.size());
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                pollfd p{fd, POLLOUT, 0};
                ::poll(&p, 1, -1);
                continue;
            }
            throw_errno(std::string("writing the command's ") + what);
        }
        s.remove_prefix(static_cast<size_t>(w));
    }
}

} // namespace

int run_remote_command(const std::string& url, const RemoteCommandOptions& o) {
    static constexpr std::array<std::string_view, 2> offered = {protocol::channel_v5, protocol::channel_v4};
    WsConnection conn = ws_dial(url, "", offered, o.dial_timeout);
    auto proto = stream::channel_protocol(conn.protocol);
    if (!proto) throw Error(EPROTO, "streaming URL " + url + ": the server chose \"" + conn.protocol + "\"");
    stream::ChannelCodec codec(*proto);
    stream::WebSocketClient ws;
    int sock = conn.fd.get();

    bool stdin_is_tty = ::isatty(STDIN_FILENO);
    std::optional<RawTerminal> raw;
    std::optional<WinchPipe> winch;
    auto send = [&](uint8_t ch, std::string_view data) {
        if (ws.close_sent()) return;
        ws.send_binary(codec.encode(ch, data));
    };
    if (o.tty) {
        if (o.stdin && stdin_is_tty) raw.emplace(STDIN_FILENO);
        winch.emplace();
        // The first size before anything else: the server starts the
        // command's terminal at it.
        if (auto sz = terminal_size_json()) send(stream::channel::resize, *sz);
    }

    bool stdin_open = o.stdin;
    bool server_gone = false;
    std::string error_stream;
    auto handle = [&](std::string_view bytes) {
        for (auto& ev : ws.feed(bytes)) {
            if (ev.kind == stream::WsEvent::Kind::close) {
                server_gone = true;
            } else if (ev.kind == stream::WsEvent::Kind::error) {
                throw Error(EPROTO, "streaming URL " + url + ": " + ev.data);
            } else if (ev.kind == stream::WsEvent::Kind::message) {
                auto m = codec.decode(ev.data);
                if (!m || m->kind != stream::ChannelMessage::Kind::data || m->data.empty()) continue;
                if (m->channel == stream::channel::stdout_) write_all(STDOUT_FILENO, m->data, "stdout");
                else if (m->channel == stream::channel::stderr_) write_all(STDERR_FILENO, m->data, "stderr");
                else if (m->channel == stream::channel::error && error_stream.size() < 64 * 1024) error_stream += m->data;
            }
        }
    };
    handle(conn.rest);

    while (!server_gone) {
        pollfd fds[3];
        nfds_t n = 0;
        short sev = POLLIN;
        if (!ws.pending_output().empty()) sev |= POLLOUT;
        fds[n++] = {sock, sev, 0};
        int stdin_slot = -1, winch_slot = -1;
        if (stdin_open && ws.pending_output().size() < kOutputHighWater) {
            stdin_slot = static_cast<int>(n);
            fds[n++] = {STDIN_FILENO, POLLIN, 0};
        }
        if (winch) {
            winch_slot = static_cast<int>(n);
            fds[n++] = {winch->fd(), POLLIN, 0};
        }
        if (::poll(fds, n, -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("streaming: poll");
        }
        if (fds[0].revents & POLLOUT) {
            auto out = ws.pending_output();
            ssize_t w = ::send(sock, out.data(), out.size(), MSG_NOSIGNAL);
            if (w > 0) ws.consume_output(static_cast<size_t>(w));
            else if (w < 0 && errno != EAGAIN && errno != EINTR) throw_errno("streaming URL " + url + ": send");
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[64 * 1024];
            ssize_t r = ::read(sock, buf, sizeof buf);
            if (r > 0) handle(std::string_view(buf, static_cast<size_t>(r)));
            else if (r == 0 || (errno != EAGAIN && errno != EINTR)) break;   // gone without a close
        }
        if (stdin_slot >= 0 && (fds[stdin_slot].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[kStdinChunk];
            ssize_t r = ::read(STDIN_FILENO, buf, sizeof buf);
            if (r > 0) {
                send(stream::channel::stdin_, std::string_view(buf, static_cast<size_t>(r)));
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                stdin_open = false;
                // Before v5 a WebSocket client cannot end the command's
                // stdin; it ends with the connection.
                if (proto->close_signal) {
                    if (!ws.close_sent()) ws.send_binary(codec.encode_close(stream::channel::stdin_));
                } else if (!o.tty) {
                    std::fprintf(stderr, "berthctl: the server speaks %s, which cannot pass on the end of stdin (v5 can): "
                                         "the command's stdin stays open until it exits or you interrupt berthctl\n",
                                 conn.protocol.empty() ? "channel.k8s.io" : conn.protocol.c_str());
                }
            }
        }
        if (winch_slot >= 0 && (fds[winch_slot].revents & POLLIN)) {
            winch->drain();
            if (auto sz = terminal_size_json()) send(stream::channel::resize, *sz);
        }
    }
    if (!server_gone && error_stream.empty())
        throw Error(ECONNRESET, "streaming URL " + url + ": the connection ended before the command's exit status came");
    // Our answer to the server's close, best effort: it may already be gone.
    if (!ws.pending_output().empty()) {
        auto out = ws.pending_output();
        [[maybe_unused]] ssize_t w = ::send(sock, out.data(), out.size(), MSG_NOSIGNAL);
    }
    raw.reset();
    auto exit = stream::decode_exit_status(proto->version, error_stream);
    if (!exit.error.empty()) throw Error(EIO, exit.error);
    return exit.exit_code;
}

} // namespace berth::ctl
