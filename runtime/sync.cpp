#include "sync.hpp"

#include "error.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>

namespace berth {

namespace {
struct Header {
    uint32_t type;
    int32_t err;
    uint32_t level;
};
constexpr size_t max_text = 8192;
} // namespace

void SyncSocket::pair(SyncSocket& a, SyncSocket& b) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) throw_errno("socketpair");
    a = SyncSocket(UniqueFd(sv[0]));
    b = SyncSocket(UniqueFd(sv[1]));
}

void SyncSocket::send(SyncType type, int32_t err, std::string_view text, uint32_t level) const {
    Header h{static_cast<uint32_t>(type), err, level};
    if (text.size() > max_text) text = text.substr(0, max_text);
    iovec iov[2] = {{&h, sizeof h}, {const_cast<char*>(text.data()), text.size()}};
    msghdr m{};
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    while (::sendmsg(fd_.get(), &m, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR) throw_errno("send on sync socket");
    }
}

void SyncSocket::send_fd(SyncType type, int fd) const {
    Header h{static_cast<uint32_t>(type), 0, 0};
    iovec iov{&h, sizeof h};
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    while (::sendmsg(fd_.get(), &m, MSG_NOSIGNAL) < 0)
        if (errno != EINTR) throw_errno("send fd on sync socket");
}

SyncMsg SyncSocket::recv() const {
    char buf[sizeof(Header) + max_text];
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{buf, sizeof buf};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof ctl;
    ssize_t n;
    while ((n = ::recvmsg(fd_.get(), &mh, MSG_CMSG_CLOEXEC)) < 0) {
        // A peer that exits with our messages unread makes the kernel report
        // ECONNRESET once, ahead of what it sent us: read on for its error.
        if (errno != EINTR && errno != ECONNRESET) throw_errno("receive on sync socket");
    }
    if (n == 0) throw Error(EPIPE, "container init exited during setup");
    if (static_cast<size_t>(n) < sizeof(Header)) throw Error(EPROTO, "short message on sync socket");
    Header h;
    std::memcpy(&h, buf, sizeof h);
    SyncMsg m;
    m.type = static_cast<SyncType>(h.type);
    m.err = h.err;
    m.level = h.level;
    m.text.assign(buf + sizeof h, static_cast<size_t>(n) - sizeof h);
    if (cmsghdr* c = CMSG_FIRSTHDR(&mh); c && c->cmsg_type == SCM_RIGHTS) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
        m.fd.reset(fd);
    }
    return m;
}

} // namespace berth
