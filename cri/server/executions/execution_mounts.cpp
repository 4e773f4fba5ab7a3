// Host paths a Run bind-mounts into its workload. Each must lie under one
// of its config's `mounts`, and is resolved by the kernel with that dir as
// its root (openat2 RESOLVE_IN_ROOT): no symlink or ".." below it leads
// out, whatever a user who may write there swaps meanwhile. The fd so
// opened is bound onto a staging point of berthd's own
// (STATE/executions/mounts/ID/N, in a 0700 dir), and the workload's CRI
// mount names that: what was checked is what gets mounted.
#include "executions.hpp"

#include "error.hpp"
#include "fd.hpp"
#include "file_util.hpp"
#include "log.hpp"
#include "path_resolve.hpp"
#include "tree.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace berth::cri {

namespace {

bool clean_absolute(const std::string& p) {
    if (p.empty() || p.front() != '/') return false;
    size_t i = 1;
    while (i <= p.size()) {
        size_t j = p.find('/', i);
        if (j == std::string::npos) j = p.size();
        std::string_view c(p.data() + i, j - i);
        if (c == ".." || c == ".") return false;
        i = j + 1;
    }
    return true;
}

std::string staging_dir(const Daemon& d, const std::string& id) { return d.cfg.state + "/executions/mounts/" + id; }

// The config's entry the host path lies under, and the path below it.
std::pair<std::string, std::string> allowed_root(const ExecConfig& cfg, const std::string& host, const std::string& field) {
    for (const auto& a : cfg.mounts) {
        std::string root = a.size() > 1 && a.back() == '/' ? a.substr(0, a.size() - 1) : a;
        if (host == root) return {root, "."};
        if (root == "/" || host.rfind(root + "/", 0) == 0) return {root, host.substr(root == "/" ? 1 : root.size() + 1)};
    }
    throw Error(EACCES, field + ": \"" + host + "\" is not under any of config \"" + cfg.name + "\"'s mounts" +
                            (cfg.mounts.empty() ? " (it allows none)" : ""));
}

// The host path, opened beneath its allowed root. Throws naming the field.
UniqueFd open_allowed(const ExecConfig& cfg, const berth::v1::ExecMount& m, const std::string& field) {
    if (!clean_absolute(m.host_path()))
        throw Error(EINVAL, field + ".host_path: expected an absolute path without \".\" or \"..\", got \"" + m.host_path() + "\"");
    auto [root, rel] = allowed_root(cfg, m.host_path(), field + ".host_path");
    UniqueFd rootfd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rootfd) throw_errno(field + ".host_path: config \"" + cfg.name + "\"'s mount " + root);
    try {
        return open_in_root(rootfd.get(), rel, O_PATH);
    } catch (const Error& e) {
        // A path that is missing is the request's fault: InvalidArgument.
        throw Error(e.err() == ENOENT || e.err() == ENOTDIR ? EINVAL : e.err(),
                    field + ".host_path: \"" + m.host_path() + "\": " + std::strerror(e.err()));
    }
}

} // namespace

void check_mounts(const ExecConfig& cfg, const berth::v1::RunRequest& req) {
    for (int i = 0; i < req.mounts_size(); ++i) {
        const auto& m = req.mounts(i);
        std::string field = "mounts[" + std::to_string(i) + "]";
        open_allowed(cfg, m, field);
        if (!clean_absolute(m.container_path()) || m.container_path() == "/")
            throw Error(EINVAL, field + ".container_path: expected an absolute path (not /) without \".\" or \"..\", got \"" +
                                    m.container_path() + "\"");
    }
}

std::vector<runtime::v1::Mount> stage_mounts(const Daemon& d, const ExecConfig& cfg, const berth::v1::RunRequest& req,
                                             const std::string& id) {
    std::vector<runtime::v1::Mount> out;
    if (req.mounts().empty()) return out;
    check_mounts(cfg, req);   // again: it may have waited in the queue
    const std::string dir = staging_dir(d, id);
    image::make_dirs(dir, 0700);
    try {
        for (int i = 0; i < req.mounts_size(); ++i) {
            const auto& m = req.mounts(i);
            std::string field = "mounts[" + std::to_string(i) + "]";
            UniqueFd src = open_allowed(cfg, m, field);
            struct stat st;
            if (::fstat(src.get(), &st) < 0) throw_errno(field + ".host_path: stat");
            std::string point = dir + "/" + std::to_string(i);
            if (S_ISDIR(st.st_mode) ? ::mkdir(point.c_str(), 0700) < 0
                                    : ::mknodat(AT_FDCWD, point.c_str(), S_IFREG | 0600, 0) < 0)
                throw_errno("staging point " + point);
            if (::mount(fd_path(src.get()).c_str(), point.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
                throw_errno(field + ": bind " + m.host_path() + " onto " + point);
            runtime::v1::Mount cm;
            cm.set_host_path(point);
            cm.set_container_path(m.container_path());
            cm.set_readonly(m.readonly());
            out.push_back(std::move(cm));
        }
    } catch (...) {
        unstage_mounts(d, id);
        throw;
    }
    return out;
}

void unstage_mounts(const Daemon& d, const std::string& id) {
    const std::string dir = staging_dir(d, id);
    if (::access(dir.c_str(), F_OK) < 0) return;
    // Detach each point before anything is removed: never recurse into a
    // bound host dir.
    for (int i = 0;; ++i) {
        std::string point = dir + "/" + std::to_string(i);
        struct stat st;
        if (::lstat(point.c_str(), &st) < 0) break;
        if (::umount2(point.c_str(), MNT_DETACH) < 0 && errno != EINVAL)
            log::warn("execution " + id + ": unmount " + point + ": " + std::strerror(errno));
        if ((S_ISDIR(st.st_mode) ? ::rmdir(point.c_str()) : ::unlink(point.c_str())) < 0)
            log::warn("execution " + id + ": remove " + point + ": " + std::strerror(errno));
    }
    if (::rmdir(dir.c_str()) < 0) log::warn("execution " + id + ": remove " + dir + ": " + std::strerror(errno));
}

} // namespace berth::cri
