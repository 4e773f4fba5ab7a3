// An attach session (monitor.proto): a SOCK_SEQPACKET connection the shim
// made to a manager's socket. Output goes out as packets of one stream
// byte and data; packets coming in are stdin. Non-blocking both ways and
// bounded: a session that falls max_queued behind is dropped, so a slow
// client never slows the container.
#pragma once

#include "cri_log.hpp"
#include "event_loop.hpp"
#include "fd.hpp"

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace berth::shim {

class InputRelay;

struct AttachOptions {
    bool in = false, out = false, err = false;
    bool stdin_once = false;   // the end of this session's input closes stdin
};

class AttachSession {
public:
    static constexpr size_t max_queued = 1 << 20;
    static constexpr size_t max_packet = 32 * 1024;

    // Connects to the client's socket at path. input: where stdin goes
    // (required when opts.in). Throws Error naming the path.
    AttachSession(EventLoop& loop, const std::string& path, AttachOptions opts, InputRelay* input);
    ~AttachSession();
    AttachSession(const AttachSession&) = delete;
    AttachSession& operator=(const AttachSession&) = delete;

    void send(Stream s, std::string_view data);
    // The process is gone: send what is queued, then close (after
    // timeout_ms at the latest). Returns at once: the loop sends the rest.
    void finish(int timeout_ms);
    bool closed() const { return !fd_; }
    // The input relay has room again (or none: paused).
    void set_input_paused(bool paused);
    // The input relay went away (stdin closed): stop reading input.
    void input_gone();

private:
    void on_event(uint32_t ev);
    void read_input();
    void end_input();
    // The client left (or was dropped): its input ends too (stdin_once).
    void gone();
    void update();
    void close();
    EventLoop& loop_;
    UniqueFd fd_;
    AttachOptions opts_;
    InputRelay* input_;
    bool input_paused_ = false, input_done_ = false;
    bool finishing_ = false;
    std::unique_ptr<Timer> finish_timer_;
    std::deque<std::string> queue_;
    size_t queued_ = 0;
    uint32_t watched_ = 0;
};

} // namespace berth::shim
