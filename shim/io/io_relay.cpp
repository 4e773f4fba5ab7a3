#include "io_relay.hpp"

#include "binary_logger.hpp"
#include "error.hpp"
#include "file_util.hpp"
#include "log.hpp"
#include "terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>

#include <algorithm>

namespace berth::shim {

namespace {

constexpr size_t fifo_buffer_cap = 64 * 1024;

void set_nonblock(int fd) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) throw_errno("set O_NONBLOCK");
}

long now_ms() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool has_scheme(const std::string& uri, const char* scheme) { return uri.rfind(scheme, 0) == 0; }

// A FIFO path or file:// (fifo:// as an alias); other schemes are handled
// before this.
std::string local_path(const std::string& uri) {
    if (has_scheme(uri, "file://") || has_scheme(uri, "fifo://")) return uri.substr(7);
    if (uri.find("://") != std::string::npos) throw Error(ENOTSUP, "stdio " + uri + ": unsupported scheme");
    return uri;
}

// The write side for output; a regular file is appended to. A FIFO gets,
// besides the writer, a reader of our own (`keeper`), as containerd's runc
// shim holds one: with it, neither the open nor a write waits or fails for
// want of the manager's reader, which may come later or go and come back
// (a containerd restart). reader_seen: the manager's reader was there
// already (the usual case: it opens before it asks for the process).
UniqueFd open_output(const std::string& uri, UniqueFd& keeper, bool& reader_seen) {
    std::string path = local_path(uri);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) {
        UniqueFd w(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        if (!w && errno != ENXIO) throw_errno("open stdio " + path);
        reader_seen = static_cast<bool>(w);
        keeper.reset(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        if (!keeper) throw_errno("open stdio " + path);
        if (!w) w.reset(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        if (!w) throw_errno("open stdio " + path);
        return w;
    }
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640));
    if (!fd) throw_errno("open stdio " + path);
    reader_seen = true;
    return fd;
}

