#include "fd_passing.hpp"

#include "error.hpp"

#include <sys/socket.h>

#include <cstring>

namespace berth {

void send_with_fd(int sock, const void* data, size_t len, int fd, const char* what) {
    iovec iov{const_cast<void*>(data), len};
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (fd >= 0) {
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    while (::sendmsg(sock, &m, MSG_NOSIGNAL) < 0)
        if (errno != EINTR) throw_errno(std::string("send ") + what);
}

size_t recv_with_fd(int sock, void* buf, size_t len, UniqueFd& fd, const char* what) {
    iovec iov{buf, len};
    // Room for a second fd, so a sender that passes more is caught (and closed).
    alignas(cmsghdr) char ctl[CMSG_SPACE(2 * sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    ssize_t n;
    while ((n = ::recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) < 0) {
        // A peer that exits with our messages unread makes the kernel report
        // ECONNRESET once, ahead of what it sent us: read on.
        if (errno != EINTR && errno != ECONNRESET) throw_errno(std::string("receive ") + what);
    }
    size_t count = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; ++i, ++count) {
            int got;
            std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
            if (count == 0) fd.reset(got);
            else ::close(got);
        }
    }
    if (count > 1 || (m.msg_flags & MSG_CTRUNC)) {
        fd.reset();
        throw Error(EPROTO, std::string(what) + ": expected at most one fd");
    }
    return static_cast<size_t>(n);
}

} // namespace berth
