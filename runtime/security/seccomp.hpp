// linux.seccomp with libseccomp. The filter is built in the parent before
// the clone, so a bad profile fails with the field at fault before anything
// exists; the init loads its copy as late as the spec allows.
#pragma once

#include "config.hpp"
#include "fd.hpp"

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
    ~SeccompFilter();
    SeccompFilter(const SeccompFilter&) = delete;
    SeccompFilter& operator=(const SeccompFilter&) = delete;

    // Install the filter in the calling process.
    void load() const;
    // With SCMP_ACT_NOTIFY rules: the listener fd, after load().
    bool uses_notify() const { return notify_; }
    UniqueFd notify_fd() const;

private:
    explicit SeccompFilter(void* ctx) : ctx_(ctx) {}
    void* ctx_;
    bool notify_ = false;
};

// For `berth features`.
const std::vector<std::string>& seccomp_action_names();
const std::vector<std::string>& seccomp_operator_names();
const std::vector<std::string>& seccomp_arch_names();
const std::vector<std::string>& seccomp_known_flags();
std::vector<std::string> seccomp_supported_flags();

// Send the notify fd and the container process state to listenerPath, as
// the runtime spec describes (the "seccompFd" in "fds").
void send_to_seccomp_listener(const spec::Seccomp& s, int notify_fd, const std::string& state_json, pid_t pid);

} // namespace berth
