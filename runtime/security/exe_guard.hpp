// CVE-2019-5736: every process berth clones into a container runs berth's
// own binary until it execs the user's program, and can be made to execute
// that binary again inside the container (a program whose `#!` line is
// /proc/self/exe). Whatever the container can reach through /proc/PID/exe it
// can later open for writing and replace berth on the host. So berth never
// clones into a container from a writable binary: create, run and exec (and
// berth-shim, once, when it starts) re-execute themselves from
//   - a read-only view of the binary: a detached bind mount of it
//     (open_tree + mount_setattr), which costs an exec but no copy, or
//   - where mounts are not permitted (an unprivileged berth), a sealed memfd
//     copy (F_SEAL_WRITE and friends), as crun and runc do.
// Either way /proc/PID/exe leads to a file no one can write.
#pragma once

namespace berth {

enum class ExeView {
    writable,    // the binary on disk as installed: must not reach a container
    read_only,   // on a read-only mount (ours, or the host's own)
    sealed,      // a sealed memfd copy
};

// How this process's binary is reachable through /proc/self/exe.
ExeView exe_view();

// Returns when this process already runs from a read-only view or a sealed
// copy; otherwise re-executes argv from one and does not return. Throws
// Error when neither can be made. Call before any other set-up: the new
// image starts over with the same argv, environment and fds.
void ensure_protected_exe(char** argv);

// Re-executed through an fd, the kernel names the process after it ("3"):
// give it back the name of argv0's last component, which tools look for.
void restore_process_name(const char* argv0);

// Throws unless exe_view() is protected. libberth checks this before it
// clones a process into a container, so no caller can forget.
void require_protected_exe();

} // namespace berth
