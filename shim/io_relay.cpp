#include "io_relay.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>

namespace berth::shim {

namespace {

constexpr size_t buffer_cap = 64 * 1024;

void set_nonblock(int fd) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) throw_errno("set O_NONBLOCK");
}

long now_ms() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// A stdio path from the manager: a FIFO path, or file:// for a file.
// binary:// loggers are not supported yet.
std::string local_path(const std::string& uri) {
    if (uri.rfind("file://", 0) == 0) return uri.substr(7);
    if (uri.rfind("fifo://", 0) == 0) return uri.substr(7);
    if (uri.find("://") != std::string::npos) throw Error(ENOTSUP, "stdio " + uri + ": unsupported scheme");
    return uri;
}

// The write side for output. A FIFO is opened read-write, which never
// blocks nor fails for want of a reader (the manager may open its end
// later); a regular file is appended to.
UniqueFd open_output(const std::string& uri) {
    std::string path = local_path(uri);
    struct stat st;
    int flags = O_CLOEXEC | O_NONBLOCK;
    if (::stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) flags |= O_RDWR;
    else flags |= O_WRONLY | O_APPEND | O_CREAT;
    UniqueFd fd(::open(path.c_str(), flags, 0640));
    if (!fd) throw_errno("open stdio " + path);
    return fd;
}

// stdin's FIFO, read-only and non-blocking: it reports EOF (EPOLLHUP) only
// once a writer has come and gone.
UniqueFd open_input(const std::string& uri) {
    std::string path = local_path(uri);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd) throw_errno("open stdin " + path);
    return fd;
}

UniqueFd dev_null(int flags) {
    UniqueFd fd(::open("/dev/null", flags | O_CLOEXEC));
    if (!fd) throw_errno("open /dev/null");
    return fd;
}


} // namespace

Copier::Copier(EventLoop& loop, UniqueFd src, UniqueFd dst) : loop_(loop), src_(std::move(src)), dst_(std::move(dst)) {}

Copier::~Copier() { close(); }

void Copier::start() { update(); }

void Copier::update() {
    bool want_src = src_ && !eof_ && buf_.size() < buffer_cap;
    bool want_dst = dst_ && !buf_.empty();
    if (want_src != src_watched_) {
        if (want_src) loop_.add(src_.get(), EPOLLIN, [this](uint32_t) { on_src(); });
        else loop_.remove(src_.get());
        src_watched_ = want_src;
    }
    if (want_dst != dst_watched_) {
        if (want_dst) loop_.add(dst_.get(), EPOLLOUT, [this](uint32_t) { on_dst(); });
        else loop_.remove(dst_.get());
        dst_watched_ = want_dst;
    }
    if (eof_ && buf_.empty()) close();
}

void Copier::on_src() {
    char tmp[16384];
    size_t room = buffer_cap - buf_.size();
    ssize_t n = ::read(src_.get(), tmp, std::min(room, sizeof tmp));
    if (n > 0) buf_.append(tmp, static_cast<size_t>(n));
    else if (n == 0 || (errno != EAGAIN && errno != EINTR)) eof_ = true;   // EIO: the pty's slave is gone
    if (!flush()) buf_.clear(), eof_ = true;
    update();
}

void Copier::on_dst() {
    if (!flush()) buf_.clear(), eof_ = true;
    update();
}

