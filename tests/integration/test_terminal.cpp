// process.terminal: the pty master sent to --console-socket as runc sends it
// (what conmon and containerd's shim receive), and run's own relay.
#include "harness.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

using itest::contains;

TestSuite(terminal, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

namespace {

int listen_unix(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    cr_assert_eq(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0, "bind %s: %s", path.c_str(), strerror(errno));
    cr_assert_eq(listen(fd, 1), 0);
    return fd;
}

// Receive the console message: its text and the fds it carried.
std::string recv_master(int conn, std::vector<int>& fds) {
    char buf[4096];
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char ctl[CMSG_SPACE(4 * sizeof(int))];
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    ssize_t n = recvmsg(conn, &m, MSG_CMSG_CLOEXEC);
    cr_assert_gt(n, 0, "recvmsg: %s", strerror(errno));
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            fds.push_back(fd);
        }
    }
    return std::string(buf, static_cast<size_t>(n));
}

// Everything the container writes to its terminal, until it closes (EIO).
std::string read_all(int master, int timeout_ms) {
    std::string out;
    pollfd p{master, POLLIN, 0};
    while (poll(&p, 1, timeout_ms) > 0) {
        char buf[4096];
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

} // namespace

Test(terminal, console_socket_receives_pty_master) {
    auto c = itest::container();
    c.cfg.process->terminal = true;
    c.cfg.process->consoleSize = berth::spec::ConsoleSize{40, 120};
    c.sh("tty; stty size; stat -c '%F' /dev/console; test -t 0 && test -t 1 && test -t 2 && echo all-tty");
    std::string sock = itest::work_dir() + "/console.sock";
    int lfd = listen_unix(sock);
    c.write_config();
    auto r = itest::berth({"create", "--bundle", c.bundle, "--console-socket", sock, c.id});
    IT_ASSERT_OK(r);
    int conn = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    cr_assert_geq(conn, 0);
    std::vector<int> fds;
    auto name = recv_master(conn, fds);
    IT_ASSERT_STR_EQ(name, "/dev/ptmx", r.describe());
    cr_assert_eq(fds.size(), 1u, "expected exactly one fd, got %zu", fds.size());
    IT_ASSERT_OK(c.start());
    auto out = read_all(fds[0], 10000);
    for (int fd : fds) close(fd);
    close(conn);
    close(lfd);
    cr_assert(contains(out, "/dev/pts/0"), "%s", out.c_str());
    cr_assert(contains(out, "40 120"), "consoleSize not applied: %s", out.c_str());
    cr_assert(contains(out, "character special file"), "/dev/console: %s", out.c_str());
    cr_assert(contains(out, "all-tty"), "%s", out.c_str());
    cr_assert(c.wait_status("stopped"));
    IT_ASSERT_OK(c.del());
    itest::finish();
}

Test(terminal, run_relays_the_pty) {
    auto c = itest::container();
    c.cfg.process->terminal = true;
    c.cfg.process->consoleSize = berth::spec::ConsoleSize{24, 80};
    c.sh("tty; stty size; exit 3");
    auto r = c.run();
    cr_assert_eq(r.status, 3, "%s", r.describe().c_str());
    cr_assert(contains(r.out, "/dev/pts/0"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "24 80"), "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(itest::check_no_trace(c.id, c.bundle), "", r.describe());
    itest::finish();
}

Test(terminal, create_without_console_socket_fails_cleanly) {
    auto c = itest::container();
    c.cfg.process->terminal = true;
    auto r = c.create();
    cr_assert_neq(r.status, 0, "%s", r.describe().c_str());
    cr_assert(contains(r.err, "--console-socket"), "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(itest::check_no_trace(c.id, c.bundle), "", r.describe());
    itest::finish();
}

Test(terminal, console_socket_that_does_not_listen) {
    auto c = itest::container();
    c.cfg.process->terminal = true;
    c.write_config();
    auto r = itest::berth({"create", "--bundle", c.bundle, "--console-socket", itest::work_dir() + "/nobody.sock", c.id});
    cr_assert_neq(r.status, 0, "%s", r.describe().c_str());
    cr_assert(contains(r.err, "console-socket"), "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(itest::check_no_trace(c.id, c.bundle), "", r.describe());
    itest::finish();
}
