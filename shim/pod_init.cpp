#include "pod_init.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace berth::shim {

namespace {

constexpr char init_name[] = "berth-pod-init";

void close_all_fds() {
    if (::syscall(SYS_close_range, 0u, ~0u, 0u) == 0) return;
    for (int fd = 0; fd < 65536; ++fd) ::close(fd);
}

[[noreturn]] void run(int armed_fd, std::span<char> title) {
    // The parent is the shim (CLONE_PARENT): its death kills the pod.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::prctl(PR_SET_NAME, init_name);
    if (!title.empty()) {
        std::memset(title.data(), 0, title.size());
        std::memcpy(title.data(), init_name, std::min(title.size() - 1, sizeof init_name - 1));
    }
    sigset_t all;
    sigfillset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    // Out of the pod's state dir, so nothing keeps it busy.
    if (::chdir("/") < 0) _exit(1);
    // Blocked signals are queued even for a namespace's init (which drops
    // unhandled ones): sigwaitinfo takes them.
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGCHLD);
    sigaddset(&wanted, SIGTERM);
    char ok = 1;
    if (::write(armed_fd, &ok, 1) != 1) _exit(1);
    close_all_fds();
    for (;;) {
        int sig = ::sigwaitinfo(&wanted, nullptr);
        if (sig == SIGTERM) _exit(0);
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
    }
}

} // namespace

pid_t start_pod_init(std::span<char> title) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw_errno("pod init: pipe");
    UniqueFd r(p[0]), w(p[1]);
    // A raw clone without a new stack behaves as fork; CLONE_PARENT makes
    // the shim its parent (the exit signal is ours: SIGCHLD).
    long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (pid < 0) throw_errno("pod init: clone");
    if (pid == 0) {
        r.release();
        run(w.release(), title);
    }
    w.reset();
    char ok = 0;
    ssize_t n;
    do {
        n = ::read(r.get(), &ok, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
        ::kill(static_cast<pid_t>(pid), SIGKILL);
        throw Error(ECHILD, "pod init: died before it was ready");
    }
    return static_cast<pid_t>(pid);
}

} // namespace berth::shim
