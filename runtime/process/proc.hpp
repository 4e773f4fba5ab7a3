// Facts about host processes from /proc, and pidfd helpers, so a reused pid
// is never mistaken for a container's init.
#pragma once

#include "fd.hpp"

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace berth {

struct ProcStat {
    char state = '?';            // R, S, D, Z, X, ...
    uint64_t start_time = 0;     // field 22, clock ticks since boot
};

// nullopt when the process does not exist.
std::optional<ProcStat> read_proc_stat(pid_t pid);

// True when pid exists, is not a zombie, and started at start_time.
bool process_alive(pid_t pid, uint64_t start_time);

// pidfd_open; an invalid UniqueFd (errno set) when the process is gone.
UniqueFd pidfd_open(pid_t pid);
// Send a signal through a pidfd. Throws Error on failure other than ESRCH;
// returns false on ESRCH.
bool pidfd_signal(int pidfd, int sig);
// Wait until the process behind pidfd exits; timeout_ms < 0 waits forever.
// Returns false on timeout.
bool pidfd_wait_exit(int pidfd, int timeout_ms);

// clone3 without a new stack: the child returns here like fork(), on a
// private copy of memory, with a pidfd for the parent. cgroup_fd >= 0: the
// child is born in that cgroup (CLONE_INTO_CGROUP).
pid_t clone_pidfd(uint64_t flags, int* pidfd, int cgroup_fd = -1);
// The pid (in our pid namespace) of the process behind a pidfd.
pid_t pidfd_pid(int pidfd);

} // namespace berth
