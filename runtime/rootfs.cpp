#include "rootfs.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "mount_options.hpp"
#include "path_resolve.hpp"
#include "strings.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
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
}

void move_root(const std::string& rootfs, int rootfd) {
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

void mask_path(const std::string& p) {
    struct stat st;
    if (::stat(p.c_str(), &st) < 0) {
        if (errno == ENOENT) return;
        throw_errno("stat masked path " + p);
    }
    int r = S_ISDIR(st.st_mode) ? ::mount("tmpfs", p.c_str(), "tmpfs", MS_RDONLY, "size=0k")
                                : ::mount("/dev/null", p.c_str(), nullptr, MS_BIND, nullptr);
    if (r < 0) throw_errno("mask " + p);
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
    std::string path = "/proc/sys/";
    for (char c : key) path += c == '.' ? '/' : c;
    if (key.find("..") != std::string::npos || key.find('/') != std::string::npos)
        throw Error(EINVAL, "linux.sysctl: invalid key \"" + key + "\"");
    with_context("linux.sysctl " + key, [&] { write_existing(path, value); });
}

} // namespace

void prepare_rootfs(RootfsContext& ctx) {
    const auto& cfg = *ctx.config;
    std::string prop_name = cfg.linux ? cfg.linux->rootfsPropagation : "";
    unsigned long prop = propagation_flags(prop_name);

    // Nothing done here may propagate back to the host.
    if (::mount(nullptr, "/", nullptr, (prop ? prop : MS_SLAVE | MS_REC), nullptr) < 0)
        throw_errno("set propagation of /");
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
        with_context("mounts[" + std::to_string(i) + "] (" + m.destination + ")", [&] { mount_entry(m, ctx); });
    }
    create_devices(ctx);
    if (ctx.before_pivot) ctx.before_pivot();

    if (ctx.no_pivot) move_root(ctx.rootfs, rootfd.get());
    else pivot(ctx.rootfs, rootfd.get());
    ctx.rootfd = -1;

    if (prop && !(prop & MS_SLAVE) && ::mount(nullptr, "/", nullptr, prop, nullptr) < 0)
        throw_errno("set propagation of / to " + prop_name);
}

void finalize_rootfs(const spec::Config& cfg) {
    if (cfg.linux) {
        for (const auto& [k, v] : cfg.linux->sysctl) write_sysctl(k, v);
        for (const auto& p : cfg.linux->readonlyPaths) readonly_path(p);
        for (const auto& p : cfg.linux->maskedPaths) mask_path(p);
    }
    if (cfg.root.readonly) {
        unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags("/");
        if (::mount(nullptr, "/", nullptr, f, nullptr) < 0) throw_errno("make rootfs read-only");
    }
}

} // namespace berth
