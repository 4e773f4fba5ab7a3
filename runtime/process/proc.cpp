#include "proc.hpp"

#include "error.hpp"
#include "file_util.hpp"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace berth {

std::optional<ProcStat> read_proc_stat(pid_t pid) {
    std::string s;
    try {
        s = read_file("/proc/" + std::to_string(pid) + "/stat");
    } catch (const Error&) {
        return std::nullopt;
    }
    // comm (field 2) may hold spaces and parens: fields resume after the last ')'.
    auto close = s.rfind(')');
    if (close == std::string::npos || close + 2 >= s.size()) return std::nullopt;
    ProcStat st;
    st.state = s[close + 2];
    // Field 3 is the state; start_time is field 22, i.e. 19 more fields on.
    const char* p = s.c_str() + close + 2;
    for (int field = 3; field < 22 && *p; ++field) {
        p = std::strchr(p, ' ');
        if (!p) return std::nullopt;
        ++p;
    }
    st.start_time = std::strtoull(p, nullptr, 10);
    return st;
}

bool process_alive(pid_t pid, uint64_t start_time) {
    if (pid <= 0) return false;
    auto st = read_proc_stat(pid);
    return st && st->state != 'Z' && st->state != 'X' && st->start_time == start_time;
}

namespace {
constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;   // linux/sched.h, which clashes with <sched.h>
}

pid_t clone_pidfd(uint64_t flags, int* pidfd, int cgroup_fd) {
    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
            cgroup;
    } args{};
    args.flags = flags | CLONE_PIDFD | (cgroup_fd >= 0 ? kCloneIntoCgroup : 0);
    args.pidfd = reinterpret_cast<uint64_t>(pidfd);
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(cgroup_fd >= 0 ? cgroup_fd : 0);
    long r = ::syscall(SYS_clone3, &args, sizeof args);
    if (r < 0) throw_errno("clone3");
    return static_cast<pid_t>(r);
}

pid_t pidfd_pid(int pidfd) {
    std::string info = read_file("/proc/self/fdinfo/" + std::to_string(pidfd));
    auto pos = info.find("\nPid:");
    if (pos == std::string::npos) throw Error(EINVAL, "fd " + std::to_string(pidfd) + " is not a pidfd");
    return static_cast<pid_t>(std::strtol(info.c_str() + pos + 5, nullptr, 10));
}

UniqueFd pidfd_open(pid_t pid) {
    return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

bool pidfd_signal(int pidfd, int sig) {
    if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) < 0) {
        if (errno == ESRCH) return false;
        throw_errno("send signal " + std::to_string(sig));
    }
    return true;
}

bool pidfd_wait_exit(int pidfd, int timeout_ms) {
    pollfd p{pidfd, POLLIN, 0};
    for (;;) {
        int r = ::poll(&p, 1, timeout_ms);
        if (r > 0) return true;
        if (r == 0) return false;
        if (errno != EINTR) throw_errno("poll pidfd");
    }
}

} // namespace berth
