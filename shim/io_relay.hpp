// A process's stdio as berth-shim holds it: pipes (or a pty master from
// the console socket) between the process and the manager's FIFOs, copied
// in the event loop with backpressure (a full FIFO stops reading the pipe).
#pragma once

#include "event_loop.hpp"
#include "fd.hpp"

#include <memory>
#include <string>

namespace berth::shim {

// One direction, src -> dst, both non-blocking.
class Copier {
public:
    Copier(EventLoop& loop, UniqueFd src, UniqueFd dst);
    ~Copier();
    Copier(const Copier&) = delete;
    Copier& operator=(const Copier&) = delete;
    void start();
    // The process is gone: copy what src still holds (bounded by
    // timeout_ms for a reader that does not read), then close both ends.
    void drain(int timeout_ms);
    void close();
    bool closed() const { return !src_ && !dst_; }

private:
    void on_src();
    void on_dst();
    bool flush();   // false: dst is gone
    void update();
    EventLoop& loop_;
    UniqueFd src_, dst_;
    std::string buf_;
    bool eof_ = false;
    bool src_watched_ = false, dst_watched_ = false;
};

// The ends a new process gets as its fds 0-2 (or, with a terminal, the
// socket its runtime sends the pty master over).
struct ChildStdio {
    UniqueFd in, out, err;
    UniqueFd console;   // terminal: the runtime's end of the console socketpair
};

class ProcessIo {
public:
    // Opens the FIFOs (or files) named by the manager; empty paths mean
    // /dev/null. Fills `child` with what the process is given.
    static std::unique_ptr<ProcessIo> open(EventLoop& loop, const std::string& in, const std::string& out,
                                           const std::string& err, bool terminal, ChildStdio& child);
    ~ProcessIo();
    // After the process exists (the child's ends are closed here by then):
    // receive the pty master if any and start copying.
    void start();
    void close_stdin();
    void resize(unsigned width, unsigned height);
    // The process exited: flush what it wrote, close the FIFOs.
    void finish();

private:
    explicit ProcessIo(EventLoop& loop) : loop_(loop) {}
    EventLoop& loop_;
    bool terminal_ = false;
    UniqueFd in_src_, out_dst_, err_dst_;   // FIFO ends, until start()
    UniqueFd in_pipe_, out_pipe_, err_pipe_; // our pipe ends, until start()
    UniqueFd console_ours_, master_;
    std::unique_ptr<Copier> in_, out_, err_;
};

} // namespace berth::shim
