#include "ttrpc_client.hpp"

#include "ttrpc.pb.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <cstring>
#include <optional>

namespace berth::ttrpc {

namespace {

int errno_for(int32_t code) {
    switch (code) {
    case not_found: return ENOENT;
    case already_exists: return EEXIST;
    case invalid_argument: return EINVAL;
    case failed_precondition: return EBUSY;
    case permission_denied: return EPERM;
    case unimplemented: return ENOTSUP;
    case unavailable: return ECONNRESET;
    case StatusError::deadline_exceeded: return ETIMEDOUT;
    default: return EIO;
    }
}

int64_t now_ms() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Until `events` on fd or the deadline (-1: none). False on timeout.
bool wait_fd(int fd, short events, int64_t deadline) {
    for (;;) {
        int ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) return false;
            ms = static_cast<int>(left);
        }
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, ms);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw StatusError(unavailable, errno, std::string("poll: ") + std::strerror(errno));
        if (r > 0) return true;
    }
}

} // namespace

StatusError::StatusError(int32_t code, std::string message) : StatusError(code, errno_for(code), std::move(message)) {}

StatusError::StatusError(int32_t code, int err, std::string message) : Error(err, std::move(message)), code_(code) {}

UniqueFd dial_socket(const std::string& address, std::chrono::milliseconds timeout) {
    std::string path = address.rfind("unix://", 0) == 0 ? address.substr(7) : address;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof sa.sun_path)
        throw StatusError(unavailable, EINVAL, "ttrpc address \"" + address + "\": not a unix socket path");
    std::memcpy(sa.sun_path, path.data(), path.size());
    // Non-blocking from the start: a server whose listen backlog is full
    // (stopped, wedged) costs an EAGAIN rather than a connect blocked for
    // good, and a deadline bounds the writes too.
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) throw StatusError(unavailable, errno, std::string("socket: ") + std::strerror(errno));
    int r;
    do {
        r = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && errno == EINPROGRESS) {
        if (!wait_fd(fd.get(), POLLOUT, timeout.count() > 0 ? now_ms() + timeout.count() : -1))
            throw StatusError(StatusError::deadline_exceeded, "connect " + path + ": timed out");
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err != 0) errno = err, r = -1;
        else r = 0;
    }
    if (r < 0) throw StatusError(unavailable, errno, "connect " + path + ": " + std::strerror(errno));
    return fd;
}

std::string encode_request(uint32_t stream, const std::string& service, const std::string& method,
                           const std::string& payload, std::chrono::milliseconds timeout, const Metadata& metadata) {
    Request req;
    req.set_service(service);
    req.set_method(method);
    req.set_payload(payload);
    if (timeout.count() > 0) req.set_timeout_nano(int64_t(timeout.count()) * 1000000);
    for (const auto& [k, v] : metadata) {
        auto* kv = req.add_metadata();
        kv->set_key(k);
        kv->set_value(v);
    }
    return encode_frame(stream, MsgType::request, 0, req.SerializeAsString());
}

Client Client::dial(const std::string& address, std::chrono::milliseconds timeout) {
    return Client(dial_socket(address, timeout));
}

Client::Client(UniqueFd conn) : conn_(std::move(conn)) {}

std::string Client::call(const std::string& service, const std::string& method, const std::string& payload,
                         std::chrono::milliseconds timeout, const Metadata& metadata) {
    if (!conn_) throw StatusError(unavailable, ENOTCONN, "not connected");
    uint32_t stream = next_stream_;
    next_stream_ += 2;   // client streams are odd; wraps long after any real use
    std::string out = encode_request(stream, service, method, payload, timeout, metadata);
    int64_t deadline = timeout.count() > 0 ? now_ms() + timeout.count() : -1;

    auto broken = [&](int err, const std::string& why) -> StatusError {
        conn_.reset();
        dec_ = FrameDecoder(max_berth_payload);
        return StatusError(unavailable, err, why);
    };
    auto timed_out = [&]() -> StatusError {
        // A late answer on this stream is skipped by the next call.
        return StatusError(StatusError::deadline_exceeded, "no answer in " + std::to_string(timeout.count()) + " ms");
    };

    size_t off = 0;
    while (off < out.size()) {
        ssize_t n = ::send(conn_.get(), out.data() + off, out.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            // A request half written leaves the stream unusable: close it.
            if (!wait_fd(conn_.get(), POLLOUT, deadline)) throw broken(ETIMEDOUT, "timed out sending the request");
            continue;
        }
        throw broken(errno, std::string("send: ") + std::strerror(errno));
    }

    for (;;) {
        for (;;) {
            std::optional<Frame> f;
            try {
                f = dec_.next();
            } catch (const Error& e) {
                throw broken(EMSGSIZE, e.what());   // unframeable from here on
            }
            if (!f) break;
            if (f->stream != stream || f->type != static_cast<uint8_t>(MsgType::response)) continue;
            Response resp;
            if (!resp.ParseFromString(f->payload)) throw broken(EPROTO, "malformed response");
            if (resp.has_status() && resp.status().code() != ok)
                throw StatusError(resp.status().code(), resp.status().message());
            return resp.payload();
        }
        if (!wait_fd(conn_.get(), POLLIN, deadline)) throw timed_out();
        char buf[16384];
        ssize_t n = ::read(conn_.get(), buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) throw broken(errno, std::string("read: ") + std::strerror(errno));
        if (n == 0) throw broken(ECONNRESET, "the server closed the connection");
        dec_.feed(buf, static_cast<size_t>(n));
    }
}

} // namespace berth::ttrpc
