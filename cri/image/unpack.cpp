#include "unpack.hpp"

#include "error.hpp"
#include "fd.hpp"
#include "layer_stream.hpp"
#include "tree.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <vector>

namespace berth::image {

namespace {

constexpr std::string_view kWhiteout = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";
constexpr std::string_view kWhiteoutMeta = ".wh..wh.";   // aufs's own files (.wh..wh.plnk ...)
constexpr const char* kOpaqueXattr = "trusted.overlay.opaque";

// A failed system call on an entry; running out of space says so plainly.
[[noreturn]] void fail_at(const std::string& op, const std::string& entry) {
    int err = errno;
    if (err == ENOSPC || err == EDQUOT)
        throw Error(ENOSPC, "no space left on the layer store's file system (writing \"" + entry + "\")");
    throw_errno(err, "entry \"" + entry + "\": " + op);
}

[[noreturn]] void refuse(const std::string& entry, const std::string& why) {
    throw Error(EINVAL, "entry \"" + entry + "\": " + why);
}

// A tar name as a path inside the layer: "./a//b/" -> "a/b", "." -> "" (the
// layer's root). Absolute names and ".." are refused: nothing lands outside.
std::string clean_path(std::string_view name, const std::string& entry, const char* what) {
    if (name.starts_with('/')) refuse(entry, std::string(what) + " is an absolute path");
    std::string out;
    size_t i = 0;
    while (i <= name.size()) {
        size_t j = name.find('/', i);
        if (j == std::string_view::npos) j = name.size();
        std::string_view c = name.substr(i, j - i);
        if (c == "..") refuse(entry, std::string(what) + " has a \"..\" component");
        if (!c.empty() && c != ".") {
            if (!out.empty()) out += '/';
            out += c;
        }
        i = j + 1;
    }
    return out;
}

std::pair<std::string, std::string> split_last(const std::string& path) {
    size_t s = path.rfind('/');
    if (s == std::string::npos) return {"", path};
    return {path.substr(0, s), path.substr(s + 1)};
}

int openat2_beneath(int root, const std::string& path, uint64_t flags) {
    struct open_how how {};
    how.flags = flags | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return static_cast<int>(::syscall(SYS_openat2, root, path.c_str(), &how, sizeof how));
}

// Which xattrs of an entry are kept. trusted.overlay.* would let a layer
// steer overlayfs (redirects, metacopy), and security.selinux is the host's
// policy's business, not the image's.
bool keep_xattr(std::string_view n, bool root) {
    if (n.starts_with("trusted.overlay.")) return false;
    if (n == "security.capability" || n.starts_with("user.")) return true;
    return root && n.starts_with("trusted.");
}

// Open directories of the layer by their tar path, a few at a time: the
// entries of one directory come together in a tar, so most lookups are a
// hit and cost no path walk.
class DirCache {
public:
    explicit DirCache(int root) : root_(root) {}

    // The directory `dir` ("" = the layer's root), created with its missing
    // parents (0755, as tar does) when `create`.
    int get(const std::string& dir, const std::string& entry, bool create, uint64_t& made) {
        if (dir.empty()) return root_;
        for (auto& s : slots_)
            if (s.fd && s.path == dir) {
                s.tick = ++tick_;
                return s.fd.get();
            }
        UniqueFd fd(openat2_beneath(root_, dir, O_RDONLY | O_DIRECTORY));
        if (!fd && errno == ENOENT && create) fd = make(dir, entry, made);
        if (!fd) check_open(dir, entry);
        return put(dir, std::move(fd));
    }

    int put(const std::string& dir, UniqueFd fd) {
        Slot* victim = &slots_[0];
        for (auto& s : slots_) {
            if (s.fd && s.path == dir) {
                victim = &s;
                break;
            }
            if (!s.fd || s.tick < victim->tick) victim = &s;
            if (!victim->fd) break;
        }
        if (victim->fd) retired_.push_back(std::move(victim->fd));   // the caller may still use it
        victim->path = dir;
        victim->fd = std::move(fd);
        victim->tick = ++tick_;
        return victim->fd.get();
    }

