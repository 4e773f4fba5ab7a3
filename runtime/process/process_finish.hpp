// The last steps shared by a container's init and an exec'd process, from
// capabilities to the point just before execve: rlimits, personality, cwd,
// umask, the fd purge, seccomp, capabilities, user, no_new_privs and LSM
// labels, in runc's order. Everything after the filter is loaded is what
// runc does then too, so any profile that runs under runc runs here.
#pragma once

#include "config.hpp"
#include "seccomp.hpp"
#include "sync.hpp"

#include <string>
#include <vector>

namespace berth {

struct ProcessFinish {
    const spec::Process* process = nullptr;
    const spec::Linux* linux = nullptr;
    const SeccompFilter* seccomp = nullptr;   // null: no filter
    const SyncSocket* sync = nullptr;         // for warnings and the seccomp notify fd
    unsigned preserve_fds = 0;
    bool setgroups_denied = false;            // rootless: /proc/PID/setgroups says deny
};

// Returns the resolved executable; fills env. Throws Error naming the field.
std::string finish_process(const ProcessFinish& f, std::vector<std::string>& env);

} // namespace berth
