#include "rootfs.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "mount_options.hpp"
#include "path_resolve.hpp"
#include "procfs.hpp"
#include "strings.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <algorithm>
#include <unistd.h>


namespace berth {

namespace {

// The mount point under which path lives, from mountinfo (longest prefix).
std::string parent_mount(const std::string& path) {
    std::string best = "/";
    for (const auto& line : split(read_file("/proc/self/mountinfo"), '\n')) {
        auto f = split_ws(line);
        if (f.size() < 5) continue;
        const std::string& mnt = f[4];
        bool under = path == mnt || (path.starts_with(mnt) && (mnt == "/" || path[mnt.size()] == '/'));
        if (under && mnt.size() > best.size()) best = mnt;
    }
    return best;
}

// The mount an fd's path is on (statx STATX_MNT_ID, Linux 5.8).
uint64_t mount_id(int fd, const char* what) {
    struct statx sx;
    if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0) throw_errno(std::string("statx ") + what);
    if (!(sx.stx_mask & STATX_MNT_ID)) throw Error(ENOSYS, std::string("statx ") + what + ": no mount id (Linux < 5.8)");
    return sx.stx_mnt_id;
}

// On a host whose "/" has mounts stacked on it (each `mount --bind / /` on a
// shared root adds some), unmounting the old root hands the ones that sat
// on its root over to ours (the kernel's tucked mounts): the host's root
// would then cover the container's, and ".." from "/", or anything that
// joins the mount namespace (exec), would land in it. From "/", ".." climbs
// to the topmost mount stacked there: detach it until that is our own root.
void detach_mounts_over_root() {
    UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_errno("open /");
    uint64_t ours = mount_id(root.get(), "/");
    for (int i = 0; i < 4096; ++i) {
        UniqueFd top(::open("/..", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!top) throw_errno("open /..");
        if (mount_id(top.get(), "/..") == ours) return;
        if (::fchdir(top.get()) < 0 || ::umount2(".", MNT_DETACH) < 0)
            throw_errno("detach a host mount stacked over the container's root");
    }
    throw Error(ELOOP, "detach host mounts stacked over the container's root: too many");
}

void pivot(const std::string& rootfs, int rootfd) {
    UniqueFd oldroot(::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!oldroot) throw_errno("open /");
    if (::fchdir(rootfd) < 0) throw_errno("chdir " + rootfs);
    // pivot_root(".", ".") stacks the old root on the new one; no put_old dir needed.
    if (::syscall(SYS_pivot_root, ".", ".") < 0) throw_errno("pivot_root " + rootfs);
    if (::fchdir(oldroot.get()) < 0) throw_errno("chdir old root");
    // Keep the unmount from propagating back to the host.
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0) throw_errno("make old root rslave");
    if (::umount2(".", MNT_DETACH) < 0) throw_errno("unmount old root");
    if (::chdir("/") < 0) throw_errno("chdir /");
    detach_mounts_over_root();
    if (::chdir("/") < 0) throw_errno("chdir /");
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& s) {
    auto octal = [](char c) { return c >= '0' && c <= '7'; };
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
            out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// --no-pivot keeps the host's mounts in the namespace, below the chroot. A
// fully visible procfs or sysfs among them lets a process that makes a user
// namespace of its own mount a fresh, unmasked one (the kernel allows that
// only where one is already fully visible): detach every proc and sysfs
// outside the rootfs first, as runc does.
void detach_host_proc_and_sys(const std::string& rootfs) {
    std::vector<std::string> targets;
    for (const auto& line : split(read_file("/proc/self/mountinfo"), '\n')) {
        auto f = split_ws(line);
        auto dash = std::find(f.begin(), f.end(), "-");
        if (f.size() < 5 || dash == f.end() || dash + 1 == f.end()) continue;
        if (dash[1] != "proc" && dash[1] != "sysfs") continue;
        std::string mp = unescape_mountinfo(f[4]);
        if (mp == rootfs || mp.starts_with(rootfs + "/")) continue;
        targets.push_back(mp);
    }
    // Children come after their parents in mountinfo: deepest first.
    for (auto it = targets.rbegin(); it != targets.rend(); ++it) {
        if (::umount2(it->c_str(), MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
            throw_errno("--no-pivot: detach the host's " + *it);
    }
}

void move_root(const std::string& rootfs, int rootfd) {
    detach_host_proc_and_sys(rootfs);
    if (::fchdir(rootfd) < 0) throw_errno("chdir " + rootfs);
    if (::mount(rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) < 0) throw_errno("move " + rootfs + " to /");
    if (::chroot(".") < 0) throw_errno("chroot " + rootfs);
    if (::chdir("/") < 0) throw_errno("chdir /");
}

unsigned long locked_flags(const char* path) {
    struct statvfs s;
    if (::statvfs(path, &s) < 0) return 0;
    unsigned long f = 0;
    if (s.f_flag & ST_NOSUID) f |= MS_NOSUID;
    if (s.f_flag & ST_NODEV) f |= MS_NODEV;
    if (s.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
    return f;
}

// CVE-2025-31133: masked files are covered with the container's /dev/null,
// which must be the null device itself. Anything else there (a symlink to
// /proc/sys/kernel/core_pattern, put in place by a hook or raced in through
// a shared mount) would be bound over the masked path instead, writable.
UniqueFd open_dev_null() {
    UniqueFd fd(::open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw_errno("linux.maskedPaths: open /dev/null");
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) throw_errno("linux.maskedPaths: stat /dev/null");
    if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
        throw Error(EINVAL, std::string("linux.maskedPaths: /dev/null in the container is ") +
                                (S_ISLNK(st.st_mode) ? "a symlink" : "not the null device (char 1:3)") +
                                ", refusing to bind it over masked paths");
    return fd;
}

void mask_path(const std::string& p, UniqueFd& dev_null) {
    struct stat st;
    if (::stat(p.c_str(), &st) < 0) {
        if (errno == ENOENT) return;
        throw_errno("stat masked path " + p);
    }
    if (S_ISDIR(st.st_mode)) {
        if (::mount("tmpfs", p.c_str(), "tmpfs", MS_RDONLY, "size=0k") < 0) throw_errno("mask " + p);
        return;
    }
    if (!dev_null) dev_null = open_dev_null();
    // Bound from the checked fd itself, not from a path looked up again.
    UniqueFd copy(::open_tree(dev_null.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
    if (!copy) throw_errno("mask " + p + ": clone /dev/null");
    if (::move_mount(copy.get(), "", AT_FDCWD, p.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0) throw_errno("mask " + p);
}

void readonly_path(const std::string& p) {
    if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) {
        if (errno == ENOENT) return;
        throw_errno("bind read-only path " + p);
    }
    unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | locked_flags(p.c_str());
    if (::mount(nullptr, p.c_str(), nullptr, f, nullptr) < 0) throw_errno("make " + p + " read-only");
}

void write_sysctl(const std::string& key, const std::string& value) {
    std::string rel = "sys/";
    for (char c : key) rel += c == '.' ? '/' : c;
    if (key.find("..") != std::string::npos || key.find('/') != std::string::npos)
        throw Error(EINVAL, "linux.sysctl: invalid key \"" + key + "\"");
    with_context("linux.sysctl " + key, [&] { write_procfs(rel, value); });
}

} // namespace

// The runtime's mount namespace, shared: sysctls while the host's /proc is
// in view, then chroot. Nothing is mounted (create refuses what would be).
void enter_root_without_mount_ns(RootfsContext& ctx) {
    if (ctx.before_pivot) ctx.before_pivot();
    if (ctx.config->linux)
        for (const auto& [k, v] : ctx.config->linux->sysctl) write_sysctl(k, v);
    if (ctx.rootfs == "/") return;
    UniqueFd root(::open(ctx.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_errno("open rootfs " + ctx.rootfs);
    if (::fchdir(root.get()) < 0 || ::chroot(".") < 0 || ::chdir("/") < 0) throw_errno("chroot " + ctx.rootfs);
}

void prepare_rootfs(RootfsContext& ctx) {
    const auto& cfg = *ctx.config;
    if (!ctx.own_mount_ns) {
        enter_root_without_mount_ns(ctx);
        return;
    }
    std::string prop_name = cfg.linux ? cfg.linux->rootfsPropagation : "";
    unsigned long prop = propagation_flags(prop_name);

    // Nothing done here may propagate back to the host. Unbindable mounts
    // could not be bound (the rootfs, cgroup dirs): that waits for the end.
    unsigned long setup = prop && !(prop & MS_UNBINDABLE) ? prop : MS_SLAVE | MS_REC;
    if (::mount(nullptr, "/", nullptr, setup, nullptr) < 0) throw_errno("set propagation of /");
    // pivot_root refuses a new root whose parent mount is shared.
    if (prop & MS_SHARED) {
        auto parent = parent_mount(ctx.rootfs);
        if (::mount(nullptr, parent.c_str(), nullptr, MS_PRIVATE, nullptr) < 0)
            throw_errno("make " + parent + " private");
    }
    // The rootfs must be a mount point of its own.
    if (::mount(ctx.rootfs.c_str(), ctx.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
        throw_errno("bind rootfs " + ctx.rootfs);
    UniqueFd rootfd(::open(ctx.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rootfd) throw_errno("open rootfs " + ctx.rootfs);
    ctx.rootfd = rootfd.get();

    for (size_t i = 0; i < cfg.mounts.size(); ++i) {
        const auto& m = cfg.mounts[i];
        with_context("mounts[" + std::to_string(i) + "] (" + m.destination + ")", [&] { mount_entry(m, i, ctx); });
    }
    create_devices(ctx);
    if (ctx.before_pivot) ctx.before_pivot();

    if (ctx.no_pivot) move_root(ctx.rootfs, rootfd.get());
    else pivot(ctx.rootfs, rootfd.get());
    ctx.rootfd = -1;
}

void finalize_rootfs(const RootfsContext& ctx) {
    if (!ctx.own_mount_ns) return;
    const auto& cfg = *ctx.config;
    if (cfg.linux) {
        for (const auto& [k, v] : cfg.linux->sysctl) write_sysctl(k, v);
        for (const auto& p : cfg.linux->readonlyPaths) readonly_path(p);
        UniqueFd dev_null;
        for (const auto& p : cfg.linux->maskedPaths) mask_path(p, dev_null);
    }
    if (ctx.dev_readonly) {
        unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags("/dev");
        if (::mount(nullptr, "/dev", nullptr, f, nullptr) < 0) throw_errno("make /dev read-only");
    }
    if (cfg.root.readonly) {
        unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags("/");
        if (::mount(nullptr, "/", nullptr, f, nullptr) < 0) throw_errno("make rootfs read-only");
    }
    // Last: read-only paths are bound onto themselves, which an unbindable
    // mount would refuse.
    std::string prop_name = cfg.linux ? cfg.linux->rootfsPropagation : "";
    unsigned long prop = propagation_flags(prop_name);
    if (prop && !(prop & MS_SLAVE) && ::mount(nullptr, "/", nullptr, prop, nullptr) < 0)
        throw_errno("linux.rootfsPropagation: set propagation of / to " + prop_name);
}

} // namespace berth