    // A directory or symlink was removed: a cached fd may name a dir that is
    // no longer in the tree (under any name, through symlinks). The fds stay
    // open until the next entry (done()): the current one may hold them.
    void forget_all() {
        for (auto& s : slots_)
            if (s.fd) retired_.push_back(std::move(s.fd));
    }
    void done() { retired_.clear(); }

private:
    [[noreturn]] static void check_open(const std::string& dir, const std::string& entry) {
        if (errno == EXDEV) refuse(entry, "its path leads out of the layer through a symlink");
        if (errno == ELOOP) refuse(entry, "its path goes through a symlink loop or a magic link");
        fail_at("open directory \"" + dir + "\"", entry);
    }

    UniqueFd make(const std::string& dir, const std::string& entry, uint64_t& made) {
        UniqueFd cur;
        size_t pos = 0;
        while (pos <= dir.size()) {
            size_t end = dir.find('/', pos);
            if (end == std::string::npos) end = dir.size();
            std::string prefix = dir.substr(0, end);
            UniqueFd fd(openat2_beneath(root_, prefix, O_RDONLY | O_DIRECTORY));
            if (!fd && errno == ENOENT) {
                std::string comp = dir.substr(pos, end - pos);
                int parent = cur ? cur.get() : root_;
                if (::mkdirat(parent, comp.c_str(), 0755) < 0 && errno != EEXIST) fail_at("mkdir \"" + prefix + "\"", entry);
                made++;
                fd.reset(openat2_beneath(root_, prefix, O_RDONLY | O_DIRECTORY));
                if (fd) ::fchmod(fd.get(), 0755);
            }
            if (!fd) check_open(prefix, entry);
            cur = std::move(fd);
            pos = end + 1;
        }
        return cur;
    }

    struct Slot {
        std::string path;
        UniqueFd fd;
        uint64_t tick = 0;
    };
    int root_;
    std::array<Slot, 8> slots_;
    std::vector<UniqueFd> retired_;
    uint64_t tick_ = 0;
};

class Unpacker {
public:
    Unpacker(int root, LayerStream& stream, const std::function<bool()>& cancelled)
        : root_(root), dirs_(root), stream_(stream), cancelled_(cancelled), privileged_(::geteuid() == 0) {}

    UnpackResult run() {
        struct ArchiveReader {
            archive* a = archive_read_new();
            ~ArchiveReader() { archive_read_free(a); }
        } in;
        archive_read_support_format_tar(in.a);
        archive_read_support_format_empty(in.a);
        auto read_cb = [](archive* a, void* self, const void** buf) -> la_ssize_t {
            size_t n;
            if (!static_cast<Unpacker*>(self)->stream_.next(buf, &n)) {
                archive_set_error(a, EBADMSG, "layer stream failed");
                return -1;
            }
            return static_cast<la_ssize_t>(n);
        };
        in_ = in.a;
        if (archive_read_open(in.a, this, nullptr, read_cb, nullptr) != ARCHIVE_OK) archive_failed();
        for (;;) {
            archive_entry* e = nullptr;
            int rc = archive_read_next_header(in.a, &e);
            if (rc == ARCHIVE_EOF) break;
            if (rc < ARCHIVE_WARN) archive_failed();
            check_cancelled();
            entry(e);
            dirs_.done();
        }
        fix_dirs();
        result_.diff_id = stream_.finish();
        return result_;
    }

private:
    [[noreturn]] void archive_failed() {
        // The stream's own error (a truncated gzip, a read error) says more.
        std::string why = stream_.error();
        if (why.empty()) {
            const char* s = archive_error_string(in_);
            why = s ? s : "unreadable tar";
        }
        if (!entry_.empty()) why = "after entry \"" + entry_ + "\": " + why;
        throw Error(EBADMSG, why);
    }

    void check_cancelled() {
        if (cancelled_ && cancelled_()) throw Error(ECANCELED, "cancelled");
    }

