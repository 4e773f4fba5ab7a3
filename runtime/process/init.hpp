// The container's init, from the clone until it execs the user's process.
// It runs in the cloned child of a single-threaded berth, never returns, and
// reports failure over the sync socket with errno and context.
#pragma once

#include "cgroup.hpp"
#include "config.hpp"
#include "seccomp.hpp"
#include "sync.hpp"

#include <signal.h>

#include <string>
#include <utility>
#include <vector>

namespace berth {

struct InitArgs {
    const spec::Config* config = nullptr;
    std::string id;
    std::string rootfs;
    std::string bundle;
    SyncSocket sync;               // the init's end
    int fifo_fd = -1;              // exec.fifo, open read-write: start writes one byte
    int console_fd = -1;           // connected --console-socket, for process.terminal
    unsigned preserve_fds = 0;
    bool no_pivot = false;
    bool no_new_keyring = false;
    bool userns = false;           // in a user namespace (new or joined)
    bool new_cgroupns = false;
    bool setgroups_denied = false; // rootless: /proc/PID/setgroups says deny
    bool parent_unprivileged = false;
    bool hook_handshake = false;   // the config has hooks the init or the parent runs before start
    bool debug = false;            // send a debug line to the parent at each step (--debug)
    const cgroup::Manager* cgroup = nullptr;
    const SeccompFilter* seccomp = nullptr;   // built by the parent, loaded here   // non-null: the init joins its v1 cgroups itself
    std::vector<std::pair<cgroup::Hierarchy, std::string>> cgroup_dirs;
    std::vector<int> bind_sources;  // see RootfsContext::bind_sources
    sigset_t sigmask;              // the caller's mask, restored in the init
};

[[noreturn]] void container_init(InitArgs& a);

} // namespace berth
