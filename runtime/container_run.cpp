// `run`: create + start, then (in the foreground) wait for the init,
// forwarding signals, and report its exit status.
#include "container.hpp"
#include "error.hpp"
#include "proc.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

namespace berth {

namespace {

constexpr int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

int wait_forwarding(pid_t pid, int pidfd, const sigset_t& set) {
    UniqueFd sfd(::signalfd(-1, &set, SFD_CLOEXEC));
    if (!sfd) throw_errno("signalfd");
    pollfd fds[2] = {{pidfd, POLLIN, 0}, {sfd.get(), POLLIN, 0}};
    for (;;) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll");
        }
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo si;
            if (::read(sfd.get(), &si, sizeof si) == sizeof si)
                pidfd_signal(pidfd, static_cast<int>(si.ssi_signo));
        }
        if (fds[0].revents & POLLIN) break;
    }
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED) < 0) throw_errno("wait for container init");
    if (info.si_code == CLD_EXITED) return info.si_status;
    return 128 + info.si_status;
}

} // namespace

int run_container(const RuntimeContext& ctx, const std::string& id, const CreateOptions& opts, bool detach,
                  bool keep) {
    sigset_t set, old;
    sigemptyset(&set);
    for (int s : forwarded) sigaddset(&set, s);
    // Blocked before the clone so no signal is lost; the init restores `old`.
    ::sigprocmask(SIG_BLOCK, &set, &old);
    create_container(ctx, id, opts, &old);
    try {
        start_container(ctx, id);
    } catch (...) {
        try { delete_container(ctx, id, true); } catch (...) {}
        throw;
    }
    if (detach) return 0;

    auto info = container_info(ctx, id);
    UniqueFd pidfd = pidfd_open(info.state.pid);
    int status;
    if (!pidfd) {
        siginfo_t si{};
        ::waitid(P_PID, static_cast<id_t>(info.state.pid), &si, WEXITED);
        status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
    } else {
        status = wait_forwarding(info.state.pid, pidfd.get(), set);
    }
    if (!keep) delete_container(ctx, id, true);
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return status;
}

} // namespace berth
