#include "sync.hpp"

#include "error.hpp"
#include "fd_passing.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>

namespace berth {

namespace {
struct Header {
    uint32_t type;
    int32_t err;
    uint32_t level;
};
// The state JSON for hooks travels here; annotations can be large.
constexpr size_t max_text = 256 * 1024;
} // namespace

void SyncSocket::pair(SyncSocket& a, SyncSocket& b) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) throw_errno("socketpair");
    a = SyncSocket(UniqueFd(sv[0]));
    b = SyncSocket(UniqueFd(sv[1]));
}

void SyncSocket::send(SyncType type, int32_t err, std::string_view text, uint32_t level) const {
    if (text.size() > max_text) text = text.substr(0, max_text);
    std::string buf(sizeof(Header) + text.size(), '\0');
    Header h{static_cast<uint32_t>(type), err, level};
    std::memcpy(buf.data(), &h, sizeof h);
    std::memcpy(buf.data() + sizeof h, text.data(), text.size());
    if (!plain_) {
        send_with_fd(fd_.get(), buf.data(), buf.size(), -1, "on sync socket");
        return;
    }
    // One write is one SOCK_SEQPACKET record.
    while (::write(fd_.get(), buf.data(), buf.size()) < 0)
        if (errno != EINTR) throw_errno("send on sync socket");
}

void SyncSocket::send_fd(SyncType type, int fd) const {
    Header h{static_cast<uint32_t>(type), 0, 0};
    send_with_fd(fd_.get(), &h, sizeof h, fd, "fd on sync socket");
}

SyncMsg SyncSocket::recv() const {
    // Not zero-filled: only the bytes that arrive are touched (resident
    // memory on the start path).
    const size_t cap = sizeof(Header) + max_text;
    auto buf = std::make_unique_for_overwrite<char[]>(cap);
    SyncMsg m;
    size_t n = recv_with_fd(fd_.get(), buf.get(), cap, m.fd, "on sync socket");
    if (n == 0) throw Error(EPIPE, "container init exited during setup");
    if (n < sizeof(Header)) throw Error(EPROTO, "short message on sync socket");
    Header h;
    std::memcpy(&h, buf.get(), sizeof h);
    m.type = static_cast<SyncType>(h.type);
    m.err = h.err;
    m.level = h.level;
    m.text.assign(buf.get() + sizeof h, n - sizeof h);
    return m;
}

} // namespace berth
