#include "server.hpp"

#include "error.hpp"
#include "log.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace berth::shim {

TtrpcServer::TtrpcServer(EventLoop& loop, UniqueFd listener, Handler h)
    : loop_(loop), listener_(std::move(listener)), handler_(std::move(h)) {
    loop_.add(listener_.get(), EPOLLIN, [this](uint32_t) { on_accept(); });
}

TtrpcServer::~TtrpcServer() {
    for (auto& [id, c] : conns_) loop_.remove(c->fd.get());
    loop_.remove(listener_.get());
}

void TtrpcServer::on_accept() {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) return;
    // Only our own user (containerd runs as the shim's user) may drive us.
    ucred cr{};
    socklen_t len = sizeof cr;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.uid != ::geteuid()) {
        log_error("ttrpc: refused a connection from uid " + std::to_string(cr.uid));
        return;
    }
    uint64_t id = next_id_++;
    auto c = std::make_unique<Conn>();
    c->fd = std::move(fd);
    int raw = c->fd.get();
    conns_[id] = std::move(c);
    loop_.add(raw, EPOLLIN, [this, id](uint32_t ev) { on_conn(id, ev); });
}

void TtrpcServer::on_conn(uint64_t id, uint32_t events) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    if (events & EPOLLOUT) {
        flush(id);
        if (!conns_.count(id)) return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    char buf[16384];
    ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        drop(id);
        return;
    }
    try {
        c.dec.feed(buf, static_cast<size_t>(n));
        while (auto f = c.dec.next()) {
            if (f->type != static_cast<uint8_t>(berth::ttrpc::MsgType::request)) continue;   // no streams here
            berth::ttrpc::Request req;
            CallRef call{id, f->stream};
            if (!req.ParseFromString(f->payload)) {
                reply_error(call, berth::ttrpc::invalid_argument, "ttrpc: malformed request");
                continue;
            }
            handler_(call, req);
            // The handler may have ended the loop or dropped us.
            if (!conns_.count(id) || loop_.stopped()) return;
        }
    } catch (const Error& e) {
        log_error(e.what());
        drop(id);
    }
}

void TtrpcServer::reply(const CallRef& call, const berth::ttrpc::Response& resp) {
    auto it = conns_.find(call.conn);
    if (it == conns_.end()) return;
    std::string payload = resp.SerializeAsString();
    try {
        it->second->out += berth::ttrpc::encode_frame(call.stream, berth::ttrpc::MsgType::response, 0, payload,
                                                       berth::ttrpc::max_berth_payload);
    } catch (const Error& e) {
        reply_error(call, berth::ttrpc::internal, e.what());
        return;
    }
    flush(call.conn);
}

void TtrpcServer::reply_error(const CallRef& call, int32_t code, const std::string& message) {
    berth::ttrpc::Response resp;
    resp.mutable_status()->set_code(code);
    resp.mutable_status()->set_message(message);
    reply(call, resp);
}

void TtrpcServer::flush(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n > 0) {
            c.out.erase(0, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        drop(id);
        return;
    }
    bool want = !c.out.empty();
    if (want != c.want_out) {
        loop_.modify(c.fd.get(), want ? EPOLLIN | EPOLLOUT : EPOLLIN);
        c.want_out = want;
    }
}

void TtrpcServer::drop(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    loop_.remove(it->second->fd.get());
    conns_.erase(it);
}

} // namespace berth::shim
