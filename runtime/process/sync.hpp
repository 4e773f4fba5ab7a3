// The parent <-> container-init channel: one SOCK_SEQPACKET socketpair
// carrying typed messages, so a failure deep in the init reaches the caller
// with its errno and context intact.
#pragma once

#include "fd.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace berth {

enum class SyncType : uint32_t {
    go = 1,     // parent -> init: id maps written; start setting up
    cgroup_joined, // parent -> init: the init is in its cgroup
    ready,      // init -> parent: set up, waiting for start
    error,      // init -> parent: setup failed (errno + context)
    log,        // init -> parent: a debug/warning line to forward
    seccomp_fd, // init -> parent: the seccomp notify fd (attached)
    hooks,      // init -> parent: mounts done, run prestart/createRuntime hooks
    hooks_done, // parent -> init: done; text is the state JSON for the init's hooks
    exec_child, // exec, first stage -> parent: pidfd of the process born in the pid namespace
};

struct SyncMsg {
    SyncType type{};
    int32_t err = 0;        // errno for error
    uint32_t level = 0;     // LogLevel for log; for error, 1 when it came from a syscall
    std::string text;
    UniqueFd fd;            // an attached fd (seccomp_fd)
};

class SyncSocket {
public:
    SyncSocket() = default;
    explicit SyncSocket(UniqueFd fd) : fd_(std::move(fd)) {}

    // Make a connected pair (CLOEXEC both ends).
    static void pair(SyncSocket& a, SyncSocket& b);

    void send(SyncType type, int32_t err = 0, std::string_view text = {}, uint32_t level = 0) const;
    // Send a message carrying one fd (SCM_RIGHTS).
    void send_fd(SyncType type, int fd) const;
    // Blocks. Throws Error(EPIPE) when the peer closed without a message.
    SyncMsg recv() const;
    int fd() const { return fd_.get(); }
    void close() { fd_.reset(); }
    // The init's and exec child's end: send fd-less messages with write(2),
    // the one call a seccomp profile is sure to allow once the filter is
    // loaded (runc needs it too); sendmsg(2) may be refused. A parent gone
    // means SIGPIPE, which is what that process should get then anyway.
    void use_write() { plain_ = true; }

private:
    UniqueFd fd_;
    bool plain_ = false;
};

} // namespace berth
