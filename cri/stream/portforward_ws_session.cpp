#include "portforward_ws_session.hpp"

#include "channel.hpp"
#include "error.hpp"
#include "log.hpp"
#include "websocket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace berth::stream {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kPodRead = 32 * 1024;   // one message per read, as kubelet's io.Copy buffer

// Go's %q of a plain string, enough for what a query holds.
std::string go_quote(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

// strconv.ParseUint(s, 10, 16), with its error text.
uint16_t parse_port(std::string_view s, const std::string& whole) {
    auto fail = [&](const char* why) {
        return Error(EINVAL, "unable to parse " + go_quote(whole) + " as a port: strconv.ParseUint: parsing " +
                                 go_quote(s) + ": " + why);
    };
    if (s.empty()) throw fail("invalid syntax");
    uint32_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') throw fail("invalid syntax");
        n = n * 10 + static_cast<uint32_t>(c - '0');
        if (n > 65535) throw fail("value out of range");
    }
    return static_cast<uint16_t>(n);
}

struct Forward {
    uint16_t port = 0;
    uint8_t data_ch = 0, error_ch = 0;
    UniqueFd pod;               // connected to the port in the pod
    std::string to_pod;         // from the client, not yet written
    bool pod_eof = false;       // the pod's side ended: lingering
    Clock::time_point linger_until;
    bool finished = false;
};

int ms_until(Clock::time_point t) {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
    return d < 0 ? 0 : static_cast<int>(std::min<int64_t>(d, 1000));
}

} // namespace

