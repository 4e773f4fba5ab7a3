#include "command_session.hpp"

#include "error.hpp"
#include "log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <map>
#include <optional>

namespace berth::stream {

namespace log = berth::cri::log;
using berth::cri::LogLevel;

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxStdinBuffered = 1 << 20;   // the client waits while the process does not read

int ms_until(Clock::time_point t) {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
    return d < 0 ? 0 : static_cast<int>(std::min<int64_t>(d, 60000));
}

} // namespace

std::string end_status(int version, int exit_code, const std::string& error) {
    if (version >= 4) return error.empty() ? exit_status_json(exit_code & 0xff) : internal_error_status_json(error);
    if (!error.empty()) return legacy_internal_error_text(error);
    return exit_code != 0 ? legacy_exit_status_text(exit_code) : std::string();
}

void run_command_session(int sock, std::string_view initial, CommandTransport& t, CommandProcess& p, bool tty,
                         SessionLimits limits) {
    ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
    std::vector<CommandInput> in;
    std::string stdin_buf;
    bool stdin_eof = false, stdin_done = false;
    bool started = false, exited = false, finished = false, client_gone = false, abandoned = false;
    int code = 0;
    std::optional<TerminalSize> size;
    std::map<int, uint8_t> outputs;
    auto ready_by = Clock::now() + limits.stream_wait;
    Clock::time_point drain_by{}, linger_by{}, ready_at{};

    auto finish = [&](int c, const std::string& error) {
        if (finished) return;
        t.finish(c, error);
        finished = true;
        linger_by = Clock::now() + limits.linger;
    };
    auto take_input = [&] {
        for (auto& i : in) {
            switch (i.kind) {
            case CommandInput::Kind::stdin_data:
                if (!stdin_done) stdin_buf += i.data;
                else t.consumed_stdin(i.data.size());
                break;
            case CommandInput::Kind::stdin_closed: stdin_eof = true; break;
            case CommandInput::Kind::resize:
                size = i.size;
                if (started && !exited) {
                    try {
                        p.resize(i.size);
                    } catch (const Error& e) {
                        log::write(LogLevel::debug, std::string("stream: resize: ") + e.what());
                    }
                }
                break;
            case CommandInput::Kind::gone:
                client_gone = true;
                log::write(LogLevel::debug, "stream: " + i.detail);
                break;
            }
        }
        in.clear();
    };

    t.feed(initial, in);
    take_input();
    for (;;) {
        if (!started && !finished && !client_gone && t.ready() && ready_at == Clock::time_point{}) ready_at = Clock::now();
        // A terminal starts at the size the client sends first (it does so
        // right after opening its streams), so the command never sees 0x0.
        bool wait_size = tty && !size && Clock::now() < ready_at + limits.first_size;
        if (!started && !finished && !client_gone && t.ready() && !wait_size) {
            try {
                p.start(size);
                started = true;
                for (auto& [fd, ch] : p.outputs()) outputs[fd] = ch;
            } catch (const Error& e) {
                finish(0, e.what());
            }
        }
        if (client_gone && !finished) {
            if (started && !exited && !abandoned) {
                p.abandon();
                abandoned = true;
            }
            if (!started) finish(0, "the client went away");
        }
        if (!started && !finished && Clock::now() >= ready_by) finish(0, "timed out waiting for the client's streams");
        if (started && !stdin_done && p.stdin_fd() < 0) stdin_done = true;
        if (started && !stdin_done && stdin_eof && stdin_buf.empty()) {
            p.close_stdin();
            stdin_done = true;
        }
        // After the exit, output is drained to its end; the deadline only
        // ends a wait with no progress (a child of the process holding its
        // stdout), and not while the client is what holds it back.
        bool held_back = false;
        for (auto& [fd, ch] : outputs)
            if (ch ? t.writable(ch) == 0 : t.writable(channel::stdout_) == 0 || t.writable(channel::stderr_) == 0)
                held_back = true;
        if (held_back && exited) drain_by = Clock::now() + limits.drain;
        // A process with no exit of its own (attach) ends with its output.
        if (started && !exited && p.exit_fd() < 0 && outputs.empty()) {
            exited = true;
            code = p.exit_code();
            drain_by = Clock::now();
        }
        if (started && exited && !finished && (outputs.empty() || Clock::now() >= drain_by)) finish(code, "");
        if (finished && (t.done() || client_gone || Clock::now() >= linger_by) && (!started || exited)) break;

        std::vector<pollfd> fds;
        std::vector<int> kinds;   // 0 socket, 1 output, 2 stdin, 3 exit
        short sock_ev = 0;
        if (!client_gone && stdin_buf.size() < kMaxStdinBuffered) sock_ev |= POLLIN;
        if (!t.pending_output().empty() && !client_gone) sock_ev |= POLLOUT;
        fds.push_back({sock, sock_ev, 0});
        kinds.push_back(0);
        if (started && !finished) {
            for (auto& [fd, ch] : outputs) {
                bool room = ch ? t.writable(ch) > 0 : t.writable(channel::stdout_) > 0 && t.writable(channel::stderr_) > 0;
                if (room || client_gone) {
                    fds.push_back({fd, POLLIN, 0});
                    kinds.push_back(1);
                }
            }
        }
        if (started && !stdin_done && !stdin_buf.empty()) {
            fds.push_back({p.stdin_fd(), POLLOUT, 0});
            kinds.push_back(2);
        }
        if (started && !exited && p.exit_fd() >= 0) {
            fds.push_back({p.exit_fd(), POLLIN, 0});
            kinds.push_back(3);
        }
        int timeout = -1;
        if (!started && !finished) timeout = ready_at != Clock::time_point{} ? ms_until(ready_at + limits.first_size) : ms_until(ready_by);
        if (exited && !finished) timeout = std::min(ms_until(drain_by), 1000);
        if (finished) timeout = ms_until(linger_by);
        int n = ::poll(fds.data(), fds.size(), timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("stream: poll");
        }
        for (size_t k = 0; k < fds.size(); ++k) {
            short re = fds[k].revents;
            if (!re) continue;
            int fd = fds[k].fd;
            switch (kinds[k]) {
            case 0:
                if (re & POLLIN) {
                    char buf[64 * 1024];
                    ssize_t r = ::read(fd, buf, sizeof buf);
                    if (r > 0) {
                        t.feed(std::string_view(buf, static_cast<size_t>(r)), in);
                        take_input();
                    } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                        client_gone = true;
                        if (!stdin_eof) stdin_eof = true;
                    }
                } else if (re & (POLLHUP | POLLERR)) {
                    client_gone = true;
                    stdin_eof = true;
                }
                if ((re & POLLOUT) && !t.pending_output().empty()) {
                    auto out = t.pending_output();
                    ssize_t w = ::write(fd, out.data(), out.size());
                    if (w > 0) t.consume_output(static_cast<size_t>(w));
                    else if (w < 0 && errno != EAGAIN && errno != EINTR) client_gone = true;
                }
                break;
            case 1: {
                uint8_t ch = outputs[fd];
                size_t room = client_gone ? 64 * 1024
                              : ch     ? t.writable(ch)
                                       : std::min(t.writable(channel::stdout_), t.writable(channel::stderr_));
                std::string data;
                if (!p.read_output(fd, std::max<size_t>(room, 1), ch, data)) {
                    outputs.erase(fd);
                } else if (!data.empty()) {
                    if (!client_gone) t.send(ch, data);
                    if (exited) drain_by = Clock::now() + limits.drain;
                }
                break;
            }
            case 2: {
                ssize_t w = ::write(fd, stdin_buf.data(), stdin_buf.size());
                if (w > 0) {
                    t.consumed_stdin(static_cast<size_t>(w));
                    stdin_buf.erase(0, static_cast<size_t>(w));
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    // The process closed its stdin: what is left goes nowhere.
                    t.consumed_stdin(stdin_buf.size());
                    stdin_buf.clear();
                    stdin_done = true;
                }
                break;
            }
            case 3:
                exited = true;
                code = p.exit_code();
                drain_by = Clock::now() + limits.drain;
                break;
            }
        }
        // Output the transport made while reading (SYN_REPLY, pongs) goes
        // out without waiting for the next round.
        if (!client_gone && !t.pending_output().empty()) {
            auto out = t.pending_output();
            ssize_t w = ::write(sock, out.data(), out.size());
            if (w > 0) t.consume_output(static_cast<size_t>(w));
        }
    }
}

} // namespace berth::stream