// Whether a FIFO (or pipe) written through fd has a reader.
bool has_reader(int fd) {
    pollfd p{fd, POLLOUT, 0};
    return ::poll(&p, 1, 0) >= 0 && !(p.revents & POLLERR);
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

UniqueFd dup_fd(int fd, const char* what) {
    UniqueFd d(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
    if (!d) throw_errno(std::string("dup ") + what);
    return d;
}

// Watch fd for events while `want` holds; `watched` remembers which.
void watch(EventLoop& loop, int fd, uint32_t events, bool want, bool& watched, EventLoop::Handler h) {
    if (want == watched) return;
    if (want) loop.add(fd, events, std::move(h));
    else loop.remove(fd);
    watched = want;
}

std::string k8s_path(const std::string& uri) {
    std::string p = uri.substr(std::string("k8s-file://").size());
    if (p.empty() || p[0] != '/') throw Error(EINVAL, "stdio " + uri + ": the log path must be absolute");
    return p;
}

} // namespace

// --- OutputRelay

OutputRelay::OutputRelay(EventLoop& loop, UniqueFd src, Stream stream, UniqueFd fifo, UniqueFd keeper,
                         bool reader_seen, std::shared_ptr<CriLog> log,
                         std::vector<std::unique_ptr<AttachSession>>& sessions)
    : loop_(loop), src_(std::move(src)), fifo_(std::move(fifo)), keeper_(std::move(keeper)), stream_(stream),
      log_(std::move(log)), sessions_(sessions), reader_seen_(reader_seen) {
    struct stat st;
    fifo_is_pipe_ = fifo_ && ::fstat(fifo_.get(), &st) == 0 && S_ISFIFO(st.st_mode);
}

OutputRelay::~OutputRelay() { close(); }

void OutputRelay::start() { update(); }

void OutputRelay::update() {
    if (eof_ && src_) end_src();
    // Backpressure from the FIFO only: logs and attach sessions never wait.
    bool want_src = src_ && buf_.size() < fifo_buffer_cap;
    bool want_fifo = fifo_ && !buf_.empty();
    watch(loop_, src_.get(), EPOLLIN, want_src, src_watched_, [this](uint32_t) { on_src(); });
    watch(loop_, fifo_.get(), EPOLLOUT, want_fifo, fifo_watched_, [this](uint32_t) { on_fifo(); });
    if (src_ || !buf_.empty()) return;
    // All read and handed to the FIFO. Closing it tells the manager's
    // reader EOF, once that reader has everything: so it waits for
    //  - the reader to be there: one that opens after the last writer
    //    closed would wait for a writer for good (containerd opens its
    //    readers from goroutines, which can come after a quick exec is
    //    over); one that was there and left will not be back;
    //  - the reader to take what is queued: a client that tears its reader
    //    down when it learns of the exit (ctr does) would lose the rest.
    // Our own reader goes first, or it would count. Polled (neither wakes a
    // writer): every ms at first, as the exit waits on it, then less often.
    // Before the exit (the process closed its output) it waits for that.
    if (fifo_ && fifo_is_pipe_) {
        keeper_.reset();
        bool reader = has_reader(fifo_.get());
        reader_seen_ = reader_seen_ || reader;
        if ((!reader && !reader_seen_) || (reader && unread() > 0)) {
            if (draining_ && !poll_) {
                poll_ = std::make_unique<Timer>(loop_, poll_ms_, [this] {
                    poll_.reset();
                    if (++polls_ >= 16) poll_ms_ = std::min(poll_ms_ * 2, 16);
                    update();
                });
            }
            return;
        }
    }
    close();
    if (draining_) finished();
}

void OutputRelay::deliver(std::string_view data) {
    if (fifo_) buf_.append(data);
    if (log_) log_->write(stream_, data);
    for (auto& s : sessions_) s->send(stream_, data);
}

void OutputRelay::on_src() {
    // What the pipe held at the exit is at most its size; more means a
    // process left behind (a background child) still writes: stop there.
    constexpr size_t max_drain = 4 << 20;
    char tmp[16384];
    size_t room = fifo_ ? fifo_buffer_cap - buf_.size() : sizeof tmp;
    ssize_t n = ::read(src_.get(), tmp, std::min(room, sizeof tmp));
    if (n > 0) {
        deliver(std::string_view(tmp, static_cast<size_t>(n)));
        if (draining_ && (drained_ += static_cast<size_t>(n)) >= max_drain) eof_ = true;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        eof_ = true;   // EIO: the pty's slave is gone
    }
    if (fifo_ && !flush()) drop_fifo();
    update();
}

void OutputRelay::on_fifo() {
    if (!flush()) drop_fifo();
    update();
}

// The FIFO's reader is gone: without other sinks the process gets EPIPE,
// as it would writing to the FIFO itself.
void OutputRelay::drop_fifo() {
    buf_.clear();
    if (fifo_watched_) loop_.remove(fifo_.get());
    fifo_watched_ = false;
    fifo_.reset();
    keeper_.reset();
    if (!log_) eof_ = true;
}

void OutputRelay::end_src() {
    if (src_watched_) loop_.remove(src_.get());
    src_watched_ = false;
    src_.reset();
    if (log_) log_->finish(stream_);
}

size_t OutputRelay::unread() const {
    int queued = 0;
    if (!fifo_is_pipe_ || ::ioctl(fifo_.get(), FIONREAD, &queued) < 0) return 0;
    return static_cast<size_t>(std::max(queued, 0));
}

bool OutputRelay::flush() {
    while (!buf_.empty()) {
        ssize_t n = ::write(fifo_.get(), buf_.data(), buf_.size());
        if (n > 0) {
            buf_.erase(0, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return n < 0 && errno == EAGAIN;   // EPIPE: the reader is gone
    }
    return true;
}

void OutputRelay::drain(int timeout_ms, std::function<void()> done) {
    draining_ = true;
    update();   // closes at once when nothing is left
    if (closed()) return;
    done_ = std::move(done);
    deadline_ = std::make_unique<Timer>(loop_, timeout_ms, [this] {
        deadline_.reset();
        close();
        finished();
    });
}

void OutputRelay::finished() {
    // done may end us: nothing of ours is touched after it.
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done();
}

void OutputRelay::close_now() {
    // What the pipe holds now; a writer left behind may never stop.
    int pipe_size = src_ ? ::fcntl(src_.get(), F_GETPIPE_SZ) : 0;
    const size_t max_copy = pipe_size > 0 ? static_cast<size_t>(pipe_size) : 64 * 1024;
    size_t taken = 0;
    char tmp[16384];
    while (src_ && taken < max_copy) {
        ssize_t n = ::read(src_.get(), tmp, sizeof tmp);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        deliver(std::string_view(tmp, static_cast<size_t>(n)));
        taken += static_cast<size_t>(n);
        if (fifo_ && !flush()) drop_fifo();
    }
    if (fifo_) flush();
    close();
}

void OutputRelay::close() {
    if (src_) end_src();
    if (fifo_watched_) loop_.remove(fifo_.get());
    fifo_watched_ = false;
    fifo_.reset();
    keeper_.reset();
    buf_.clear();
    poll_.reset();
    deadline_.reset();
}

// --- InputRelay

InputRelay::InputRelay(EventLoop& loop, UniqueFd dst) : loop_(loop), dst_(std::move(dst)) {}

InputRelay::~InputRelay() {
    for (auto* s : sessions_) s->input_gone();
    sessions_.clear();
    if (fifo_watched_) loop_.remove(fifo_.get());
    if (dst_watched_) loop_.remove(dst_.get());
}

void InputRelay::set_fifo(UniqueFd fifo) {
    fifo_ = std::move(fifo);
    update();
}

void InputRelay::add_session(AttachSession* s) {
    sessions_.push_back(s);
    s->set_input_paused(paused_);
}

void InputRelay::remove_session(AttachSession* s) { std::erase(sessions_, s); }

void InputRelay::push(std::string_view data) {
    if (!dst_) return;
    buf_.append(data);
    on_dst();
}

void InputRelay::on_fifo() {
    char tmp[16384];
    size_t room = cap - std::min(cap, buf_.size());
    if (room == 0) return update();   // (not watched while full; a 0-byte read would look like EOF)
    ssize_t n = ::read(fifo_.get(), tmp, std::min(sizeof tmp, room));
    if (n > 0) {
        push(std::string_view(tmp, static_cast<size_t>(n)));
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    // The manager closed its end: the process sees EOF once the rest is in.
    end(100);
}

void InputRelay::on_dst() {
    while (!buf_.empty() && dst_) {
        ssize_t n = ::write(dst_.get(), buf_.data(), buf_.size());
        if (n > 0) {
            buf_.erase(0, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        // EPIPE: the process closed its stdin; what comes later is lost.
        buf_.clear();
        end(0);
        return;
    }
    update();
}

void InputRelay::update() {
    bool want_fifo = fifo_ && dst_ && buf_.size() < cap;
    bool want_dst = dst_ && !buf_.empty();
    watch(loop_, fifo_.get(), EPOLLIN, want_fifo, fifo_watched_, [this](uint32_t) { on_fifo(); });
    watch(loop_, dst_.get(), EPOLLOUT, want_dst, dst_watched_, [this](uint32_t) { on_dst(); });
    bool paused = !room();
    if (paused != paused_) {
        paused_ = paused;
        for (auto* s : std::vector<AttachSession*>(sessions_)) s->set_input_paused(paused);
    }
}

void InputRelay::end(int timeout_ms) {
    if (!dst_) return;
    long deadline = now_ms() + timeout_ms;
    while (!buf_.empty()) {
        ssize_t n = ::write(dst_.get(), buf_.data(), buf_.size());
        if (n > 0) {
            buf_.erase(0, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        long left = deadline - now_ms();
        if (n == 0 || errno != EAGAIN || left <= 0) break;
        pollfd p{dst_.get(), POLLOUT, 0};
        ::poll(&p, 1, static_cast<int>(left));
    }
    buf_.clear();
    if (fifo_watched_) loop_.remove(fifo_.get());
    if (dst_watched_) loop_.remove(dst_.get());
    fifo_watched_ = dst_watched_ = false;
    fifo_.reset();
    dst_.reset();
    for (auto* s : std::vector<AttachSession*>(sessions_)) s->input_gone();
    sessions_.clear();
}

// --- ProcessIo

std::unique_ptr<ProcessIo> ProcessIo::open(EventLoop& loop, const StdioRequest& req, ChildStdio& child) {
    std::unique_ptr<ProcessIo> io(new ProcessIo(loop));
    io->terminal_ = req.terminal;
    const bool binary = has_scheme(req.out, "binary://");
    if (binary && !req.err.empty() && req.err != req.out)
        throw Error(EINVAL, "stdio: a binary:// logger takes both stdout and stderr (stderr is " + req.err + ")");

    if (req.in == "pipe://") io->in_held_ = true;
    else if (!req.in.empty()) io->in_src_ = open_input(req.in);

    // Outputs: one CRI log per path, shared by stdout and stderr.
    if (has_scheme(req.out, "k8s-file://")) io->out_log_ = std::make_shared<CriLog>(k8s_path(req.out));
    if (!req.terminal && has_scheme(req.err, "k8s-file://")) {
        if (io->out_log_ && req.err == req.out) io->err_log_ = io->out_log_;
        else io->err_log_ = std::make_shared<CriLog>(k8s_path(req.err));
    }
    BinaryLogger logger;
    if (binary) logger = start_binary_logger(req.out, req.container_id, req.ns);
    if (!binary && !io->out_log_ && !req.out.empty())
        io->out_dst_ = open_output(req.out, io->out_keeper_, io->out_reader_seen_);
    if (!req.terminal && !binary && !io->err_log_ && !req.err.empty())
        io->err_dst_ = open_output(req.err, io->err_keeper_, io->err_reader_seen_);
    const bool want_out = binary || io->out_log_ || io->out_dst_;
    const bool want_err = !req.terminal && (binary || io->err_log_ || io->err_dst_);

    if (req.terminal) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) throw_errno("socketpair");
        io->console_ours_.reset(sv[0]);
        child.console.reset(sv[1]);
        // The pty replaces 0-2 in the process; until then they are /dev/null.
        child.in = dev_null(O_RDONLY);
        child.out = dev_null(O_WRONLY);
        child.err = dev_null(O_WRONLY);
        // The pty's output goes into the logger's stdout pipe, copied here.
        if (binary) io->out_dst_ = std::move(logger.out);
        return io;
    }
    if (io->in_src_ || io->in_held_) make_pipe(child.in, io->in_pipe_);
    else child.in = dev_null(O_RDONLY);
    if (binary) {
        child.out = std::move(logger.out);
        child.err = std::move(logger.err);
        return io;
    }
    if (want_out) make_pipe(io->out_pipe_, child.out);
    else child.out = dev_null(O_WRONLY);
    if (want_err) make_pipe(io->err_pipe_, child.err);
    else child.err = dev_null(O_WRONLY);
    return io;
}

ProcessIo::~ProcessIo() = default;

void ProcessIo::start() {
    UniqueFd in_dst, out_src, err_src;
    if (terminal_) {
        // The runtime sent the master during setup: it is queued by now.
        pollfd p{console_ours_.get(), POLLIN, 0};
        if (::poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) master_ = recv_fd(console_ours_.get());
        console_ours_.reset();
        if (!master_) throw Error(EPROTO, "terminal: the runtime sent no pty master");
        set_nonblock(master_.get());
        if (in_src_ || in_held_) in_dst = dup_fd(master_.get(), "pty master");
        if (out_dst_ || out_log_) out_src = dup_fd(master_.get(), "pty master");
    } else {
        in_dst = std::move(in_pipe_);
        out_src = std::move(out_pipe_);
        err_src = std::move(err_pipe_);
    }
    if (in_dst) {
        set_nonblock(in_dst.get());
        in_ = std::make_unique<InputRelay>(loop_, std::move(in_dst));
        if (in_src_) in_->set_fifo(std::move(in_src_));
    }
    if (out_src) {
        set_nonblock(out_src.get());
        out_ = std::make_unique<OutputRelay>(loop_, std::move(out_src), Stream::stdout_, std::move(out_dst_),
                                             std::move(out_keeper_), out_reader_seen_, out_log_, sessions_);
        out_->start();
    }
    if (err_src) {
        set_nonblock(err_src.get());
        err_ = std::make_unique<OutputRelay>(loop_, std::move(err_src), Stream::stderr_, std::move(err_dst_),
                                             std::move(err_keeper_), err_reader_seen_, err_log_, sessions_);
        err_->start();
    }
}

void ProcessIo::close_stdin() {
    // What was already read goes in first; then the process sees EOF.
    if (in_) in_->end(100);
    in_src_.reset();
    in_pipe_.reset();
    in_held_ = false;
}

void ProcessIo::resize(unsigned width, unsigned height) {
    if (!master_) return;
    winsize ws{};
    ws.ws_col = static_cast<unsigned short>(width);
    ws.ws_row = static_cast<unsigned short>(height);
    if (::ioctl(master_.get(), TIOCSWINSZ, &ws) < 0) throw_errno("resize pty");
}

void ProcessIo::attach(const std::string& socket, const AttachOptions& opts) {
    std::erase_if(sessions_, [](const auto& s) { return s->closed(); });
    if (opts.in && (!in_ || in_->ended()))
        throw Error(in_ ? EPIPE : EINVAL, in_ ? "attach: stdin is closed"
                                              : "attach: the process has no stdin (create it with stdin pipe://)");
    sessions_.push_back(std::make_unique<AttachSession>(loop_, socket, opts, in_.get()));
}

void ProcessIo::reopen_log() {
    if (!out_log_ && !err_log_) throw Error(ENOENT, "reopen log: the process has no k8s-file log");
    if (out_log_) out_log_->reopen();
    if (err_log_ && err_log_ != out_log_) err_log_->reopen();
}

bool ProcessIo::drained() const { return (!out_ || out_->closed()) && (!err_ || err_->closed()); }

bool ProcessIo::drain(std::function<void()> done, int timeout_ms) {
    // Nothing goes in any more.
    in_.reset();
    auto one = [this] { stream_drained(); };
    if (out_) out_->drain(timeout_ms, one);
    if (err_) err_->drain(timeout_ms, one);
    if (!drained()) {
        drained_cb_ = std::move(done);
        return false;
    }
    end_sessions();
    return true;
}

void ProcessIo::stream_drained() {
    if (!drained()) return;
    end_sessions();
    // The callback may end us: nothing of ours is touched after it.
    auto done = std::move(drained_cb_);
    drained_cb_ = nullptr;
    if (done) done();
}

void ProcessIo::end_sessions() {
    // Every byte of output is in their queues: they send it and close on
    // their own (or are cut after 500 ms).
    for (auto& s : sessions_) s->finish(500);
}

void ProcessIo::finish() {
    drained_cb_ = nullptr;
    in_.reset();
    if (out_) out_->close_now();
    if (err_) err_->close_now();
    out_.reset();
    err_.reset();
    sessions_.clear();
    out_log_.reset();
    err_log_.reset();
    master_.reset();
    console_ours_.reset();
    in_src_.reset();
    out_dst_.reset();
    err_dst_.reset();
    out_keeper_.reset();
    err_keeper_.reset();
}

} // namespace berth::shim
