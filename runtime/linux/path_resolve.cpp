#include "path_resolve.hpp"

#include "error.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace berth {

namespace {

int openat2_in_root(int rootfd, const std::string& path, int flags) {
    open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    // Magic links (/proc/self/root) would jump out of the root.
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    const char* p = path.c_str();
    while (*p == '/') ++p;
    if (!*p) p = ".";
    int fd;
    do {
        fd = static_cast<int>(::syscall(SYS_openat2, rootfd, p, &how, sizeof how));
    } while (fd < 0 && errno == EAGAIN);   // a concurrent rename in the tree: retry
    return fd;
}

std::vector<std::string> components(const std::string& path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i && path.compare(i, j - i, ".") != 0) out.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

} // namespace

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

void split_last(const std::string& path, std::string& parent, std::string& name) {
    auto comps = components(path);
    name = comps.empty() ? "" : comps.back();
    parent.clear();
    for (size_t i = 0; i + 1 < comps.size(); ++i) parent += "/" + comps[i];
    if (parent.empty()) parent = "/";
}

namespace {

enum class Leaf { none, dir, file };

// Walk `path` from the root one component at a time, each opened
// O_NOFOLLOW relative to its (already checked) parent. Symlinks are read and
// their targets spliced into the walk with the rootfs as "/", so a link
// never leads out; with leaf dir/file, missing components are created. The
// components held are kept so ".." never climbs above the root. Needs no
// openat2: it is also the fallback for kernels without it.
UniqueFd walk(int rootfd, const std::string& path, Leaf leaf, mode_t mode, int final_flags) {
    std::vector<std::string> todo = components(path);
    std::reverse(todo.begin(), todo.end());   // a stack: next component at the back
    std::vector<std::string> held;            // components of cur below the root
    UniqueFd cur(::openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!cur) throw_errno("open rootfs");
    int links = 0;
    auto reopen_held = [&] {
        UniqueFd d(::openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
        for (const auto& h : held) {
            if (!d) break;
            d.reset(::openat(d.get(), h.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        }
        if (!d) throw_errno("open " + path + " in rootfs");
        cur = std::move(d);
    };
    while (!todo.empty()) {
        std::string comp = std::move(todo.back());
        todo.pop_back();
        if (comp == "..") {
            if (!held.empty()) held.pop_back();
            reopen_held();
            continue;
        }
        bool last = todo.empty();
        int fd = ::openat(cur.get(), comp.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && leaf != Leaf::none) {
            int r = (last && leaf == Leaf::file)
                        ? ::openat(cur.get(), comp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode)
                        : ::mkdirat(cur.get(), comp.c_str(), leaf == Leaf::dir ? mode : 0755);
            if (r < 0 && errno != EEXIST) throw_errno("create " + path + " in rootfs");
            if (r > 0 && last && leaf == Leaf::file) ::close(r);
            fd = ::openat(cur.get(), comp.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) throw_errno("open " + path + " in rootfs");
        UniqueFd next(fd);
        struct stat st;
        if (::fstat(next.get(), &st) < 0) throw_errno("stat " + path + " in rootfs");
        if (S_ISLNK(st.st_mode)) {
            if (++links > 40) throw Error(ELOOP, "open " + path + " in rootfs: too many levels of symbolic links");
            char buf[4096];
            ssize_t n = ::readlinkat(cur.get(), comp.c_str(), buf, sizeof buf - 1);
            if (n < 0) throw_errno("read link in " + path);
            std::string target(buf, static_cast<size_t>(n));
            if (target.front() == '/') {
                held.clear();
                reopen_held();
            }
            auto tc = components(target);
            for (auto it = tc.rbegin(); it != tc.rend(); ++it) todo.push_back(*it);
            continue;
        }
        if (!last && !S_ISDIR(st.st_mode)) throw Error(ENOTDIR, "open " + path + " in rootfs: not a directory");
        if (last) {
            if (leaf == Leaf::dir && !S_ISDIR(st.st_mode))
                throw Error(ENOTDIR, "mount target " + path + " in rootfs is not a directory");
            if (leaf == Leaf::file && S_ISDIR(st.st_mode))
                throw Error(EISDIR, "mount target " + path + " in rootfs is a directory");
            if ((final_flags & O_PATH) && !(final_flags & ~(O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW))) {
                if ((final_flags & O_DIRECTORY) && !S_ISDIR(st.st_mode)) throw_errno(ENOTDIR, "open " + path + " in rootfs");
                return next;
            }
            // Reopen the checked inode (never by name) with the flags asked for.
            int r = ::openat(next.get(), "", (final_flags | O_CLOEXEC) & ~O_NOFOLLOW);
            if (r < 0 && errno == ENOENT) r = ::open(fd_path(next.get()).c_str(), (final_flags | O_CLOEXEC) & ~O_NOFOLLOW);
            if (r < 0) throw_errno("open " + path + " in rootfs");
            return UniqueFd(r);
        }
        held.push_back(comp);
        cur = std::move(next);
    }
    if (final_flags & O_PATH) return cur;   // path was the root itself
    int r = ::openat(cur.get(), ".", (final_flags | O_CLOEXEC) & ~O_NOFOLLOW);
    if (r < 0) throw_errno("open " + path + " in rootfs");
    return UniqueFd(r);
}

} // namespace

UniqueFd open_in_root_walk(int rootfd, const std::string& path, int flags) {
    return walk(rootfd, path, Leaf::none, 0, flags);
}

UniqueFd open_in_root(int rootfd, const std::string& path, int flags) {
    int fd = openat2_in_root(rootfd, path, flags);
    if (fd < 0 && errno == ENOSYS) return walk(rootfd, path, Leaf::none, 0, flags);   // kernel < 5.6
    if (fd < 0) throw_errno("open " + path + " in rootfs");
    return UniqueFd(fd);
}


UniqueFd mkdir_in_root(int rootfd, const std::string& path, mode_t mode) {
    int fd = openat2_in_root(rootfd, path, O_PATH | O_DIRECTORY);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != ENOENT && errno != ENOSYS) throw_errno("open " + path + " in rootfs");
    return walk(rootfd, path, Leaf::dir, mode, O_PATH | O_DIRECTORY);
}

UniqueFd mkfile_in_root(int rootfd, const std::string& path, mode_t mode) {
    int fd = openat2_in_root(rootfd, path, O_PATH);
    if (fd >= 0) {
        UniqueFd f(fd);
        struct stat st;
        if (::fstat(f.get(), &st) < 0) throw_errno("stat " + path + " in rootfs");
        if (S_ISDIR(st.st_mode)) throw Error(EISDIR, "mount target " + path + " in rootfs is a directory");
        return f;
    }
    if (errno != ENOENT && errno != ENOSYS) throw_errno("open " + path + " in rootfs");
    return walk(rootfd, path, Leaf::file, mode, O_PATH);
}

} // namespace berth