bool Copier::flush() {
    while (!buf_.empty()) {
        ssize_t n = ::write(dst_.get(), buf_.data(), buf_.size());
        if (n > 0) {
            buf_.erase(0, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return n < 0 && errno == EAGAIN;   // EPIPE: the reader is gone
    }
    return true;
}

void Copier::drain(int timeout_ms) {
    if (closed()) return;
    long deadline = now_ms() + timeout_ms;
    for (;;) {
        if (src_ && !eof_) {
            char tmp[16384];
            ssize_t n = ::read(src_.get(), tmp, sizeof tmp);
            if (n > 0) buf_.append(tmp, static_cast<size_t>(n));
            else if (n < 0 && errno == EINTR) continue;
            else eof_ = true;   // EOF, EAGAIN (nothing more now) or EIO
        }
        if (!flush()) break;
        if (eof_ && buf_.empty()) {
            // Everything is in the FIFO now; give the reader the chance to
            // take it before we close and report the exit. A client that
            // tears its reader down on the exit (ctr does) would otherwise
            // lose what it had not read yet.
            int queued = 0;
            while (::ioctl(dst_.get(), FIONREAD, &queued) == 0 && queued > 0 && now_ms() < deadline)
                ::usleep(1000);
            break;
        }
        if (!buf_.empty()) {
            long left = deadline - now_ms();
            if (left <= 0) break;
            pollfd p{dst_.get(), POLLOUT, 0};
            ::poll(&p, 1, static_cast<int>(left));
        }
    }
    close();
}

void Copier::close() {
    if (src_watched_) loop_.remove(src_.get());
    if (dst_watched_) loop_.remove(dst_.get());
    src_watched_ = dst_watched_ = false;
    src_.reset();
    dst_.reset();
    buf_.clear();
}

std::unique_ptr<ProcessIo> ProcessIo::open(EventLoop& loop, const std::string& in, const std::string& out,
                                           const std::string& err, bool terminal, ChildStdio& child) {
    std::unique_ptr<ProcessIo> io(new ProcessIo(loop));
    io->terminal_ = terminal;
    if (!in.empty()) io->in_src_ = open_input(in);
    if (!out.empty()) io->out_dst_ = open_output(out);
    if (!err.empty() && !terminal) io->err_dst_ = open_output(err);
    if (terminal) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) throw_errno("socketpair");
        io->console_ours_.reset(sv[0]);
        child.console.reset(sv[1]);
        // The pty replaces 0-2 in the process; until then they are /dev/null.
        child.in = dev_null(O_RDONLY);
        child.out = dev_null(O_WRONLY);
        child.err = dev_null(O_WRONLY);
        return io;
    }
    if (io->in_src_) make_pipe(child.in, io->in_pipe_);
    else child.in = dev_null(O_RDONLY);
    if (io->out_dst_) make_pipe(io->out_pipe_, child.out);
    else child.out = dev_null(O_WRONLY);
    if (io->err_dst_) make_pipe(io->err_pipe_, child.err);
    else child.err = dev_null(O_WRONLY);
    return io;
}

ProcessIo::~ProcessIo() = default;

void ProcessIo::start() {
    if (terminal_) {
        // The runtime sent the master during setup: it is queued by now.
        pollfd p{console_ours_.get(), POLLIN, 0};
        if (::poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) master_ = recv_fd(console_ours_.get());
        console_ours_.reset();
        if (!master_) throw Error(EPROTO, "terminal: the runtime sent no pty master");
        set_nonblock(master_.get());
        if (in_src_) {
            UniqueFd m(::fcntl(master_.get(), F_DUPFD_CLOEXEC, 3));
            if (!m) throw_errno("dup pty master");
            in_ = std::make_unique<Copier>(loop_, std::move(in_src_), std::move(m));
        }
        if (out_dst_) {
            UniqueFd m(::fcntl(master_.get(), F_DUPFD_CLOEXEC, 3));
            if (!m) throw_errno("dup pty master");
            out_ = std::make_unique<Copier>(loop_, std::move(m), std::move(out_dst_));
        }
    } else {
        if (in_src_) {
            set_nonblock(in_pipe_.get());
            in_ = std::make_unique<Copier>(loop_, std::move(in_src_), std::move(in_pipe_));
        }
        if (out_dst_) {
            set_nonblock(out_pipe_.get());
            out_ = std::make_unique<Copier>(loop_, std::move(out_pipe_), std::move(out_dst_));
        }
        if (err_dst_) {
            set_nonblock(err_pipe_.get());
            err_ = std::make_unique<Copier>(loop_, std::move(err_pipe_), std::move(err_dst_));
        }
    }
    for (auto* c : {in_.get(), out_.get(), err_.get()})
        if (c) c->start();
}

void ProcessIo::close_stdin() {
    // What was already read goes in first; then the process sees EOF.
    if (in_) in_->drain(100);
    in_.reset();
    in_src_.reset();
    in_pipe_.reset();
}

void ProcessIo::resize(unsigned width, unsigned height) {
    if (!master_) return;
    winsize ws{};
    ws.ws_col = static_cast<unsigned short>(width);
    ws.ws_row = static_cast<unsigned short>(height);
    if (::ioctl(master_.get(), TIOCSWINSZ, &ws) < 0) throw_errno("resize pty");
}

void ProcessIo::finish() {
    in_.reset();
    if (out_) out_->drain(2000);
    if (err_) err_->drain(2000);
    out_.reset();
    err_.reset();
    master_.reset();
    console_ours_.reset();
    in_src_.reset();
    out_dst_.reset();
    err_dst_.reset();
}

} // namespace berth::shim
