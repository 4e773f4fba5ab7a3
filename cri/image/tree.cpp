#include "tree.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <set>
#include <utility>
#include <vector>

namespace berth::image {

namespace {

struct Name {
    std::string name;
    unsigned char type;
};

// The names in directory fd (without "." and ".."), read in one go so the
// caller can remove them without disturbing the listing.
std::vector<Name> list_dir(int fd, const std::string& path) {
    int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) throw_errno("dup " + path);
    DIR* d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        throw_errno("opendir " + path);
    }
    ::rewinddir(d);
    std::vector<Name> out;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") out.push_back({std::string(n), e->d_type});
        errno = 0;
    }
    int err = errno;
    ::closedir(d);
    if (err) throw_errno(err, "readdir " + path);
    return out;
}

// Where a directory lives: its device and, where the kernel says (5.8), its
// mount. A bind mount of the same file system has the same st_dev.
struct Where {
    dev_t dev = 0;
    uint64_t mnt = 0;
    bool operator==(const Where&) const = default;
};

Where where_of(int fd, const std::string& path) {
    struct statx sx {};
    if (::statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0) throw_errno("stat " + path);
    Where w;
    w.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    if (sx.stx_mask & STATX_MNT_ID) w.mnt = sx.stx_mnt_id;
    return w;
}

void remove_dir(int parent, const std::string& name, const Where& where, const std::string& path);

// Removes the entry `name` of directory fd; for a directory, its contents first.
void remove_child(int fd, const Name& e, const Where& where, const std::string& path) {
    std::string sub = path + "/" + e.name;
    bool dir = e.type == DT_DIR;
    if (e.type == DT_UNKNOWN) {
        struct stat st;
        if (::fstatat(fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) return;
            throw_errno("stat " + sub);
        }
        dir = S_ISDIR(st.st_mode);
    }
    if (dir) return remove_dir(fd, e.name, where, sub);
    if (::unlinkat(fd, e.name.c_str(), 0) == 0 || errno == ENOENT) return;
    if (errno != EACCES) throw_errno("remove " + sub);
    // Without root, a read-only directory must be made writable first.
    if (::fchmod(fd, 0700) < 0 || (::unlinkat(fd, e.name.c_str(), 0) < 0 && errno != ENOENT))
        throw_errno("remove " + sub);
}

void remove_dir(int parent, const std::string& name, const Where& where, const std::string& path) {
    UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd && errno == EACCES && ::fchmodat(parent, name.c_str(), 0700, 0) == 0)
        fd.reset(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return;
        throw_errno("open " + path);
    }
    if (!(where_of(fd.get(), path) == where)) throw Error(EBUSY, path + ": something is mounted here; not removed");
    for (const auto& e : list_dir(fd.get(), path)) remove_child(fd.get(), e, where, path);
    if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT) throw_errno("remove " + path);
}

void usage_of(int fd, const Where& where, const std::string& path, TreeUsage& u, std::set<std::pair<dev_t, ino_t>>& seen) {
    for (const auto& e : list_dir(fd, path)) {
        struct stat st;
        if (::fstatat(fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) continue;   // removed meanwhile (a running container's upper dir)
            throw_errno("stat " + path + "/" + e.name);
        }
        if (st.st_dev != where.dev) continue;
        if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert({st.st_dev, st.st_ino}).second) continue;
        u.inodes++;
        u.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
        if (S_ISDIR(st.st_mode)) {
            UniqueFd sub(::openat(fd, e.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) {
                if (errno == ENOENT) continue;
                throw_errno("open " + path + "/" + e.name);
            }
            if (where_of(sub.get(), path + "/" + e.name) == where) usage_of(sub.get(), where, path + "/" + e.name, u, seen);
        }
    }
}

void write_all(int fd, std::string_view data, const std::string& what) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write " + what);
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
}

} // namespace

void make_dirs(const std::string& path, unsigned mode) {
    if (path.empty()) throw Error(EINVAL, "make_dirs: empty path");
    for (size_t pos = 1;; ++pos) {
        pos = path.find('/', pos);
        std::string sub = path.substr(0, pos);
        if (::mkdir(sub.c_str(), mode) < 0 && errno != EEXIST) throw_errno("mkdir " + sub);
        if (pos == std::string::npos) break;
    }
    struct stat st;
    if (::stat(path.c_str(), &st) < 0) throw_errno("stat " + path);
    if (!S_ISDIR(st.st_mode)) throw Error(ENOTDIR, path + ": not a directory");
}

void remove_tree_at(int dirfd, const std::string& name) {
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) return;
        throw_errno("stat " + name);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (::unlinkat(dirfd, name.c_str(), 0) < 0 && errno != ENOENT) throw_errno("remove " + name);
        return;
    }
    UniqueFd top(::openat(dirfd, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!top) throw_errno("open " + name);
    remove_dir(dirfd, name, where_of(top.get(), name), name);
}

void remove_tree(const std::string& path) { remove_tree_at(AT_FDCWD, path); }

TreeUsage tree_usage(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw_errno("open " + path);
    TreeUsage u;
    std::set<std::pair<dev_t, ino_t>> seen;
    usage_of(fd.get(), where_of(fd.get(), path), path, u, seen);
    return u;
}

void write_file_durable(const std::string& dir, const std::string& name, std::string_view data, unsigned mode) {
    UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) throw_errno("open " + dir);
    // Unique per call: two writers of one name never share a temp file.
    static std::atomic<unsigned> counter{0};
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    std::string tmp = std::string(kTempPrefix) + name + "-" + std::to_string(::getpid()) + "-" +
                      std::to_string(counter++) + "-" + std::to_string(ts.tv_nsec);
    UniqueFd fd(::openat(dfd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd) throw_errno("create " + dir + "/" + tmp);
    try {
        write_all(fd.get(), data, dir + "/" + tmp);
        if (::fsync(fd.get()) < 0) throw_errno("fsync " + dir + "/" + tmp);
        fd.reset();
        if (::renameat(dfd.get(), tmp.c_str(), dfd.get(), name.c_str()) < 0)
            throw_errno("rename " + dir + "/" + tmp + " to " + name);
    } catch (...) {
        ::unlinkat(dfd.get(), tmp.c_str(), 0);
        throw;
    }
    if (::fsync(dfd.get()) < 0) throw_errno("fsync " + dir);
}

} // namespace berth::image
