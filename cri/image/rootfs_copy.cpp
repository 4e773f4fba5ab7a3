#include "rootfs_copy.hpp"

#include "error.hpp"
#include "fd.hpp"
#include "tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <map>
#include <memory>

namespace berth::image {

namespace {

std::vector<std::string> names_in(int fd, const std::string& path) {
    int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR* d = dup < 0 ? nullptr : ::fdopendir(dup);
    if (!d) {
        if (dup >= 0) ::close(dup);
        throw_errno("open " + path);
    }
    std::vector<std::string> out;
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") out.emplace_back(n);
    }
    ::closedir(d);
    return out;
}

UniqueFd open_dir(int at, const std::string& name, const std::string& path) {
    UniqueFd fd(::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw_errno("open " + path);
    return fd;
}

bool is_opaque(int fd) {
    char v = 0;
    return ::fgetxattr(fd, "trusted.overlay.opaque", &v, 1) == 1 && v == 'y';
}

class Copier {
public:
    explicit Copier(int dest) : dest_(dest), privileged_(::geteuid() == 0) {}

    void layer(const std::string& lower) {
        links_.clear();
        UniqueFd src(::open(lower.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!src) throw_errno("open " + lower);
        contents(src.get(), dest_, lower, "");
        struct stat st;
        if (::fstat(src.get(), &st) < 0) throw_errno("stat " + lower);
        meta(src.get(), dest_, st, lower);   // overlayfs shows the top layer's root
    }

private:
    void contents(int src, int dst, const std::string& spath, const std::string& rel) {
        for (const auto& name : names_in(src, spath)) {
            std::string sp = spath + "/" + name;
            std::string r = rel.empty() ? name : rel + "/" + name;
            struct stat st;
            if (::fstatat(src, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) throw_errno("stat " + sp);
            if (S_ISCHR(st.st_mode) && st.st_rdev == 0) {   // a whiteout
                remove_tree_at(dst, name);
                continue;
            }
            struct stat dt;
            bool exists = ::fstatat(dst, name.c_str(), &dt, AT_SYMLINK_NOFOLLOW) == 0;
            if (S_ISDIR(st.st_mode)) {
                if (exists && !S_ISDIR(dt.st_mode)) {
                    remove_tree_at(dst, name);
                    exists = false;
                }
                if (!exists && ::mkdirat(dst, name.c_str(), 0700) < 0) throw_errno("mkdir " + r);
                UniqueFd s = open_dir(src, name, sp);
                UniqueFd d = open_dir(dst, name, r);
                if (exists && is_opaque(s.get()))
                    for (const auto& n : names_in(d.get(), r)) remove_tree_at(d.get(), n);
                contents(s.get(), d.get(), sp, r);
                meta(s.get(), d.get(), st, sp);
                continue;
            }
            if (exists) remove_tree_at(dst, name);
            if (S_ISREG(st.st_mode)) {
                if (st.st_nlink > 1) {
                    auto [it, fresh] = links_.emplace(std::make_pair(st.st_dev, st.st_ino), r);
                    if (!fresh) {
                        link(it->second, dst, name, r);
                        continue;
                    }
                }
                file(src, dst, name, st, sp);
            } else if (S_ISLNK(st.st_mode)) {
                std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
                ssize_t n = ::readlinkat(src, name.c_str(), target.data(), target.size());
                if (n < 0) throw_errno("readlink " + sp);
                target.resize(static_cast<size_t>(n));
                if (::symlinkat(target.c_str(), dst, name.c_str()) < 0) throw_errno("symlink " + r);
                name_meta(dst, name, st, r, false);
            } else {
                if (::mknodat(dst, name.c_str(), st.st_mode, st.st_rdev) < 0) throw_errno("mknod " + r);
                name_meta(dst, name, st, r, true);
            }
        }
    }

    // A second name of an inode copied before (first_rel, from the dest's
    // root, through directories of this layer only: no symlink on the way).
    void link(const std::string& first_rel, int dst, const std::string& name, const std::string& r) {
        size_t slash = first_rel.rfind('/');
        std::string parent = slash == std::string::npos ? "." : first_rel.substr(0, slash);
        std::string base = slash == std::string::npos ? first_rel : first_rel.substr(slash + 1);
        struct open_how how {};
        how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
        UniqueFd pfd(static_cast<int>(::syscall(SYS_openat2, dest_, parent.c_str(), &how, sizeof how)));
        if (!pfd) throw_errno("open " + parent);
        if (::linkat(pfd.get(), base.c_str(), dst, name.c_str(), 0) < 0) throw_errno("link " + r + " to " + first_rel);
    }

    void file(int src, int dst, const std::string& name, const struct stat& st, const std::string& sp) {
        UniqueFd in(::openat(src, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!in) throw_errno("open " + sp);
        UniqueFd out(::openat(dst, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out) throw_errno("create " + name);
        bool plain = false;   // copy_file_range cannot (other file systems, old kernels)
        for (;;) {
            ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
            if (n == 0) break;
            if (n > 0) continue;
            if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
                plain = true;
                break;
            }
            throw_errno("copy " + sp);
        }
        if (plain) {
            auto buf = std::make_unique<char[]>(1 << 20);
            for (;;) {
                ssize_t n = ::read(in.get(), buf.get(), 1 << 20);
                if (n < 0) throw_errno("read " + sp);
                if (n == 0) break;
                for (ssize_t off = 0; off < n;) {
                    ssize_t w = ::write(out.get(), buf.get() + off, static_cast<size_t>(n - off));
                    if (w < 0) throw_errno("write " + name);
                    off += w;
                }
            }
        }
        meta(in.get(), out.get(), st, sp);
    }

    // Owner, mode, xattrs and times of an open file or directory, in the
    // order that keeps setuid bits and file capabilities (chown clears them).
    void meta(int src, int dst, const struct stat& st, const std::string& sp) {
        if (privileged_ && ::fchown(dst, st.st_uid, st.st_gid) < 0) throw_errno("chown " + sp);
        if (::fchmod(dst, st.st_mode & 07777) < 0) throw_errno("chmod " + sp);
        ssize_t len = ::flistxattr(src, nullptr, 0);
        if (len > 0) {
            std::string names(static_cast<size_t>(len), '\0');
            len = ::flistxattr(src, names.data(), names.size());
            for (size_t i = 0; len > 0 && i < static_cast<size_t>(len);) {
                std::string n = names.c_str() + i;
                i += n.size() + 1;
                if (std::string_view(n).starts_with("trusted.overlay.")) continue;
                ssize_t vlen = ::fgetxattr(src, n.c_str(), nullptr, 0);
                if (vlen < 0) continue;
                std::string v(static_cast<size_t>(vlen), '\0');
                vlen = ::fgetxattr(src, n.c_str(), v.data(), v.size());
                if (vlen < 0) continue;
                if (::fsetxattr(dst, n.c_str(), v.data(), static_cast<size_t>(vlen), 0) < 0 && errno != ENOTSUP)
                    throw_errno("set xattr " + n + " on " + sp);
            }
        }
        struct timespec ts[2] = {st.st_atim, st.st_mtim};
        if (::futimens(dst, ts) < 0) throw_errno("set times of " + sp);
    }

    void name_meta(int dst, const std::string& name, const struct stat& st, const std::string& r, bool chmod) {
        if (privileged_ && ::fchownat(dst, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
            throw_errno("chown " + r);
        if (chmod && ::fchmodat(dst, name.c_str(), st.st_mode & 07777, 0) < 0) throw_errno("chmod " + r);
        struct timespec ts[2] = {st.st_atim, st.st_mtim};
        if (::utimensat(dst, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) < 0) throw_errno("set times of " + r);
    }

    int dest_;
    bool privileged_;
    std::map<std::pair<dev_t, ino_t>, std::string> links_;   // first copy of each hardlinked inode
};

} // namespace

void copy_layers(const std::vector<std::string>& lowers, const std::string& dest) {
    UniqueFd d(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) throw_errno("open " + dest);
    Copier c(d.get());
    for (const auto& l : lowers) c.layer(l);
}

} // namespace berth::image
