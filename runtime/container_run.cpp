// `run`: create + start, then (in the foreground) wait for the init,
// forwarding signals, and report its exit status.
#include "container.hpp"
#include "foreground.hpp"
#include "error.hpp"
#include "proc.hpp"
#include "terminal.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <optional>

namespace berth {

namespace {

constexpr int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

// Copy what is readable from one fd to another; false at EOF or error
// (EIO is how a pty master reports that its slave side is gone).
bool pump(int from, int to) {
    char buf[16384];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
    for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        off += w;
    }
    return true;
}

void copy_winsize(int from, int to) {
    winsize ws;
    if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

// The caller's terminal in raw mode for the relay, restored on scope exit.
class RawMode {
public:
    explicit RawMode(int fd) : fd_(fd) {
        if (::tcgetattr(fd, &saved_) < 0) return;
        termios raw = saved_;
        ::cfmakeraw(&raw);
        active_ = ::tcsetattr(fd, TCSANOW, &raw) == 0;
    }
    ~RawMode() {
        if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
    }

private:
    int fd_;
    termios saved_{};
    bool active_ = false;
};

} // namespace

sigset_t forwarded_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : forwarded) sigaddset(&set, s);
    return set;
}

OwnConsole OwnConsole::make() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) throw_errno("socketpair");
    return OwnConsole{UniqueFd(sv[0]), UniqueFd(sv[1])};
}

UniqueFd OwnConsole::master() const {
    // Nothing arrives (EOF) when the process has no terminal.
    pollfd p{ours.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) return recv_fd(ours.get());
    return UniqueFd();
}

int wait_foreground(pid_t pid, int pidfd, const sigset_t& set, int master) {
    UniqueFd sfd(::signalfd(-1, &set, SFD_CLOEXEC));
    if (!sfd) throw_errno("signalfd");
    std::optional<RawMode> raw;
    if (master >= 0 && ::isatty(0)) {
        raw.emplace(0);
        copy_winsize(0, master);
    }
    pollfd fds[4] = {{pidfd, POLLIN, 0}, {sfd.get(), POLLIN, 0}, {master, POLLIN, 0}, {master >= 0 ? 0 : -1, POLLIN, 0}};
    bool exited = false;
    while (!exited || fds[2].fd >= 0) {
        if (::poll(fds, 4, exited ? 100 : -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll");
        }
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo si;
            if (::read(sfd.get(), &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGWINCH && master >= 0) copy_winsize(0, master);
                else pidfd_signal(pidfd, static_cast<int>(si.ssi_signo));
            }
        }
        if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (!pump(master, 1)) fds[2].fd = -1;
        } else if (exited) {
            fds[2].fd = -1;   // container gone and nothing left to read
        }
        if (fds[3].revents & (POLLIN | POLLHUP)) {
            if (!pump(0, master)) fds[3].fd = -1;
        }
        if (fds[0].revents & POLLIN) {
            exited = true;
            fds[0].fd = -1;
        }
    }
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED) < 0) throw_errno("wait for container init");
    if (info.si_code == CLD_EXITED) return info.si_status;
    return 128 + info.si_status;
}

int run_container(const RuntimeContext& ctx, const std::string& id, const CreateOptions& opts, bool detach,
                  bool keep) {
    sigset_t set = forwarded_signals(), old;
    // Blocked before the clone so no signal is lost; the init restores `old`.
    ::sigprocmask(SIG_BLOCK, &set, &old);
    // A terminal with no console socket: receive the pty master ourselves
    // and relay it, as `runc run` does.
    CreateOptions o = opts;
    OwnConsole own;
    if (o.console_socket.empty() && o.console_fd < 0) {
        own = OwnConsole::make();
        o.console_fd = own.theirs.get();
    }
    pid_t pid = create_container(ctx, id, o, &old);
    own.theirs.reset();
    UniqueFd master;
    if (own.ours) master = own.master();
    try {
        start_container(ctx, id);
    } catch (...) {
        try { delete_container(ctx, id, true); } catch (...) {}
        throw;
    }
    if (detach) return 0;
    BERTH_DEBUG(ctx.log, "run " + id + ": started; waiting for pid " + std::to_string(pid));

    // The init is our child: its pid can't be reused before we reap it.
    UniqueFd pidfd = pidfd_open(pid);
    int status;
    if (!pidfd) {
        siginfo_t si{};
        ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED);
        status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
    } else {
        status = wait_foreground(pid, pidfd.get(), set, master.get());
    }
    BERTH_DEBUG(ctx.log, "run " + id + ": exited with status " + std::to_string(status));
    if (!keep) delete_container(ctx, id, true);
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return status;
}

} // namespace berth
