// What `run` and `exec` share in the foreground: forwarding signals to the
// container's process, relaying its pty to berth's stdio, and its status.
#pragma once

#include "fd.hpp"

#include <signal.h>
#include <sys/types.h>

namespace berth {

// The signals a foreground berth forwards (SIGWINCH resizes the pty).
sigset_t forwarded_signals();

// Wait for pid (our child), forwarding the signals in `set` (blocked by the
// caller) and, with a pty master, relaying it to stdio until the process's
// side closes. Returns the exit status, 128+N for signal N.
int wait_foreground(pid_t pid, int pidfd, const sigset_t& set, int master);

// A socketpair standing in for --console-socket when berth itself relays a
// terminal: `theirs` goes to the container, the master arrives on `ours`.
struct OwnConsole {
    UniqueFd ours, theirs;
    static OwnConsole make();
    // The pty master, if one was sent (call after theirs is closed here).
    UniqueFd master() const;
};

} // namespace berth
