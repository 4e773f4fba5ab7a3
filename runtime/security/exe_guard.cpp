#include "exe_guard.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

extern char** environ;

namespace berth {

namespace {
constexpr unsigned kMfdExec = 0x0010U;   // linux/memfd.h (6.3+): executable memfd
constexpr int kAllSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

// Was this image started by fexecve/execveat (AT_EXECFN "/dev/fd/N")? Then
// it is our own re-execution, and trying again would loop.
bool reexecuted() {
    const char* fn = reinterpret_cast<const char*>(::getauxval(AT_EXECFN));
    return fn && std::strncmp(fn, "/dev/fd/", 8) == 0;
}

// A detached bind mount of our binary, made read-only, executed in place.
// Returns only on failure, with its errno.
int exec_read_only_view(char** argv) {
    UniqueFd tree(::open_tree(AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    if (!tree) return errno;
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) return errno;
    ::syscall(SYS_execveat, tree.get(), "", argv, environ, AT_EMPTY_PATH);
    return errno;
}

[[noreturn]] void exec_sealed_copy(char** argv) {
    UniqueFd src(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!src) throw_errno("open /proc/self/exe");
    struct stat st;
    if (::fstat(src.get(), &st) < 0) throw_errno("stat /proc/self/exe");
    int fd = static_cast<int>(::syscall(SYS_memfd_create, "berth", MFD_CLOEXEC | MFD_ALLOW_SEALING | kMfdExec));
    if (fd < 0 && errno == EINVAL) fd = static_cast<int>(::syscall(SYS_memfd_create, "berth", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (fd < 0) throw_errno("memfd_create for a sealed copy of berth");
    UniqueFd mem(fd);
    for (off_t left = st.st_size; left > 0;) {
        ssize_t n = ::sendfile(mem.get(), src.get(), nullptr, static_cast<size_t>(left));
        if (n <= 0) throw_errno("copy berth into memfd");
        left -= n;
    }
    if (::fcntl(mem.get(), F_ADD_SEALS, kAllSeals) < 0) throw_errno("seal memfd copy of berth");
    ::fexecve(mem.get(), argv, environ);
    throw_errno("execute the sealed copy of berth");
}
} // namespace

ExeView exe_view() {
    UniqueFd fd(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!fd) return ExeView::writable;
    struct statfs sfs;
    if (::fstatfs(fd.get(), &sfs) == 0 && (sfs.f_flags & ST_RDONLY)) return ExeView::read_only;
    int seals = ::fcntl(fd.get(), F_GET_SEALS);
    if (seals >= 0 && (seals & kAllSeals) == kAllSeals) return ExeView::sealed;
    return ExeView::writable;
}

void ensure_protected_exe(char** argv) {
    if (exe_view() != ExeView::writable) return;
    if (reexecuted()) throw Error(EPERM, "berth re-executed itself but still runs from a writable binary");
    // The view fails without CAP_SYS_ADMIN over our mount namespace (EPERM)
    // or on kernels before 5.12 (ENOSYS): the copy works everywhere.
    int err = exec_read_only_view(argv);
    try {
        exec_sealed_copy(argv);
    } catch (const Error& e) {
        throw Error(e.err(), std::string("cannot run berth from a protected binary (read-only view: ") +
                                 std::strerror(err) + "; sealed copy: " + e.what() + ")");
    }
}

void restore_process_name(const char* argv0) {
    if (!reexecuted() || !argv0) return;
    const char* base = std::strrchr(argv0, '/');
    ::prctl(PR_SET_NAME, base ? base + 1 : argv0);   // truncated to 15 bytes by the kernel
}

void require_protected_exe() {
    // Checked once: a process's binary changes only with exec.
    static const bool ok = exe_view() != ExeView::writable;
    if (!ok)
        throw Error(EPERM, "refusing to start a container process from a writable copy of the runtime binary "
                           "(CVE-2019-5736); call ensure_protected_exe first");
}

} // namespace berth