    void entry(archive_entry* e) {
        // The _utf8 forms: a pax name the C locale could not convert.
        const char* raw = archive_entry_pathname(e);
        if (!raw) raw = archive_entry_pathname_utf8(e);
        if (!raw) throw Error(EINVAL, "an entry without a readable name (after \"" + entry_ + "\")");
        entry_ = raw;
        std::string path = clean_path(raw, entry_, "its name");
        auto [parent, base] = split_last(path);
        if (std::string_view(base).starts_with(kWhiteout)) return whiteout(parent, base, e);
        if (path.empty()) return root_entry(e);
        int pfd = dirs_.get(parent, entry_, true, result_.inodes);
        const char* hl = archive_entry_hardlink(e);
        if (!hl) hl = archive_entry_hardlink_utf8(e);
        if (hl) return hardlink(pfd, path, base, hl);
        switch (archive_entry_filetype(e)) {
        case AE_IFREG: return file(pfd, base, e);
        case AE_IFDIR: return directory(pfd, path, base, e);
        case AE_IFLNK: return symlink(pfd, base, e);
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO: return node(pfd, base, e);
        case AE_IFSOCK: return;   // tar keeps no sockets' contents; nothing to make
        default: throw Error(EINVAL, "entry \"" + entry_ + "\": unknown file type");
        }
    }

    // Runs make(); if the name is taken, removes what is there (a directory
    // with its contents, as tar does) and runs make() again.
    template <class Make>
    void create(int pfd, const std::string& base, const char* op, Make make) {
        if (make() == 0) return;
        if (errno != EEXIST) fail_at(op, entry_);
        replace(pfd, base);
        if (make() < 0) fail_at(op, entry_);
    }

