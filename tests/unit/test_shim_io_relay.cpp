// berth-shim's stdio relays (shim/io/io_relay.hpp, shim/io/attach.hpp) with real
// pipes and sockets, no container: a k8s-file log gets every byte while an
// attach client that does not read is dropped (the writer never waits on
// it); attach stdin with StdinOnce ends the process's stdin; attach stdin
// needs a pipe:// stdin; after the exit, each output stream drains to its
// FIFO's reader on its own, without the caller waiting.
#include <criterion/criterion.h>

#include "error.hpp"
#include "test_dir.hpp"
#include "file_util.hpp"
#include "io_relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

using namespace berth;
using namespace berth::shim;

namespace {


UniqueFd listen_seqpacket(const std::string& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    cr_assert_eq(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    cr_assert_eq(::listen(fd.get(), 4), 0);
    return fd;
}

UniqueFd accept_one(int l) {
    pollfd p{l, POLLIN, 0};
    cr_assert_eq(::poll(&p, 1, 2000), 1, "the shim connects to the attach socket");
    UniqueFd c(::accept4(l, nullptr, nullptr, SOCK_CLOEXEC));
    cr_assert(c);
    return c;
}

size_t logged_bytes(const std::string& text) {
    // "STAMP stdout F CONTENT\n": the content after the third space.
    size_t total = 0, pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        size_t sp = pos;
        for (int i = 0; i < 3; ++i) sp = text.find(' ', sp) + 1;
        total += nl - sp;
        pos = nl + 1;
    }
    return total;
}

// A process's stdio as the shim holds it, its output to a k8s-file log;
// the test plays the process through `child`, and listens for attach
// sessions on `sock`.
struct Relay {
    EventLoop loop;
    ChildStdio child;
    std::unique_ptr<ProcessIo> io;
    std::string sock = test_dir() + "/attach.sock";
    UniqueFd listener;

    explicit Relay(const std::string& in = "") {
        StdioRequest req;
        req.in = in;
        req.out = "k8s-file://" + test_dir() + "/0.log";
        io = ProcessIo::open(loop, req, child);
        cr_assert(child.out);
        io->start();
        listener = listen_seqpacket(sock);
    }
    // A new session; the client's end of it.
    UniqueFd attach(const AttachOptions& o) {
        io->attach(sock, o);
        return accept_one(listener.get());
    }
    void pump(int rounds = 20) {
        for (int i = 0; i < rounds; ++i) loop.run_once(5);
    }
};

// stdout and stderr to FIFOs (as containerd gives them), read by the test.
struct FifoRelay {
    EventLoop loop;
    ChildStdio child;
    std::unique_ptr<ProcessIo> io;
    std::string out = test_dir() + "/out", err = test_dir() + "/err";

    FifoRelay() {
        cr_assert_eq(::mkfifo(out.c_str(), 0600), 0);
        cr_assert_eq(::mkfifo(err.c_str(), 0600), 0);
        StdioRequest req;
        req.out = out;
        req.err = err;
        io = ProcessIo::open(loop, req, child);
        cr_assert(child.out && child.err);
        io->start();
    }
    // A reader of the FIFO at path, non-blocking.
    static UniqueFd reader(const std::string& path) {
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        cr_assert(fd, "open %s", path.c_str());
        return fd;
    }
    // Reads what fd has; true at EOF (no writer left).
    static bool take(int fd, std::string& into) {
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n > 0) into.append(buf, static_cast<size_t>(n));
            else return n == 0;
        }
    }
};

AttachOptions opts(bool in, bool out, bool stdin_once = false) {
    AttachOptions o;
    o.in = in;
    o.out = out;
    o.stdin_once = stdin_once;
    return o;
}

} // namespace

TestSuite(io_relay, .init = make_test_dir, .fini = remove_test_dir);

