#include "procfs.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace berth {

namespace {

bool on_procfs(int fd) {
    struct statfs s;
    return ::fstatfs(fd, &s) == 0 && s.f_type == PROC_SUPER_MAGIC;
}

UniqueFd open_proc_root() {
    UniqueFd root(::open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root) throw_errno("open /proc");
    struct statx sx;
    if (!on_procfs(root.get()) ||
        ::statx(root.get(), "", AT_EMPTY_PATH, STATX_INO, &sx) < 0 || sx.stx_ino != 1)   // procfs's root is inode 1
        throw Error(EXDEV, "/proc in the container is not a procfs mount");
    return root;
}

} // namespace

std::string procfs_thread_self() {
    return std::to_string(::getpid()) + "/task/" + std::to_string(::gettid());
}

void write_procfs(const std::string& rel, std::string_view data) {
    std::string path = "/proc/" + rel;
    UniqueFd root = open_proc_root();
    open_how how{};
    how.flags = O_WRONLY | O_CLOEXEC;
    how.resolve = RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH;
    long fd = ::syscall(SYS_openat2, root.get(), rel.c_str(), &how, sizeof how);
    if (fd < 0 && errno == EXDEV)
        throw Error(EXDEV, path + ": something is mounted over it or a directory on its way, refusing to write there");
    if (fd < 0 && errno == ELOOP) throw Error(ELOOP, path + ": a symlink is on its way, refusing to write there");
    if (fd < 0) throw_errno("open " + path);
    UniqueFd file(static_cast<int>(fd));
    if (!on_procfs(file.get())) throw Error(EXDEV, path + " is not a procfs file, refusing to write there");
    for (size_t off = 0; off < data.size();) {
        ssize_t n = ::write(file.get(), data.data() + off, data.size() - off);
        if (n < 0) throw_errno("write " + path);
        off += static_cast<size_t>(n);
    }
}

} // namespace berth
