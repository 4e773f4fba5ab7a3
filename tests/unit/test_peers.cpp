// berthd's callers (cri/server/peers.cpp): credentials read off a real
// unix socket connection, the user's name and groups from the system, and
// no caller for an fd that is not the connection recorded under its number.
#include "peers.hpp"

#include <criterion/criterion.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace berth::cri;

Test(peers, credentials_of_a_connection) {
    int sv[2];
    cr_assert_eq(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    Peers p;
    p.add(sv[0]);
    auto c = p.caller_of_fd(sv[0]);
    cr_assert(c.has_value());
    cr_expect_eq(c->uid, ::getuid());
    cr_expect_eq(c->gid, ::getgid());
    cr_expect_eq(c->pid, ::getpid());
    cr_expect(c->in_group(::getgid()));
    cr_expect_eq(c->root(), ::getuid() == 0);
    if (::getuid() == 0) cr_expect_eq(c->user, "root");
    cr_expect(c->describe().find("pid " + std::to_string(::getpid())) != std::string::npos, "%s", c->describe().c_str());
    cr_expect(!p.caller_of_fd(sv[1]).has_value(), "the other end was never added");

    // The connection goes; its number is reused by a file: no caller.
    int n = sv[0];
    ::close(sv[0]);
    int f = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (f != n) {
        cr_assert_geq(::dup2(f, n), 0);
        ::close(f);
    }
    cr_expect(!p.caller_of_fd(n).has_value(), "a file under a connection's old number has no caller");
    // ...or by another socket: its inode is not the recorded one.
    ::close(n);
    int sv2[2];
    cr_assert_eq(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv2), 0);
    if (sv2[0] != n) {
        cr_assert_geq(::dup2(sv2[0], n), 0);
        ::close(sv2[0]);
    }
    cr_expect(!p.caller_of_fd(n).has_value(), "another connection under the old number has no caller until added");
    p.add(n);
    cr_expect(p.caller_of_fd(n).has_value());
    ::close(n);
    ::close(sv[1]);
    ::close(sv2[1]);
}

Test(peers, identity_from_the_system) {
    Caller root = caller_from_credentials(1, 0, 0);
    cr_expect_eq(root.user, "root");
    cr_expect(root.root());
    Caller nobody = caller_from_credentials(1, 4000123, 4000123);
    cr_expect_eq(nobody.user, "uid 4000123", "a uid without a user is named by number");
    cr_expect_eq(nobody.groups.size(), 1u, "and has its gid alone");
    cr_expect(!nobody.root());
}
