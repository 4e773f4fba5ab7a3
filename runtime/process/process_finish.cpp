#include "process_finish.hpp"

#include "capabilities.hpp"
#include "error.hpp"
#include "log.hpp"
#include "lsm.hpp"
#include "process.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

namespace berth {

namespace {

// Mark every fd from `first` up close-on-exec. close_range(2) where the
// kernel (5.11+) and any seccomp filter berth itself runs under allow it;
// else one fcntl per fd listed in /proc/self/fd.
void cloexec_from(unsigned first) {
    if (::syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    if (errno != ENOSYS && errno != EINVAL && errno != EPERM) throw_errno("mark fds close-on-exec");
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) throw_errno("mark fds close-on-exec: open /proc/self/fd");
    int self = ::dirfd(d);
    while (dirent* e = ::readdir(d)) {
        char* end;
        long fd = std::strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || fd < static_cast<long>(first) || fd == self) continue;
        int flags = ::fcntl(static_cast<int>(fd), F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC) && ::fcntl(static_cast<int>(fd), F_SETFD, flags | FD_CLOEXEC) < 0) {
            int err = errno;
            ::closedir(d);
            throw_errno(err, "mark fd " + std::to_string(fd) + " close-on-exec");
        }
    }
    ::closedir(d);
}

// runc's fixStdioPermissions: stdio becomes the process user's, so a
// non-root process can use its terminal and reopen /dev/stdout. Only the
// uid changes: the gid is what the mount chose (devpts gid=5, tty). Unlike
// runc, only what is the container's own is touched: the pty made for it,
// and pipes and sockets (no path on the host). A host file or the caller's
// own terminal passed as stdio keeps its owner: chowning it would hand a
// host uid the caller's tty. Where the kernel refuses (an owner unmapped in
// a user namespace, a read-only /dev) stdio is left as it is, as runc does.
void chown_stdio(uid_t uid, bool own_pty) {
    for (int fd = 0; fd < 3; ++fd) {
        struct stat st;
        if (::fstat(fd, &st) < 0) continue;   // closed
        if (st.st_uid == uid) continue;
        bool ours = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
                    (own_pty && S_ISCHR(st.st_mode) && st.st_rdev != makedev(1, 3));
        if (!ours) continue;
        if (::fchown(fd, uid, st.st_gid) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
            throw_errno("chown stdio fd " + std::to_string(fd) + " to process.user.uid " + std::to_string(uid));
    }
}

} // namespace

std::string finish_process(const ProcessFinish& f, std::vector<std::string>& env) {
    const auto& proc = *f.process;
    auto caps = plan_capabilities(proc, [&](const std::string& w) {
        f.sync->send(SyncType::log, 0, w, static_cast<uint32_t>(LogLevel::warning));
    });
    apply_rlimits(proc);
    apply_personality(*f.linux);
    env = process_env(proc);
    if (::chdir(proc.cwd.c_str()) < 0) throw_errno("process.cwd: chdir " + proc.cwd);
    // A cwd reached through an fd still open to the host (/proc/self/fd/N)
    // would be outside the root: getcwd then fails or says "(unreachable)"
    // (the CVE-2024-21626 class).
    {
        char buf[4096];
        if (!::getcwd(buf, sizeof buf) || buf[0] != '/')
            throw Error(EPERM, "process.cwd: " + proc.cwd + " is outside the container's root");
    }
    ::umask(proc.user.umask.value_or(022));
    chown_stdio(proc.user.uid, proc.terminal);

    // Nothing but stdio and the preserved fds may cross into the container.
    // Done before any filter is loaded: the profile need not allow it.
    unsigned first = 3 + f.preserve_fds;
    cloexec_from(first);
    for (unsigned fd = 3; fd < first; ++fd)
        if (::fcntl(static_cast<int>(fd), F_SETFD, 0) < 0 && errno != EBADF)
            throw_errno("preserve fd " + std::to_string(fd));
    // berth exits once the process is set up; that must not kill it.
    if (::prctl(PR_SET_PDEATHSIG, 0) < 0) throw_errno("clear parent death signal");

    // After the filter is loaded only what runc itself needs then may
    // follow: capset/prctl and the set*id calls (without no_new_privs),
    // stat/access for the executable, and in the init write (ready), read
    // (the exec fifo), close and execve.
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
    // while we still have it. With it, load as late as possible (runc's order).
    auto load_seccomp = [&] {
        if (!f.seccomp) return;
        UniqueFd listener = f.seccomp->load();
        if (listener) f.sync->send_fd(SyncType::seccomp_fd, listener.get());
    };
    if (!proc.noNewPrivileges) load_seccomp();
    caps_before_user(caps);
    apply_user(proc, f.setgroups_denied);
    caps_after_user(caps);
    if (proc.noNewPrivileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) throw_errno("set no_new_privs");
    std::string exe = find_executable(proc);
    apply_exec_labels(proc);
    if (proc.noNewPrivileges) load_seccomp();
    return exe;
}

} // namespace berth
