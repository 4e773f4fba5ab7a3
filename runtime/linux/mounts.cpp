#include "error.hpp"
#include "mount_options.hpp"
#include "path_resolve.hpp"
#include "rootfs.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

namespace berth {

namespace {

constexpr unsigned long kRemountable = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS |
                                       MS_DIRSYNC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME |
                                       MS_MANDLOCK | MS_NOSYMFOLLOW;

// Flags the kernel locks on a mount made in a less privileged namespace:
// a bind remount must repeat them or it fails with EPERM.
unsigned long locked_flags(const std::string& path) {
    struct statvfs s;
    if (::statvfs(path.c_str(), &s) < 0) return 0;
    unsigned long f = 0;
    if (s.f_flag & ST_NOSUID) f |= MS_NOSUID;
    if (s.f_flag & ST_NODEV) f |= MS_NODEV;
    if (s.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
    if (s.f_flag & ST_RDONLY) f |= MS_RDONLY;
    if (s.f_flag & ST_NOATIME) f |= MS_NOATIME;
    if (s.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
    if (s.f_flag & ST_RELATIME) f |= MS_RELATIME;
    return f;
}

void sys_mount(const std::string& src, const std::string& target, const char* type, unsigned long flags,
               const std::string& data, const std::string& what) {
    if (::mount(src.empty() ? nullptr : src.c_str(), target.c_str(), type, flags,
                data.empty() ? nullptr : data.c_str()) < 0)
        throw_errno(what);
}

// Re-apply flags on a bind mount (MS_BIND ignores them at creation).
void remount_bind(const std::string& target, unsigned long flags, const std::string& what) {
    unsigned long f = MS_BIND | MS_REMOUNT | (flags & kRemountable);
    if (::mount(nullptr, target.c_str(), nullptr, f, nullptr) == 0) return;
    if (errno != EPERM) throw_errno(what);
    sys_mount("", target, nullptr, f | locked_flags(target), "", what);
}

void set_attrs(int fd, const MountOptions& o, const std::string& what) {
    mount_attr attr{};
    attr.attr_set = o.attr_set;
    attr.attr_clr = o.attr_clr;
    if (::syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
        throw_errno(what + ": set recursive attributes");
}

std::string host_source(const std::string& src, const std::string& bundle) {
    if (src.empty() || src.front() == '/') return src;
    return bundle + "/" + src;
}

void bind_mount(const spec::Mount& m, const MountOptions& o, RootfsContext& ctx, int cloned_source) {
    std::string src = host_source(m.source, ctx.bundle);
    if (cloned_source >= 0) {
        // Cloned on the host side, where the source could be opened.
        struct stat st;
        if (::fstat(cloned_source, &st) < 0) throw_errno("stat bind source " + src);
        UniqueFd dst = S_ISDIR(st.st_mode) ? mkdir_in_root(ctx.rootfd, m.destination)
                                           : mkfile_in_root(ctx.rootfd, m.destination);
        if (::move_mount(cloned_source, "", dst.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            throw_errno("bind " + src);
        return;
    }
    UniqueFd sfd(::open(src.c_str(), O_PATH | O_CLOEXEC));
    if (!sfd) throw_errno("open bind source " + src);
    struct stat st;
    if (::fstat(sfd.get(), &st) < 0) throw_errno("stat bind source " + src);
    UniqueFd dst = S_ISDIR(st.st_mode) ? mkdir_in_root(ctx.rootfd, m.destination)
                                       : mkfile_in_root(ctx.rootfd, m.destination);
    sys_mount(fd_path(sfd.get()), fd_path(dst.get()), nullptr, MS_BIND | (o.flags & MS_REC), "", "bind " + src);
}

// The container's own cgroup dirs under a tmpfs (v1, hybrid) or the unified
// dir itself (v2), bound from the host so the container sees only its cgroup.
void cgroup_mount(const spec::Mount& m, const MountOptions& o, RootfsContext& ctx) {
    unsigned long flags = o.flags & kRemountable;
    UniqueFd dst = mkdir_in_root(ctx.rootfd, m.destination);
    auto& dirs = ctx.cgroup_dirs;
    if (dirs.size() == 1 && dirs[0].first.v2) {
        sys_mount(dirs[0].second, fd_path(dst.get()), nullptr, MS_BIND, "", "bind " + dirs[0].second);
        auto top = open_in_root(ctx.rootfd, m.destination, O_PATH);
        remount_bind(fd_path(top.get()), flags, "remount " + m.destination);
        return;
    }
    sys_mount("tmpfs", fd_path(dst.get()), "tmpfs", flags & ~MS_RDONLY, "mode=755", "mount tmpfs");
    auto top = open_in_root(ctx.rootfd, m.destination, O_PATH | O_DIRECTORY);
    for (auto& [h, dir] : dirs) {
        if (::mkdirat(top.get(), h.name.c_str(), 0755) < 0 && errno != EEXIST)
            throw_errno("create " + m.destination + "/" + h.name);
        UniqueFd sub(::openat(top.get(), h.name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) throw_errno("open " + m.destination + "/" + h.name);
        sys_mount(dir, fd_path(sub.get()), nullptr, MS_BIND, "", "bind " + dir);
        UniqueFd mounted(::openat(top.get(), h.name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!mounted) throw_errno("open " + m.destination + "/" + h.name);
        remount_bind(fd_path(mounted.get()), flags, "remount " + m.destination + "/" + h.name);
        // Co-mounted controllers ("cpu,cpuacct") are also reachable by each name.
        if (h.controllers.size() > 1)
            for (auto& c : h.controllers)
                if (c != h.name && ::symlinkat(h.name.c_str(), top.get(), c.c_str()) < 0 && errno != EEXIST)
                    throw_errno("symlink " + m.destination + "/" + c);
    }
    if (flags & MS_RDONLY) sys_mount("", fd_path(top.get()), nullptr, MS_REMOUNT | flags, "mode=755", "remount tmpfs");
}

// Copy a directory tree (files, dirs, symlinks, fifos and device nodes,
// with modes and owners) from one open dir to another: runc's tmpcopyup.
void copy_tree(int from, int to, const std::string& where) {
    UniqueFd iter(::openat(from, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!iter) throw_errno("tmpcopyup: open " + where);
    DIR* d = ::fdopendir(iter.release());
    if (!d) throw_errno("tmpcopyup: read " + where);
    std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
    while (auto* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        std::string path = where + "/" + name;
        struct stat st;
        if (::fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) throw_errno("tmpcopyup: stat " + path);
        if (S_ISDIR(st.st_mode)) {
            if (::mkdirat(to, name.c_str(), st.st_mode & 07777) < 0) throw_errno("tmpcopyup: mkdir " + path);
            UniqueFd sf(::openat(from, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            UniqueFd df(::openat(to, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sf || !df) throw_errno("tmpcopyup: open " + path);
            copy_tree(sf.get(), df.get(), path);
        } else if (S_ISREG(st.st_mode)) {
            UniqueFd sf(::openat(from, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
            UniqueFd df(::openat(to, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777));
            if (!sf || !df) throw_errno("tmpcopyup: copy " + path);
            for (off_t left = st.st_size; left > 0;) {
                ssize_t n = ::sendfile(df.get(), sf.get(), nullptr, static_cast<size_t>(left));
                if (n <= 0) throw_errno("tmpcopyup: copy " + path);
                left -= n;
            }
        } else if (S_ISLNK(st.st_mode)) {
            std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
            ssize_t n = ::readlinkat(from, name.c_str(), target.data(), target.size());
            if (n < 0) throw_errno("tmpcopyup: read link " + path);
            target.resize(static_cast<size_t>(n));
            if (::symlinkat(target.c_str(), to, name.c_str()) < 0) throw_errno("tmpcopyup: symlink " + path);
        } else if (::mknodat(to, name.c_str(), st.st_mode, st.st_rdev) < 0) {
            throw_errno("tmpcopyup: mknod " + path);
        }
        if (::fchownat(to, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
            throw_errno("tmpcopyup: chown " + path);
    }
}

// proc and sysfs go on an ordinary directory only, as runc has it: through
// a symlink (to a tmpfs of the image's, say) they would land where the image
// chose, and writes berth later makes under /proc (LSM labels) would reach
// files the image controls (CVE-2019-16884).
void require_plain_dir(const spec::Mount& m, RootfsContext& ctx) {
    std::string parent, name;
    split_last(m.destination, parent, name);
    if (name.empty() || name == "." || name == "..") return;
    UniqueFd dir;
    try {
        dir = open_in_root(ctx.rootfd, parent, O_PATH | O_DIRECTORY);
    } catch (const Error& e) {
        if (e.err() == ENOENT) return;   // made below, as a directory
        throw;
    }
    struct stat st;
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) return;
        throw_errno("stat " + m.destination);
    }
    if (!S_ISDIR(st.st_mode))
        throw Error(EINVAL, m.type + " must be mounted on an ordinary directory, and " + m.destination +
                                " in the rootfs is " + (S_ISLNK(st.st_mode) ? "a symlink" : "not a directory"));
}

bool is_dev(const std::string& dest) {
    size_t end = dest.find_last_not_of('/');
    return end != std::string::npos && dest.compare(0, end + 1, "/dev") == 0;
}

void fs_mount(const spec::Mount& m, const MountOptions& o, RootfsContext& ctx) {
    if (m.type == "proc" || m.type == "sysfs") require_plain_dir(m, ctx);
    UniqueFd dst = mkdir_in_root(ctx.rootfd, m.destination);
    std::string target = fd_path(dst.get());
    unsigned long flags = o.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    // A read-only /dev is filled first (devices, /dev/pts, /dev/shm) and
    // made read-only at the end, as runc does.
    if (is_dev(m.destination) && (flags & MS_RDONLY)) {
        flags &= ~MS_RDONLY;
        ctx.dev_readonly = true;
    }
    std::string data = o.data;
    std::string what = "mount " + m.type;
    // tmpcopyup: hold the directory being covered to copy it afterwards.
    UniqueFd under;
    if (o.tmpcopyup) {
        if (m.type != "tmpfs") throw Error(EINVAL, "tmpcopyup: only valid for tmpfs mounts");
        under.reset(::openat(dst.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!under) throw_errno("tmpcopyup: open " + m.destination);
    }
    if (::mount(m.source.c_str(), target.c_str(), m.type.c_str(), flags, data.empty() ? nullptr : data.c_str()) == 0) {
        if (under) {
            auto top = open_in_root(ctx.rootfd, m.destination, O_RDONLY | O_DIRECTORY);
            copy_tree(under.get(), top.get(), m.destination);
        }
        return;
    }
    int err = errno;
    // Inside a user namespace the kernel refuses some filesystems that the
    // host's instance can stand in for, as runc does.
    if (err == EPERM && ctx.userns && (m.type == "sysfs" || m.type == "mqueue")) {
        std::string host = m.type == "sysfs" ? "/sys" : "/dev/mqueue";
        sys_mount(host, target, nullptr, MS_BIND | MS_REC, "", "bind " + host);
        auto top = open_in_root(ctx.rootfd, m.destination, O_PATH);
        remount_bind(fd_path(top.get()), flags, "remount " + m.destination);
        return;
    }
    // devpts' gid= fails when that group is not mapped in the user namespace.
    if (err == EINVAL && m.type == "devpts" && data.find("gid=") != std::string::npos) {
        std::string kept;
        size_t i = 0;
        while (i <= data.size()) {
            size_t j = data.find(',', i);
            if (j == std::string::npos) j = data.size();
            auto opt = data.substr(i, j - i);
            if (!opt.starts_with("gid=")) kept += (kept.empty() ? "" : ",") + opt;
            i = j + 1;
        }
        sys_mount(m.source, target, m.type.c_str(), flags, kept, what);
        return;
    }
    throw_errno(err, what);
}

} // namespace

void mount_entry(const spec::Mount& m, size_t index, RootfsContext& ctx) {
    auto o = parse_mount_options(m.options);
    if (o.idmap) throw Error(ENOTSUP, "idmapped mounts are not supported yet");
    bool bind = o.bind() || m.type == "bind";
    if (m.type == "cgroup" || m.type == "cgroup2") cgroup_mount(m, o, ctx);
    else if (bind) bind_mount(m, o, ctx, index < ctx.bind_sources.size() ? ctx.bind_sources[index] : -1);
    else fs_mount(m, o, ctx);

    bool rebind = bind && (o.flags & kRemountable);
    if (!rebind && !o.propagation && !o.attr_set && !o.attr_clr) return;
    // The new mount is what the destination resolves to now.
    auto top = open_in_root(ctx.rootfd, m.destination, O_PATH);
    std::string target = fd_path(top.get());
    if (rebind) remount_bind(target, o.flags, "remount " + m.destination);
    if (o.propagation) sys_mount("", target, nullptr, o.propagation, "", "set propagation");
    if (o.attr_set || o.attr_clr) set_attrs(top.get(), o, "mount " + m.destination);
}

} // namespace berth
