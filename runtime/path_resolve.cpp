#include "path_resolve.hpp"

#include "error.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

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

UniqueFd open_in_root(int rootfd, const std::string& path, int flags) {
    int fd = openat2_in_root(rootfd, path, flags);
    if (fd < 0) throw_errno("open " + path + " in rootfs");
    return UniqueFd(fd);
}

UniqueFd mkdir_in_root(int rootfd, const std::string& path, mode_t mode) {
    int fd = openat2_in_root(rootfd, path, O_PATH | O_DIRECTORY);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != ENOENT) throw_errno("open " + path + " in rootfs");

    // Walk from the root: each existing prefix is re-resolved inside the
    // root; each missing component is created in its (already resolved)
    // parent and opened without following anything.
    UniqueFd cur(openat2_in_root(rootfd, "/", O_PATH | O_DIRECTORY));
    if (!cur) throw_errno("open rootfs");
    std::string prefix;
    for (const auto& comp : components(path)) {
        prefix += "/" + comp;
        int next = openat2_in_root(rootfd, prefix, O_PATH | O_DIRECTORY);
        if (next < 0 && errno == ENOENT) {
            if (::mkdirat(cur.get(), comp.c_str(), mode) < 0 && errno != EEXIST)
                throw_errno("create " + prefix + " in rootfs");
            next = ::openat(cur.get(), comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            // EEXIST then ELOOP/ENOTDIR here: a symlink whose target is missing.
            if (next < 0 && (errno == ELOOP || errno == ENOTDIR))
                throw Error(ELOOP, "create " + prefix + " in rootfs: dangling symlink");
        }
        if (next < 0) throw_errno("open " + prefix + " in rootfs");
        cur.reset(next);
    }
    return cur;
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
    if (errno != ENOENT) throw_errno("open " + path + " in rootfs");
    std::string parent, name;
    split_last(path, parent, name);
    if (name.empty() || name == "..") throw Error(EINVAL, "invalid file path " + path);
    auto dir = mkdir_in_root(rootfd, parent);
    int nf = ::openat(dir.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
    if (nf < 0) {
        if (errno == EEXIST) throw Error(ELOOP, "create " + path + " in rootfs: dangling symlink");
        throw_errno("create " + path + " in rootfs");
    }
    ::close(nf);
    fd = ::openat(dir.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + path + " in rootfs");
    return UniqueFd(fd);
}

} // namespace berth
