#include "netns_connect.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace berth::shim {

namespace {

constexpr int kAnswerFd = 3;

UniqueFd connect_local(int family, uint16_t port) {
    UniqueFd s(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) throw_errno("socket");
    sockaddr_storage ss{};
    socklen_t len;
    if (family == AF_INET) {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    }
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0)
        throw_errno(std::string("connect to ") + (family == AF_INET ? "127.0.0.1:" : "[::1]:") + std::to_string(port));
    return s;
}

void answer(const std::string& text, int fd) {
    msghdr m{};
    iovec iov{const_cast<char*>(text.data()), text.size()};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
    if (fd >= 0) {
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    if (::sendmsg(kAnswerFd, &m, MSG_NOSIGNAL) < 0) throw_errno("answer berthd");
}

} // namespace

int netns_connect(const char* netns, const char* port_s) {
    try {
        char* end = nullptr;
        long port = std::strtol(port_s, &end, 10);
        if (!*port_s || *end || port < 1 || port > 65535) throw Error(EINVAL, std::string("port \"") + port_s + "\"");
        UniqueFd ns(::open(netns, O_RDONLY | O_CLOEXEC));
        if (!ns) throw_errno(std::string("open ") + netns);
        if (::setns(ns.get(), CLONE_NEWNET) < 0) throw_errno(std::string("enter the network namespace ") + netns);
        UniqueFd s;
        try {
            s = connect_local(AF_INET, static_cast<uint16_t>(port));
        } catch (const Error& v4) {
            try {
                s = connect_local(AF_INET6, static_cast<uint16_t>(port));
            } catch (const Error&) {
                throw v4;
            }
        }
        answer("0", s.get());
        return 0;
    } catch (const std::exception& e) {
        try {
            answer(std::string("1") + e.what(), -1);
        } catch (const std::exception&) {
        }
        return 1;
    }
}

} // namespace berth::shim