Test(io_relay, slow_attach_client_is_dropped_log_keeps_everything) {
    Relay r;
    auto& child = r.child;
    UniqueFd client = r.attach(opts(false, true));

    // 4 MiB in 1000-byte lines; the client reads nothing.
    std::string line(999, 'x');
    line.push_back('\n');
    int fl = ::fcntl(child.out.get(), F_GETFL);
    ::fcntl(child.out.get(), F_SETFL, fl | O_NONBLOCK);
    size_t written = 0;
    while (written < (4u << 20)) {
        ssize_t n = ::write(child.out.get(), line.data(), line.size());
        if (n < 0) {
            cr_assert_eq(errno, EAGAIN);
            r.pump(1);   // the relay must drain the pipe: we never wait on the client
            continue;
        }
        cr_assert_eq(n, static_cast<ssize_t>(line.size()), "a pipe write of < PIPE_BUF is whole");
        written += static_cast<size_t>(n);
    }
    child.out.reset();
    r.pump();
    r.io->finish();
    std::string log = read_file(test_dir() + "/0.log");
    cr_assert_eq(logged_bytes(log), written / 1000 * 999, "the log has every line");
    // The client got a prefix, then the shim hung up on it.
    char buf[64 * 1024];
    size_t got = 0;
    ssize_t n;
    while ((n = ::recv(client.get(), buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        cr_assert_eq(buf[0], 1, "a stdout packet");
        got += static_cast<size_t>(n - 1);
    }
    cr_assert_eq(n, 0, "the dropped session sees EOF (errno %d)", errno);
    cr_assert_lt(got, written, "the slow client did not get everything");
}

Test(io_relay, attach_stdin_once_closes_stdin) {
    Relay r("pipe://");
    UniqueFd client = r.attach(opts(true, true, true));
    cr_assert_eq(::send(client.get(), "abc", 3, 0), 3);
    cr_assert_eq(::send(client.get(), "def\n", 4, 0), 4);
    cr_assert_eq(::shutdown(client.get(), SHUT_WR), 0);
    r.pump();
    std::string in;
    char buf[64];
    ssize_t n;
    while ((n = ::read(r.child.in.get(), buf, sizeof buf)) > 0) in.append(buf, static_cast<size_t>(n));
    cr_assert_eq(n, 0, "stdin ended with the session's input");
    cr_assert_str_eq(in.c_str(), "abcdef\n");
    // A second session can't write to a closed stdin.
    try {
        r.io->attach(r.sock, opts(true, true, true));
        cr_assert_fail("attached stdin after it was closed");
    } catch (const Error& e) {
        cr_assert_eq(e.err(), EPIPE, "%s", e.what());
    }
    r.io->finish();
}

Test(io_relay, attach_stdin_without_pipe_is_refused) {
    Relay r;
    try {
        r.io->attach(r.sock, opts(true, false));
        cr_assert_fail("attached stdin to a process without one");
    } catch (const Error& e) {
        cr_assert_eq(e.err(), EINVAL);
        cr_assert(std::string(e.what()).find("pipe://") != std::string::npos, "%s", e.what());
    }
    try {
        r.io->attach(test_dir() + "/missing.sock", opts(false, true));
        cr_assert_fail("attached to a socket nobody listens on");
    } catch (const Error& e) {
        cr_assert(std::string(e.what()).find("missing.sock") != std::string::npos, "%s", e.what());
    }
    r.io->finish();
}

// The process closed its stdin: input from a session meets EPIPE, which
// ends stdin under the session's feet; the shim must not fall over.
Test(io_relay, attach_input_after_the_process_closed_stdin) {
    Relay r("pipe://");
    UniqueFd client = r.attach(opts(true, true));
    ::signal(SIGPIPE, SIG_IGN);   // as berth-shim has it (blocked)
    r.child.in.reset();           // the process's `exec 0<&-`
    cr_assert_eq(::send(client.get(), "lost", 4, 0), 4);
    cr_assert_eq(::send(client.get(), "also lost", 9, 0), 9);
    r.pump();
    try {
        r.io->attach(r.sock, opts(true, true));
        cr_assert_fail("attached stdin after the process closed it");
    } catch (const Error& e) {
        cr_assert_eq(e.err(), EPIPE, "%s", e.what());
    }
    r.io->finish();
}

// A stdin_once client that goes away without ending its input (killed,
// or dropped for falling behind) still closes stdin.
Test(io_relay, stdin_once_client_that_disconnects_closes_stdin) {
    Relay r("pipe://");
    UniqueFd client = r.attach(opts(true, true, true));
    cr_assert_eq(::send(client.get(), "x\n", 2, 0), 2);
    client.reset();
    // Output for the gone client: the failed send notices first.
    cr_assert_eq(::write(r.child.out.get(), "out\n", 4), 4);
    r.pump();
    std::string in;
    char buf[64];
    ssize_t n;
    int fl = ::fcntl(r.child.in.get(), F_GETFL);
    ::fcntl(r.child.in.get(), F_SETFL, fl | O_NONBLOCK);
    while ((n = ::read(r.child.in.get(), buf, sizeof buf)) > 0) in.append(buf, static_cast<size_t>(n));
    cr_assert_eq(n, 0, "stdin at EOF (errno %d)", errno);
    cr_assert_str_eq(in.c_str(), "x\n");
    r.io->finish();
}

// A process left behind (a background child) keeps the output pipe open
// and writing after the exit: finish() copies what is there and returns.
Test(io_relay, finish_returns_while_a_writer_lives_on) {
    Relay r;
    pid_t writer = ::fork();
    cr_assert_geq(writer, 0);
    if (writer == 0) {
        for (;;) (void)!::write(r.child.out.get(), "yes\n", 4);
    }
    r.child.out.reset();
    ::usleep(50 * 1000);   // the writer is at it: the pipe is never empty
    timespec t0, t1;
    ::clock_gettime(CLOCK_MONOTONIC, &t0);
    r.io->finish();
    ::clock_gettime(CLOCK_MONOTONIC, &t1);
    ::kill(writer, SIGKILL);
    ::waitpid(writer, nullptr, 0);
    double s = double(t1.tv_sec - t0.tv_sec) + double(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_lt(s, 5.0, "finish() took %.1f s", s);
    cr_assert_gt(read_file(test_dir() + "/0.log").size(), 0u);
}

// The process wrote to both streams and exited; the FIFOs' reader comes
// later (containerd opens its readers only after its Start call returns).
// drain() returns at once, and the loop gets both streams to the reader,
// then tells the caller.
Test(io_relay, drain_returns_at_once_and_delivers_both_streams) {
    FifoRelay r;
    cr_assert_eq(::write(r.child.out.get(), "to-out\n", 7), 7);
    cr_assert_eq(::write(r.child.err.get(), "to-err\n", 7), 7);
    r.child = ChildStdio();   // the process exits
    bool done = false;
    cr_assert_not(r.io->drain([&] { done = true; }), "nothing was read yet: drain() must not report done");
    cr_assert_not(done);
    UniqueFd out = FifoRelay::reader(r.out), err = FifoRelay::reader(r.err);
    std::string o, e;
    bool out_eof = false, err_eof = false;
    for (int i = 0; i < 1000 && !(out_eof && err_eof && done); ++i) {
        r.loop.run_once(5);
        out_eof = out_eof || FifoRelay::take(out.get(), o);
        err_eof = err_eof || FifoRelay::take(err.get(), e);
    }
    cr_assert(done, "the drain's callback ran");
    cr_assert(r.io->drained());
    cr_assert_str_eq(o.c_str(), "to-out\n");
    cr_assert_str_eq(e.c_str(), "to-err\n");
    cr_assert(out_eof && err_eof, "both FIFOs closed once drained");
    r.io->finish();
}

// A background child keeps stdout open after the exit; stderr is done.
// Each stream drains on its own: stderr reaches its reader and ends while
// stdout still waits for its EOF (or its deadline).
Test(io_relay, each_stream_drains_on_its_own) {
    FifoRelay r;
    UniqueFd out = FifoRelay::reader(r.out), err = FifoRelay::reader(r.err);
    UniqueFd held = std::move(r.child.out);   // the background child's copy
    cr_assert_eq(::write(r.child.err.get(), "last words\n", 11), 11);
    r.child = ChildStdio();
    bool done = false;
    cr_assert_not(r.io->drain([&] { done = true; }, 60000));
    std::string o, e;
    bool err_eof = false;
    for (int i = 0; i < 1000 && !err_eof; ++i) {
        r.loop.run_once(5);
        FifoRelay::take(out.get(), o);
        err_eof = FifoRelay::take(err.get(), e);
    }
    cr_assert(err_eof, "stderr ended");
    cr_assert_str_eq(e.c_str(), "last words\n");
    cr_assert_not(r.io->drained(), "stdout is still open: it drains until its own EOF");
    cr_assert_not(done);
    cr_assert_eq(::write(held.get(), "late\n", 5), 5);
    held.reset();
    bool out_eof = false;
    for (int i = 0; i < 1000 && !(out_eof && done); ++i) {
        r.loop.run_once(5);
        out_eof = out_eof || FifoRelay::take(out.get(), o);
    }
    cr_assert(done && out_eof);
    cr_assert_str_eq(o.c_str(), "late\n");
    r.io->finish();
}

// A writer that never lets go: the stream ends at its deadline anyway.
Test(io_relay, drain_ends_at_the_deadline) {
    FifoRelay r;
    UniqueFd out = FifoRelay::reader(r.out);
    UniqueFd held = std::move(r.child.out);
    r.child = ChildStdio();
    bool done = false;
    cr_assert_not(r.io->drain([&] { done = true; }, 50));
    std::string o;
    bool out_eof = false;
    for (int i = 0; i < 2000 && !(done && out_eof); ++i) {
        r.loop.run_once(5);
        out_eof = out_eof || FifoRelay::take(out.get(), o);
    }
    cr_assert(done && out_eof, "done %d, stdout's FIFO closed %d", done, out_eof);
    r.io->finish();
}

// containerd opens its FIFO readers from goroutines, with a blocking open
// that waits for a writer: one that comes after a quick exec is over must
// still find the writer, and then EOF. The drain waits for it.
Test(io_relay, a_reader_that_opens_after_the_exit_gets_eof) {
    FifoRelay r;   // no reader yet
    r.child = ChildStdio();   // the process exits, having written nothing
    bool done = false;
    cr_assert_not(r.io->drain([&] { done = true; }, 60000), "no reader yet: not drained");
    for (int i = 0; i < 20; ++i) r.loop.run_once(5);
    cr_assert_not(done, "drained before the reader came");
    std::atomic<int> eofs = 0;
    std::thread reader([&] {
        for (const std::string* path : {&r.out, &r.err}) {
            int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);   // blocks until a writer is there
            char buf[64];
            if (fd >= 0 && ::read(fd, buf, sizeof buf) == 0) ++eofs;
            if (fd >= 0) ::close(fd);
        }
    });
    for (int i = 0; i < 1000 && !(done && eofs == 2); ++i) r.loop.run_once(5);
    bool ok = done && eofs == 2;
    if (!ok) {
        // Unblock a reader left waiting for a writer, then fail.
        for (const std::string* path : {&r.out, &r.err}) {
            int fd = ::open(path->c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0) ::close(fd);
        }
    }
    reader.join();
    cr_assert(ok, "done %d, readers at EOF %d of 2", done, eofs.load());
    r.io->finish();
}
