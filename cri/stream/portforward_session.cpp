#include "portforward_session.hpp"

#include "error.hpp"
#include "spdy_session.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>

namespace berth::stream {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxToPod = 256 * 1024;   // client data waiting for the pod's socket
constexpr auto kPairWait = std::chrono::seconds(30);   // kubelet's stream creation timeout

struct Forward {
    uint32_t data = 0, error = 0;
    uint16_t port = 0;
    bool port_ok = false;
    Clock::time_point first_seen;
    UniqueFd pod;               // connected to the port in the pod
    std::string to_pod;         // from the client, not yet written
    bool client_done = false;   // FIN on the data stream
    bool pod_done = false;      // the pod's side closed its end
    bool shut_wr = false;
    bool finished = false;
};

} // namespace

void run_portforward_session(int sock, std::string_view initial, const std::vector<int32_t>& allowed,
                             const PortConnect& connect, const std::string& what) {
    ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
    spdy::SessionConfig cfg;
    cfg.max_streams = 1000;   // two per forwarded connection
    spdy::ServerSession s(cfg);
    std::map<std::string, std::unique_ptr<Forward>> fwd;   // by requestID
    std::map<uint32_t, Forward*> by_stream;
    bool gone = false;

    auto fail_pair = [&](Forward& f, const std::string& msg) {
        if (f.error && s.may_send(f.error)) {
            size_t n = std::min(s.writable(f.error), msg.size());
            s.send_data(f.error, msg.substr(0, n), true);
        }
        if (f.data && s.may_send(f.data)) s.send_data(f.data, "", true);
        f.pod.reset();
        f.finished = true;
    };
    auto start_pair = [&](Forward& f) {
        if (!f.port_ok) return fail_pair(f, "invalid port header");
        if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), f.port) == allowed.end())
            return fail_pair(f, "port " + std::to_string(f.port) + " was not asked for in the PortForward request");
        try {
            f.pod = connect(f.port);
            ::fcntl(f.pod.get(), F_SETFL, ::fcntl(f.pod.get(), F_GETFL) | O_NONBLOCK);
        } catch (const Error& e) {
            fail_pair(f, "error forwarding port " + std::to_string(f.port) + " to pod " + what + ": " + e.what());
        }
    };
    auto feed = [&](std::string_view bytes) {
        for (auto& ev : s.feed(bytes)) {
            if (auto* o = std::get_if<spdy::StreamOpened>(&ev)) {
                const std::string* type = spdy::find_header(o->headers, "streamtype");
                const std::string* port = spdy::find_header(o->headers, "port");
                const std::string* rid = spdy::find_header(o->headers, "requestid");
                s.reply(o->stream_id, {{":status", "200"}, {":version", "HTTP/1.1"}});
                bool data = type && *type == "data", error = type && *type == "error";
                if (!data && !error) {
                    s.reset(o->stream_id, spdy::RstStatus::refused_stream);
                    continue;
                }
                // Clients before requestID: the data stream follows its
                // error stream (kubelet's fallback).
                std::string id = rid ? *rid : std::to_string(data ? o->stream_id - 2 : o->stream_id);
                auto& f = fwd[id];
                if (!f) {
                    f = std::make_unique<Forward>();
                    f->first_seen = Clock::now();
                }
                (data ? f->data : f->error) = o->stream_id;
                by_stream[o->stream_id] = f.get();
                if (port) {
                    char* end = nullptr;
                    long p = std::strtol(port->c_str(), &end, 10);
                    f->port_ok = !port->empty() && *end == '\0' && p > 0 && p < 65536;
                    f->port = static_cast<uint16_t>(f->port_ok ? p : 0);
                }
                if (f->data && f->error) start_pair(*f);
            } else if (auto* d = std::get_if<spdy::StreamData>(&ev)) {
                auto it = by_stream.find(d->stream_id);
                if (it == by_stream.end() || it->second->data != d->stream_id || !it->second->pod) {
                    s.consumed(d->stream_id, d->data.size());
                    continue;
                }
                it->second->to_pod += d->data;   // consumed() once written to the pod
            } else if (auto* h = std::get_if<spdy::StreamHalfClosed>(&ev)) {
                auto it = by_stream.find(h->stream_id);
                if (it != by_stream.end() && it->second->data == h->stream_id) it->second->client_done = true;
            } else if (auto* r = std::get_if<spdy::StreamReset>(&ev)) {
                auto it = by_stream.find(r->stream_id);
                if (it != by_stream.end()) {
                    it->second->pod.reset();
                    it->second->finished = true;
                }
            } else if (std::holds_alternative<spdy::GoawayReceived>(ev) || std::holds_alternative<spdy::SessionError>(ev)) {
                gone = true;
            }
        }
    };

    feed(initial);
    for (;;) {
        // Pairs that finished, and pairs whose other half never came.
        auto now = Clock::now();
        for (auto it = fwd.begin(); it != fwd.end();) {
            Forward& f = *it->second;
            if (!f.finished && (!f.data || !f.error) && now - f.first_seen > kPairWait)
                fail_pair(f, "timed out waiting for the " + std::string(f.data ? "error" : "data") + " stream");
            if (f.pod && f.client_done && f.to_pod.empty() && !f.shut_wr) {
                ::shutdown(f.pod.get(), SHUT_WR);
                f.shut_wr = true;
            }
            if (f.pod && f.pod_done && f.shut_wr) {
                if (s.may_send(f.error)) s.send_data(f.error, "", true);
                f.pod.reset();
                f.finished = true;
            }
            if (f.finished && s.queued(f.data) == 0) {
                by_stream.erase(f.data);
                by_stream.erase(f.error);
                it = fwd.erase(it);
            } else {
                ++it;
            }
        }
        if (gone && s.pending_output().empty()) return;

        std::vector<pollfd> fds;
        std::vector<Forward*> owner;
        // Clients that ignore flow control (spdystream) are held back by
        // not reading from them while a pod is behind.
        bool behind = false;
        for (auto& [id, f] : fwd)
            if (f->to_pod.size() > 64 * 1024) behind = true;
        short ev = gone || behind ? 0 : POLLIN;
        if (!s.pending_output().empty()) ev |= POLLOUT;
        fds.push_back({sock, ev, 0});
        owner.push_back(nullptr);
        for (auto& [id, f] : fwd) {
            if (!f->pod) continue;
            short pev = 0;
            if (!f->pod_done && s.writable(f->data) > 0) pev |= POLLIN;
            if (!f->to_pod.empty()) pev |= POLLOUT;
            if (!pev) continue;
            fds.push_back({f->pod.get(), pev, 0});
            owner.push_back(f.get());
        }
        int n = ::poll(fds.data(), fds.size(), 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("port-forward: poll");
        }
        for (size_t k = 0; k < fds.size(); ++k) {
            short re = fds[k].revents;
            if (!re) continue;
            if (!owner[k]) {
                if (re & (POLLIN | POLLHUP | POLLERR)) {
                    char buf[64 * 1024];
                    ssize_t r = ::read(sock, buf, sizeof buf);
                    if (r > 0) feed(std::string_view(buf, static_cast<size_t>(r)));
                    else if (r == 0 || (errno != EAGAIN && errno != EINTR)) gone = true;
                }
                if ((re & POLLOUT) && !s.pending_output().empty()) {
                    auto out = s.pending_output();
                    ssize_t w = ::send(sock, out.data(), out.size(), MSG_NOSIGNAL);
                    if (w > 0) s.consume_output(static_cast<size_t>(w));
                    else if (w < 0 && errno != EAGAIN && errno != EINTR) return;
                }
                continue;
            }
            Forward& f = *owner[k];
            if (!f.pod) continue;
            if (re & POLLOUT) {
                ssize_t w = ::send(f.pod.get(), f.to_pod.data(), f.to_pod.size(), MSG_NOSIGNAL);
                if (w > 0) {
                    s.consumed(f.data, static_cast<size_t>(w));
                    f.to_pod.erase(0, static_cast<size_t>(w));
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    fail_pair(f, "");
                    continue;
                }
            }
            if (re & (POLLIN | POLLHUP | POLLERR)) {
                size_t room = std::min<size_t>(s.writable(f.data), 64 * 1024);
                char buf[64 * 1024];
                ssize_t r = room ? ::read(f.pod.get(), buf, room) : -1;
                if (r > 0) {
                    s.send_data(f.data, std::string_view(buf, static_cast<size_t>(r)));
                } else if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR && room)) {
                    f.pod_done = true;
                    if (s.may_send(f.data)) s.send_data(f.data, "", true);
                }
            }
            if (f.to_pod.size() > kMaxToPod) fail_pair(f, "the pod does not read");
        }
        if (!s.pending_output().empty()) {
            auto out = s.pending_output();
            ssize_t w = ::send(sock, out.data(), out.size(), MSG_NOSIGNAL);
            if (w > 0) s.consume_output(static_cast<size_t>(w));
        }
    }
}

} // namespace berth::stream
