// linux.seccomp with libseccomp. The filter is built in the parent before
// the clone, so a bad profile fails with the field at fault before anything
// exists; the init loads its copy as late as the spec allows.
//
// As runc does, a syscall newer than every one the profile names (a larger
// number, per architecture) gets ENOSYS rather than the default action,
// unless that action lets syscalls through (allow, log, trace): libc falls
// back from clone3, faccessat2 and the like only on ENOSYS. This is a stub
// prepended to libseccomp's BPF program (runc's "patchbpf").
#pragma once

#include "config.hpp"
#include "fd.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace berth {

class SeccompFilter {
public:
    // Throws Error naming the field ("linux.seccomp.syscalls[2].action: ...").
    // Unknown syscall names are skipped and reported through debug, as runc
    // does, so one profile serves kernels of different ages.
    static std::unique_ptr<SeccompFilter> build(const spec::Seccomp& s,
                                                const std::function<void(const std::string&)>& debug);
    SeccompFilter(const SeccompFilter&) = delete;
    SeccompFilter& operator=(const SeccompFilter&) = delete;

    // Install the filter in the calling process: one seccomp(2) call. With
    // SCMP_ACT_NOTIFY rules, returns the listener fd (close-on-exec).
    UniqueFd load() const;
    bool uses_notify() const { return notify_; }
    // The BPF program as loaded, stub first (8-byte sock_filter entries).
    const std::vector<uint64_t>& program() const { return prog_; }

private:
    SeccompFilter() = default;
    std::vector<uint64_t> prog_;   // struct sock_filter, as raw 8-byte words
    unsigned flags_ = 0;           // SECCOMP_FILTER_FLAG_*
    bool notify_ = false;
};

// For `berth features`.
const std::vector<std::string>& seccomp_action_names();
const std::vector<std::string>& seccomp_operator_names();
const std::vector<std::string>& seccomp_arch_names();
const std::vector<std::string>& seccomp_known_flags();
std::vector<std::string> seccomp_supported_flags();

// The runtime spec's containerProcessState: what the seccomp agent gets
// with the listener fd. `pid` is the process that loaded the filter (the
// init, or an exec'd process); `state_json` the container's state.
std::string container_process_state_json(const spec::Seccomp& s, pid_t pid, const std::string& state_json);
// Send the notify fd and that state to listenerPath over SCM_RIGHTS (one
// message; the fd is "seccompFd" in "fds").
void send_to_seccomp_listener(const spec::Seccomp& s, int notify_fd, const std::string& state_json, pid_t pid);

} // namespace berth
