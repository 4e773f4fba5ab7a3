// A process's stdio as berth-shim holds it. The process gets pipes (or a
// pty, its master sent over the console socket); the shim copies in the
// event loop between them and what the manager named:
//   output: containerd's FIFO or a file:// (backpressure: a full FIFO stops
//           reading the pipe), a k8s-file:// CRI log (never waits), a
//           binary:// logger (given the pipes themselves), and any attach
//           sessions (never wait; dropped when they fall behind);
//   input:  containerd's FIFO, or pipe:// held open for attach sessions.
#pragma once

#include "attach.hpp"
#include "cri_log.hpp"
#include "event_loop.hpp"
#include "fd.hpp"

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace berth::shim {

class InputRelay;

// One output stream of a process: src (the pipe or pty master) to its sinks.
class OutputRelay {
public:
    // fifo: the sink with backpressure (a FIFO, a file, a logger's pipe);
    // keeper: our own reader of that FIFO, if any; reader_seen: the
    // manager's reader was there when it was opened.
    OutputRelay(EventLoop& loop, UniqueFd src, Stream stream, UniqueFd fifo, UniqueFd keeper, bool reader_seen,
                std::shared_ptr<CriLog> log, std::vector<std::unique_ptr<AttachSession>>& sessions);
    ~OutputRelay();
    OutputRelay(const OutputRelay&) = delete;
    OutputRelay& operator=(const OutputRelay&) = delete;
    void start();
    // The process is gone: copy what src still gives until its EOF, then
    // let the FIFO's reader take what is queued; close once that is done or
    // timeout_ms have passed, dropping what is left. Nothing here waits:
    // `done` is called from the loop once closed, unless closed() already
    // holds when this returns.
    void drain(int timeout_ms, std::function<void()> done);
    bool closed() const { return !src_ && !fifo_; }
    // Close now: copy what src holds and the FIFO takes without waiting,
    // drop the rest.
    void close_now();
    void close();

private:
    void on_src();
    void on_fifo();
    void deliver(std::string_view data);
    bool flush();   // false: the FIFO's reader is gone
    void drop_fifo();
    void end_src();
    size_t unread() const;   // what the FIFO's reader has yet to take
    void update();
    void finished();
    EventLoop& loop_;
    UniqueFd src_, fifo_, keeper_;
    Stream stream_;
    std::shared_ptr<CriLog> log_;
    std::vector<std::unique_ptr<AttachSession>>& sessions_;
    std::string buf_;   // for the FIFO
    bool fifo_is_pipe_ = false;
    bool reader_seen_;
    bool eof_ = false;
    bool src_watched_ = false, fifo_watched_ = false;
    // After the exit.
    bool draining_ = false;
    size_t drained_ = 0;   // bytes read since the exit
    int poll_ms_ = 1, polls_ = 0;
    std::unique_ptr<Timer> deadline_, poll_;
    std::function<void()> done_;
};

// Where stdin comes from (the FIFO, attach sessions), buffered (bounded)
// into the process's pipe or pty.
class InputRelay {
public:
    static constexpr size_t cap = 64 * 1024;
    InputRelay(EventLoop& loop, UniqueFd dst);
    ~InputRelay();
    InputRelay(const InputRelay&) = delete;
    InputRelay& operator=(const InputRelay&) = delete;
    // containerd's stdin FIFO: read while there is room; its EOF ends stdin.
    void set_fifo(UniqueFd fifo);
    void add_session(AttachSession* s);
    void remove_session(AttachSession* s);
    bool room() const { return dst_ && buf_.size() < cap; }
    void push(std::string_view data);
    // Close stdin once what is buffered is written (up to timeout_ms).
    void end(int timeout_ms);
    bool ended() const { return !dst_; }

private:
    void on_fifo();
    void on_dst();
    void update();
    EventLoop& loop_;
    UniqueFd dst_, fifo_;
    std::string buf_;
    std::vector<AttachSession*> sessions_;
    bool fifo_watched_ = false, dst_watched_ = false, paused_ = false;
};

// The ends a new process gets as its fds 0-2 (or, with a terminal, the
// socket its runtime sends the pty master over).
struct ChildStdio {
    UniqueFd in, out, err;
    UniqueFd console;   // terminal: the runtime's end of the console socketpair
};

// What the manager asked for: stdio URIs, and who the process is (for a
// binary:// logger's environment).
struct StdioRequest {
    std::string in, out, err;
    bool terminal = false;
    std::string container_id, ns;
};

class ProcessIo {
public:
    // Opens what the request names (empty: /dev/null) and fills `child`
    // with what the process is given. Throws Error naming the URI.
    static std::unique_ptr<ProcessIo> open(EventLoop& loop, const StdioRequest& req, ChildStdio& child);
    ~ProcessIo();
    // After the process exists (the child's ends are closed here by then):
    // receive the pty master if any and start copying.
    void start();
    void close_stdin();
    void resize(unsigned width, unsigned height);
    // A new attach session (monitor.proto). Throws Error (EINVAL for stdin
    // when the process has none, EPIPE once it is closed).
    void attach(const std::string& socket, const AttachOptions& opts);
    // Reopen the k8s-file log(s). Throws Error (ENOENT: no such log).
    void reopen_log();
    // The process exited: each output stream drains (OutputRelay::drain)
    // with its own deadline, timeout_ms from now; then attach sessions get
    // what they have queued (in the background) and close. Never waits:
    // returns true when everything is drained already, else `done` is
    // called from the loop when it is.
    static constexpr int drain_ms = 2000;
    bool drain(std::function<void()> done, int timeout_ms = drain_ms);
    bool drained() const;
    // Close everything now (delete, teardown): what is in the pipes and
    // fits into the FIFOs without waiting still goes; the rest is dropped.
    void finish();

private:
    explicit ProcessIo(EventLoop& loop) : loop_(loop) {}
    void stream_drained();
    void end_sessions();
    EventLoop& loop_;
    bool terminal_ = false;
    UniqueFd in_src_, out_dst_, err_dst_;    // FIFO ends, until start()
    UniqueFd out_keeper_, err_keeper_;        // our readers of the output FIFOs
    bool out_reader_seen_ = true, err_reader_seen_ = true;
    UniqueFd in_pipe_, out_pipe_, err_pipe_;  // our pipe ends, until start()
    bool in_held_ = false;                    // pipe://: stdin stays open for attach
    std::shared_ptr<CriLog> out_log_, err_log_;
    UniqueFd console_ours_, master_;
    std::unique_ptr<InputRelay> in_;
    std::unique_ptr<OutputRelay> out_, err_;
    std::vector<std::unique_ptr<AttachSession>> sessions_;
    std::function<void()> drained_cb_;
};

} // namespace berth::shim
