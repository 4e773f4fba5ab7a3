// The child side of `exec`: from the clone to the execve of a process in
// an existing container. Like the init it never returns, and reports
// failure over the sync socket with errno and context.
#pragma once

#include "cgroup.hpp"
#include "config.hpp"
#include "seccomp.hpp"
#include "sync.hpp"

#include <signal.h>

#include <string>

namespace berth {

struct ExecInitArgs {
    const spec::Process* process = nullptr;
    const spec::Linux* linux = nullptr;
    std::string id;
    SyncSocket sync;                 // the child's end
    int init_pidfd = -1;             // the container's init: namespaces are joined through it
    int root_fd = -1;                // the init's root (/proc/PID/root): chrooted into once joined
    int ns_flags = 0;                // CLONE_NEW* to join (pid only when pid_in_child)
    bool pid_in_child = false;       // the parent could not join the pid namespace for us (unprivileged):
                                     // join it here and fork once more into it
    bool userns = false;             // the container has its own user namespace
    int console_fd = -1;             // connected console socket for process.terminal
    unsigned preserve_fds = 0;
    bool no_new_keyring = false;
    bool setgroups_denied = false;
    const cgroup::Manager* cgroup = nullptr;   // joined (v1) by the child itself
    const SeccompFilter* seccomp = nullptr;
    sigset_t sigmask;
};

[[noreturn]] void exec_init(ExecInitArgs& a);

} // namespace berth
