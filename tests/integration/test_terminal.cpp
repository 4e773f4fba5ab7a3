// process.terminal: the pty master sent to --console-socket as runc sends it
// (what conmon and containerd's shim receive), and run's own relay.
#include "harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

using itest::contains;

extern char** environ;

TestSuite(terminal, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

namespace {

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
    int lfd = itest::listen_unix(sock);
    c.write_config();
    auto r = itest::berth({"create", "--bundle", c.bundle, "--console-socket", sock, c.id});
    IT_ASSERT_OK(r);
    int conn = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    cr_assert_geq(conn, 0);
    std::vector<int> fds;
    auto name = itest::recv_with_fds(conn, fds);
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

// runc's rule: the terminal belongs to the process's uid; its gid stays
// the one devpts gave it (gid=5, tty, in mkbundle's config). For the init
// and an exec'd process, and in a user namespace.
Test(terminal, pty_belongs_to_the_process_user) {
    for (bool userns : {false, true}) {
        auto c = itest::container();
        if (userns) {
            c.cfg.linux->namespaces.push_back({berth::spec::NsType::user, ""});
            c.cfg.linux->uidMappings = {{0, 100000, 65536}};
            c.cfg.linux->gidMappings = {{0, 100000, 65536}};
        }
        c.cfg.process->terminal = true;
        c.cfg.process->user.uid = 1000;
        c.cfg.process->user.gid = 1000;
        c.sh("stat -L -c 'pty=%u:%g' /proc/self/fd/0; id -u");
        auto r = c.run();
        IT_ASSERT_OK(r);
        cr_assert(contains(r.out, "pty=1000:5"), "userns=%d: %s", userns, r.describe().c_str());

        auto d = itest::container();
        d.cfg.process->user.uid = 1000;
        d.cfg.process->user.gid = 1000;
        d.cfg.linux->namespaces = c.cfg.linux->namespaces;
        d.cfg.linux->uidMappings = c.cfg.linux->uidMappings;
        d.cfg.linux->gidMappings = c.cfg.linux->gidMappings;
        d.sh("exec sleep 600");
        IT_ASSERT_OK(d.create());
        IT_ASSERT_OK(d.start());
        // A host file given as stdio (create's stdout here) keeps its owner.
        struct stat st;
        cr_assert_eq(stat(d.out_path.c_str(), &st), 0);
        cr_assert_eq(st.st_uid, 0u, "the host file %s was chowned to %u", d.out_path.c_str(), st.st_uid);
        auto e = itest::berth({"exec", "-t", "-u", "1000:1000", d.id, "stat", "-L", "-c", "pty=%u:%g", "/proc/self/fd/1"});
        IT_ASSERT_OK(e);
        cr_assert(contains(e.out, "pty=1000:5"), "exec, userns=%d: %s", userns, e.describe().c_str());
        IT_ASSERT_OK(d.del(true));
    }
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

// Without a terminal, a detached container gets the caller's stdio fds
// as they are: pipes stay pipes (what conmon and containerd's shim rely on).
Test(terminal, detached_run_passes_stdio_pipes_through) {
    auto c = itest::container();
    c.sh("readlink /proc/self/fd/0; readlink /proc/self/fd/1; read line; echo got $line");
    c.write_config();
    int in[2], out[2];
    cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    struct stat si, so;
    fstat(in[0], &si);
    fstat(out[1], &so);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    std::string berth = std::getenv("BERTH");
    std::vector<std::string> args = {berth, "--root", itest::state_root(), "run", "-d", "--bundle", c.bundle, c.id};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "berth run -d failed");
    cr_assert_eq(write(in[1], "hello\n", 6), 6);
    close(in[1]);
    std::string text;
    char buf[512];
    pollfd p{out[0], POLLIN, 0};
    while (poll(&p, 1, 10000) > 0) {
        ssize_t n = read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    std::string want = "pipe:[" + std::to_string(si.st_ino) + "]\npipe:[" + std::to_string(so.st_ino) + "]\ngot hello\n";
    IT_ASSERT_STR_EQ(text, want, "the container's stdin/stdout");
    cr_assert(c.wait_status("stopped"));
    IT_ASSERT_OK(c.del());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}