std::vector<uint16_t> portforward_ws_ports(const HttpRequest& req, const std::vector<int32_t>& requested) {
    std::vector<uint16_t> ports;
    std::vector<std::string> values = req.query_values("port");
    for (const std::string& v : values) {
        if (v.empty()) throw Error(EINVAL, "query parameter \"port\" cannot be empty");
        std::string_view rest = v;
        for (;;) {
            size_t comma = rest.find(',');
            uint16_t p = parse_port(rest.substr(0, comma), v);
            if (p < 1) throw Error(EINVAL, "port " + go_quote(v) + " must be > 0");
            ports.push_back(p);
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    // kubelet's API server path requires the query; its CRI streaming server
    // takes the ports the PortForward request named. Either serves here.
    if (values.empty())
        for (int32_t p : requested)
            if (p > 0 && p < 65536) ports.push_back(static_cast<uint16_t>(p));
    if (ports.empty()) throw Error(EINVAL, "query parameter \"port\" is required");
    if (ports.size() > kMaxWsForwardPorts)
        throw Error(EINVAL, "too many ports: " + std::to_string(ports.size()) + " (at most " +
                                std::to_string(kMaxWsForwardPorts) + " in one request)");
    return ports;
}

void run_portforward_ws_session(int sock, std::string_view initial, const std::string& protocol,
                                const std::vector<uint16_t>& ports, const std::vector<int32_t>& allowed,
                                const PortConnect& connect, const std::string& what, WsForwardLimits limits) {
    ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
    ChannelCodec codec(channel_protocol(protocol).value_or(ChannelProtocol{}));
    WebSocketServer ws;
    std::vector<Forward> fwd(ports.size());
    bool client_gone = false;   // closed, failed or went away: it reads and writes no more
    bool sock_dead = false;     // EOF or an error on the socket
    Clock::time_point flush_by{}, end_by{};

    auto send = [&](uint8_t ch, std::string_view data) {
        if (client_gone || ws.close_sent() || ws.failed()) return;
        std::string m = codec.encode(ch, data);
        if (codec.text()) ws.send_text(m);
        else ws.send_binary(m);
    };
    auto finish = [&](Forward& f, const std::string& error) {
        if (f.finished) return;
        if (!error.empty()) send(f.error_ch, "error forwarding port " + std::to_string(f.port) + " to pod " + what + ": " + error);
        f.pod.reset();
        f.to_pod.clear();
        f.finished = true;
    };
    auto write_out = [&] {
        while (!sock_dead && !ws.pending_output().empty()) {
            auto out = ws.pending_output();
            ssize_t w = ::send(sock, out.data(), out.size(), MSG_NOSIGNAL);
            if (w > 0) {
                ws.consume_output(static_cast<size_t>(w));
            } else if (w < 0 && errno == EINTR) {
                continue;
            } else {
                if (w < 0 && errno != EAGAIN) {
                    BERTHD_DEBUG("port-forward: write to the client: " + std::string(std::strerror(errno)));
                    sock_dead = true;
                }
                return;
            }
        }
    };
    auto gone = [&] {
        if (client_gone) return;
        client_gone = true;
        // What the client sent before it left still goes to the pods, for a while.
        flush_by = Clock::now() + limits.linger;
    };
    auto feed = [&](std::string_view bytes) {
        for (WsEvent& e : ws.feed(bytes)) {
            if (e.kind == WsEvent::Kind::close) {
                gone();
            } else if (e.kind == WsEvent::Kind::error) {
                BERTHD_DEBUG("port-forward: WebSocket: " + e.data);
                gone();
            } else if (e.kind == WsEvent::Kind::message && !ws.close_sent()) {
                // As wsstream: a message that does not decode, on a channel
                // past the ports' or on an error channel is dropped.
                std::optional<ChannelMessage> m;
                try {
                    m = codec.decode(e.data);
                } catch (const Error& err) {
                    BERTHD_DEBUG(std::string("port-forward: ") + err.what());
                }
                if (!m || m->kind != ChannelMessage::Kind::data || m->channel % 2 != 0) continue;
                size_t i = m->channel / 2;
                if (i < fwd.size() && !fwd[i].finished) fwd[i].to_pod += m->data;
            }
        }
    };

    // kubelet writes every port's prefixes before it connects anything.
    for (size_t i = 0; i < ports.size(); ++i) {
        fwd[i].port = ports[i];
        fwd[i].data_ch = channel::portforward_data(i);
        fwd[i].error_ch = channel::portforward_error(i);
        send(fwd[i].data_ch, portforward_port_prefix(ports[i]));
        send(fwd[i].error_ch, portforward_port_prefix(ports[i]));
    }
    write_out();
    for (Forward& f : fwd) {
        if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), f.port) == allowed.end()) {
            send(f.error_ch, "port " + std::to_string(f.port) + " was not asked for in the PortForward request");
            f.finished = true;
            continue;
        }
        try {
            f.pod = connect(f.port);
            ::fcntl(f.pod.get(), F_SETFL, ::fcntl(f.pod.get(), F_GETFL) | O_NONBLOCK);
        } catch (const Error& e) {
            finish(f, e.what());
        }
    }
    feed(initial);

    for (;;) {
        if (sock_dead) gone();
        auto now = Clock::now();
        bool behind = false, all_done = true;
        for (Forward& f : fwd) {
            if (f.finished) continue;
            if (f.pod_eof && now >= f.linger_until) finish(f, "");
            else if (client_gone && (f.to_pod.empty() || now >= flush_by || ws.failed())) finish(f, "");
            if (!f.finished) all_done = false;
            if (f.to_pod.size() > limits.to_pod_high_water) behind = true;
        }
        if (all_done) {
            if (end_by == Clock::time_point{}) {
                end_by = now + limits.close_wait;
                if (!ws.close_sent() && !ws.failed() && !client_gone) ws.close(ws_close::normal);
            }
            write_out();
            // Our close is out; the client's answer ends it (RFC 6455
            // §7.1.1), so its unread bytes do not turn our close into a
            // reset. One that does not answer is not waited for long.
            if (sock_dead || ws.finished() || now >= end_by) return;
        }

        std::vector<pollfd> fds;
        std::vector<Forward*> owner;
        short ev = 0;
        if (!sock_dead && !ws.failed() && !behind && !ws.close_received()) ev |= POLLIN;
        if (!sock_dead && !ws.pending_output().empty()) ev |= POLLOUT;
        fds.push_back({sock, ev, 0});
        owner.push_back(nullptr);
        bool room = ws.pending_output().size() < limits.output_high_water;
        for (Forward& f : fwd) {
            if (f.finished) continue;
            short pev = 0;
            if (!f.pod_eof && !client_gone && room) pev |= POLLIN;
            if (!f.to_pod.empty()) pev |= POLLOUT;
            // An idle pod socket stays out: a hung-up one would wake poll at once.
            if (!pev) continue;
            fds.push_back({f.pod.get(), pev, 0});
            owner.push_back(&f);
        }
        Clock::time_point wake = now + std::chrono::seconds(1);
        for (Forward& f : fwd)
            if (!f.finished && f.pod_eof) wake = std::min(wake, f.linger_until);
        if (client_gone) wake = std::min(wake, flush_by);
        if (all_done) wake = std::min(wake, end_by);
        int n = ::poll(fds.data(), fds.size(), ms_until(wake));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("port-forward: poll");
        }
        for (size_t k = 0; k < fds.size(); ++k) {
            short re = fds[k].revents;
            if (!re) continue;
            Forward* f = owner[k];
            if (!f) {
                if (re & (POLLIN | POLLHUP | POLLERR)) {
                    char buf[64 * 1024];
                    ssize_t r = ::read(sock, buf, sizeof buf);
                    if (r > 0) feed(std::string_view(buf, static_cast<size_t>(r)));
                    else if (r == 0 || (errno != EAGAIN && errno != EINTR)) sock_dead = true;
                }
                if (re & POLLOUT) write_out();
                continue;
            }
            if (f->finished) continue;
            // A hang-up or error shows in the send or read it wakes.
            if ((re & (POLLOUT | POLLHUP | POLLERR)) && !f->to_pod.empty()) {
                ssize_t w = ::send(f->pod.get(), f->to_pod.data(), f->to_pod.size(), MSG_NOSIGNAL);
                if (w > 0) {
                    f->to_pod.erase(0, static_cast<size_t>(w));
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    finish(*f, std::string("write: ") + std::strerror(errno));
                    continue;
                }
            }
            if ((fds[k].events & POLLIN) && (re & (POLLIN | POLLHUP | POLLERR))) {
                char buf[kPodRead];
                ssize_t r = ::read(f->pod.get(), buf, sizeof buf);
                if (r > 0) {
                    send(f->data_ch, std::string_view(buf, static_cast<size_t>(r)));
                } else if (r == 0) {
                    f->pod_eof = true;
                    f->linger_until = Clock::now() + limits.linger;
                } else if (errno != EAGAIN && errno != EINTR) {
                    finish(*f, std::string("read: ") + std::strerror(errno));
                }
            }
        }
        write_out();
    }
}

} // namespace berth::stream