    void replace(int pfd, const std::string& base) {
        struct stat st;
        if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) return;
            fail_at("stat", entry_);
        }
        if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) dirs_.forget_all();
        if (S_ISDIR(st.st_mode))
            with_context("entry \"" + entry_ + "\": replace the directory", [&] { remove_tree_at(pfd, base); });
        else if (::unlinkat(pfd, base.c_str(), 0) < 0 && errno != ENOENT)
            fail_at("remove what was there", entry_);
    }

    static void times_of(archive_entry* e, struct timespec ts[2]) {
        ts[1].tv_sec = archive_entry_mtime(e);
        ts[1].tv_nsec = archive_entry_mtime_nsec(e);
        if (archive_entry_atime_is_set(e)) {
            ts[0].tv_sec = archive_entry_atime(e);
            ts[0].tv_nsec = archive_entry_atime_nsec(e);
        } else {
            ts[0] = ts[1];
        }
    }

    // Owner first: chown clears setuid bits and security.capability, which
    // the mode and the xattrs then set.
    void owner(int fd, archive_entry* e) {
        if (privileged_ && ::fchown(fd, static_cast<uid_t>(archive_entry_uid(e)), static_cast<gid_t>(archive_entry_gid(e))) < 0)
            fail_at("chown", entry_);
    }

    void xattrs(int fd, archive_entry* e) {
        if (archive_entry_xattr_reset(e) == 0) return;
        const char* name;
        const void* value;
        size_t size;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
            if (!keep_xattr(name, privileged_)) continue;
            if (::fsetxattr(fd, name, value, size, 0) < 0) fail_at(std::string("set xattr ") + name, entry_);
        }
    }

    void file(int pfd, const std::string& base, archive_entry* e) {
        UniqueFd fd;
        create(pfd, base, "create", [&] {
            fd.reset(::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
            return fd ? 0 : -1;
        });
        result_.inodes++;
        int64_t end = 0;
        uint64_t since_check = 0;
        for (;;) {
            const void* buf;
            size_t n;
            la_int64_t off;
            int rc = archive_read_data_block(in_, &buf, &n, &off);
            if (rc == ARCHIVE_EOF) break;
            if (rc < ARCHIVE_WARN) archive_failed();
            const char* p = static_cast<const char*>(buf);
            size_t left = n;
            while (left) {
                ssize_t w = ::pwrite(fd.get(), p, left, off);
                if (w < 0) {
                    if (errno == EINTR) continue;
                    fail_at("write", entry_);
                }
                p += w;
                off += w;
                left -= static_cast<size_t>(w);
            }
            end = off;
            result_.bytes += n;
            if ((since_check += n) >= (64u << 20)) {
                since_check = 0;
                check_cancelled();
            }
        }
        if (end < archive_entry_size(e) && ::ftruncate(fd.get(), archive_entry_size(e)) < 0)   // a sparse tail
            fail_at("truncate", entry_);
        owner(fd.get(), e);
        if (::fchmod(fd.get(), archive_entry_perm(e)) < 0) fail_at("chmod", entry_);
        xattrs(fd.get(), e);
        struct timespec ts[2];
        times_of(e, ts);
        if (::futimens(fd.get(), ts) < 0) fail_at("set times", entry_);
    }

    // Modes and times of directories are set at the end: making their
    // children changes their mtime, and a read-only one would refuse them.
    struct DirFix {
        std::string path;
        mode_t mode;
        struct timespec ts[2];
    };

    void directory(int pfd, const std::string& path, const std::string& base, archive_entry* e) {
        if (::mkdirat(pfd, base.c_str(), 0700) == 0) {
            result_.inodes++;
        } else {
            if (errno != EEXIST) fail_at("mkdir", entry_);
            struct stat st;
            if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) fail_at("stat", entry_);
            if (!S_ISDIR(st.st_mode)) {   // tar replaces a non-directory
                replace(pfd, base);
                if (::mkdirat(pfd, base.c_str(), 0700) < 0) fail_at("mkdir", entry_);
                result_.inodes++;
            }
        }
        UniqueFd fd(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) fail_at("open", entry_);
        owner(fd.get(), e);
        xattrs(fd.get(), e);
        defer_dir(path, e);
        dirs_.put(path, std::move(fd));
    }

    void root_entry(archive_entry* e) {
        if (archive_entry_filetype(e) != AE_IFDIR) throw Error(EINVAL, "entry \"" + entry_ + "\": the layer's root is not a directory");
        owner(root_, e);
        xattrs(root_, e);
        defer_dir("", e);
    }

    void defer_dir(const std::string& path, archive_entry* e) {
        DirFix f{path, static_cast<mode_t>(archive_entry_perm(e)), {}};
        times_of(e, f.ts);
        fixes_.push_back(std::move(f));
    }

    void fix_dirs() {
        for (const auto& f : fixes_) {
            UniqueFd own;
            int fd = root_;
            if (!f.path.empty()) {
                auto [parent, base] = split_last(f.path);
                entry_ = f.path;
                int pfd;
                try {
                    pfd = dirs_.get(parent, entry_, false, result_.inodes);
                } catch (const Error&) {
                    continue;   // replaced by a later entry
                }
                own.reset(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!own) continue;
                fd = own.get();
            }
            if (::fchmod(fd, f.mode) < 0) fail_at("chmod", f.path);
            if (::futimens(fd, f.ts) < 0) fail_at("set times", f.path);
        }
    }

    void symlink(int pfd, const std::string& base, archive_entry* e) {
        const char* target = archive_entry_symlink(e);
        if (!target) target = archive_entry_symlink_utf8(e);
        if (!target || !*target) throw Error(EINVAL, "entry \"" + entry_ + "\": a symlink without a target");
        create(pfd, base, "symlink", [&] { return ::symlinkat(target, pfd, base.c_str()); });
        result_.inodes++;
        name_meta(pfd, base, e, false);
    }

    // Owner, mode and times of a name that is not opened (symlinks, nodes).
    void name_meta(int pfd, const std::string& base, archive_entry* e, bool chmod) {
        if (privileged_ && ::fchownat(pfd, base.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                                      static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) < 0)
            fail_at("chown", entry_);
        // Not a symlink (made just now in the layer's private dir): fchmodat cannot follow one.
        if (chmod && ::fchmodat(pfd, base.c_str(), archive_entry_perm(e), 0) < 0) fail_at("chmod", entry_);
        struct timespec ts[2];
        times_of(e, ts);
        if (::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) < 0) fail_at("set times", entry_);
    }

    void node(int pfd, const std::string& base, archive_entry* e) {
        mode_t type = archive_entry_filetype(e);
        dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
        create(pfd, base, "mknod", [&] { return ::mknodat(pfd, base.c_str(), type | 0600, dev); });
        result_.inodes++;
        name_meta(pfd, base, e, true);
    }

    void hardlink(int pfd, const std::string& path, const std::string& base, const char* hl) {
        std::string target = clean_path(hl, entry_, "its hardlink target");
        if (target.empty()) refuse(entry_, "a hardlink to the layer's root");
        if (target == path) return;
        // Not a structured binding: clang 14 cannot capture one in the lambda below.
        const auto t = split_last(target);
        const std::string& tbase = t.second;
        int tpfd = dirs_.get(t.first, entry_, false, result_.inodes);
        // The entry's own dir may have left the cache meanwhile.
        pfd = dirs_.get(split_last(path).first, entry_, true, result_.inodes);
        create(pfd, base, "hardlink", [&] {
            // No AT_SYMLINK_FOLLOW: a link to a symlink is to the symlink itself.
            int rc = ::linkat(tpfd, tbase.c_str(), pfd, base.c_str(), 0);
            if (rc < 0 && errno == ENOENT) refuse(entry_, "hardlink target \"" + target + "\" is not in the layer");
            return rc;
        });
        result_.inodes++;
    }

    void whiteout(const std::string& parent, const std::string& base, archive_entry* e) {
        int pfd = dirs_.get(parent, entry_, true, result_.inodes);
        if (base == kOpaque) {
            if (::fsetxattr(pfd, kOpaqueXattr, "y", 1, 0) < 0) fail_at("mark the directory opaque", entry_);
            return;
        }
        if (std::string_view(base).starts_with(kWhiteoutMeta)) return;
        std::string name = base.substr(kWhiteout.size());
        if (name.empty() || name == "." || name == "..") throw Error(EINVAL, "entry \"" + entry_ + "\": a whiteout of nothing");
        // overlayfs's whiteout: a character device 0/0 with the hidden name.
        create(pfd, name, "make the whiteout", [&] { return ::mknodat(pfd, name.c_str(), S_IFCHR, makedev(0, 0)); });
        result_.inodes++;
        if (privileged_ && ::fchownat(pfd, name.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                                      static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) < 0)
            fail_at("chown", entry_);
    }

    int root_;
    DirCache dirs_;
    LayerStream& stream_;
    const std::function<bool()>& cancelled_;
    bool privileged_;
    archive* in_ = nullptr;
    std::string entry_;
    std::vector<DirFix> fixes_;
    UnpackResult result_;
};

} // namespace

UnpackResult unpack_layer(const std::string& blob_path, const std::string& dir, const std::string& what,
                          const std::function<bool()>& cancelled) {
    return with_context(what, [&] {
        UniqueFd blob(::open(blob_path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!blob) throw_errno("open " + blob_path);
        if (::mkdir(dir.c_str(), 0755) < 0) {
            if (errno == ENOSPC || errno == EDQUOT) throw Error(ENOSPC, "no space left on the layer store's file system");
            throw_errno("mkdir " + dir);
        }
        try {
            UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!root) throw_errno("open " + dir);
            ::fchmod(root.get(), 0755);   // whatever the umask; a "./" entry sets its own
            LayerStream stream(std::move(blob));
            Unpacker u(root.get(), stream, cancelled);
            return u.run();
        } catch (...) {
            try {
                remove_tree(dir);
            } catch (const Error&) {
                // The first error is the one to report.
            }
            throw;
        }
    });
}

} // namespace berth::image
