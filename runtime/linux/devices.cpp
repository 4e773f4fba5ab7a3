#include "error.hpp"
#include "path_resolve.hpp"
#include "rootfs.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

namespace berth {

namespace {

const spec::Device default_devices[] = {
    {"c", "/dev/null", 1, 3, 0666, 0, 0},    {"c", "/dev/zero", 1, 5, 0666, 0, 0},
    {"c", "/dev/full", 1, 7, 0666, 0, 0},    {"c", "/dev/random", 1, 8, 0666, 0, 0},
    {"c", "/dev/urandom", 1, 9, 0666, 0, 0}, {"c", "/dev/tty", 5, 0, 0666, 0, 0},
};

mode_t type_bits(const std::string& t) {
    if (t == "b") return S_IFBLK;
    if (t == "p") return S_IFIFO;
    return S_IFCHR;   // "c" and "u" (unbuffered char)
}

void make_device(const spec::Device& d, RootfsContext& ctx) {
    std::string parent, name;
    split_last(d.path, parent, name);
    auto dir = mkdir_in_root(ctx.rootfd, parent);
    if (ctx.userns) {
        // mknod is not allowed in a user namespace: bind the host's node.
        auto dst = mkfile_in_root(ctx.rootfd, d.path, 0000);
        if (::mount(d.path.c_str(), fd_path(dst.get()).c_str(), nullptr, MS_BIND, nullptr) < 0)
            throw_errno("bind device " + d.path);
        return;
    }
    mode_t mode = type_bits(d.type) | (d.fileMode.value_or(0666) & 07777);
    dev_t dev = d.type == "p" ? 0 : makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
    // mknodat never follows a symlink at the last component: an image's
    // /dev/null -> /etc/passwd only yields EEXIST here.
    if (::mknodat(dir.get(), name.c_str(), mode, dev) < 0) {
        if (errno != EEXIST) throw_errno("create device " + d.path);
        struct stat st;
        if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) throw_errno("stat " + d.path);
        if ((st.st_mode & S_IFMT) == type_bits(d.type) && st.st_rdev == dev) return;
        // Something else is in the way (a file or symlink from the image): replace it.
        if (::unlinkat(dir.get(), name.c_str(), 0) < 0) throw_errno("replace " + d.path);
        if (::mknodat(dir.get(), name.c_str(), mode, dev) < 0) throw_errno("create device " + d.path);
    }
    if (::fchownat(dir.get(), name.c_str(), d.uid.value_or(0), d.gid.value_or(0), AT_SYMLINK_NOFOLLOW) < 0)
        throw_errno("chown device " + d.path);
}

void symlink_in_dev(int devfd, const char* target, const char* name, bool replace) {
    if (::symlinkat(target, devfd, name) == 0) return;
    if (errno != EEXIST) throw_errno(std::string("symlink /dev/") + name);
    if (replace) {
        if (::unlinkat(devfd, name, 0) < 0) throw_errno(std::string("replace /dev/") + name);
        if (::symlinkat(target, devfd, name) < 0) throw_errno(std::string("symlink /dev/") + name);
    }
}

} // namespace

void create_devices(RootfsContext& ctx) {
    const auto& cfg = *ctx.config;
    bool dev_from_host = std::any_of(cfg.mounts.begin(), cfg.mounts.end(), [](const spec::Mount& m) {
        if (m.destination != "/dev") return false;
        return m.type == "bind" || std::find(m.options.begin(), m.options.end(), "bind") != m.options.end() ||
               std::find(m.options.begin(), m.options.end(), "rbind") != m.options.end();
    });
    if (dev_from_host) return;

    mode_t old = ::umask(0);
    try {
        for (const auto& d : default_devices) {
            bool overridden = cfg.linux && std::any_of(cfg.linux->devices.begin(), cfg.linux->devices.end(),
                                                       [&](const spec::Device& x) { return x.path == d.path; });
            if (!overridden) make_device(d, ctx);
        }
        if (cfg.linux)
            for (const auto& d : cfg.linux->devices) with_context("linux.devices " + d.path, [&] { make_device(d, ctx); });
    } catch (...) {
        ::umask(old);
        throw;
    }
    ::umask(old);

    auto dev = mkdir_in_root(ctx.rootfd, "/dev");
    UniqueFd devdir(::openat(dev.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!devdir) throw_errno("open /dev in rootfs");
    symlink_in_dev(devdir.get(), "/proc/self/fd", "fd", false);
    symlink_in_dev(devdir.get(), "/proc/self/fd/0", "stdin", false);
    symlink_in_dev(devdir.get(), "/proc/self/fd/1", "stdout", false);
    symlink_in_dev(devdir.get(), "/proc/self/fd/2", "stderr", false);
    if (::access("/proc/kcore", F_OK) == 0) symlink_in_dev(devdir.get(), "/proc/kcore", "core", false);
    // With a private devpts instance, /dev/ptmx must be its ptmx.
    bool devpts = std::any_of(cfg.mounts.begin(), cfg.mounts.end(),
                              [](const spec::Mount& m) { return m.destination == "/dev/pts" && m.type == "devpts"; });
    if (devpts) symlink_in_dev(devdir.get(), "pts/ptmx", "ptmx", true);
}

} // namespace berth
