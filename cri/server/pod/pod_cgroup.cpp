#include "pod_cgroup.hpp"

#include "cgroup.hpp"
#include "cgroup_systemd.hpp"
#include "error.hpp"
#include "file_util.hpp"
#include "log.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace berth::cri {

namespace {

// systemd nests slices by name: "a-b.slice" is in "a.slice"; "a.slice" in
// the root slice "-.slice".
std::string parent_slice(const std::string& slice) {
    std::string stem = slice.substr(0, slice.size() - 6);
    auto dash = stem.rfind('-');
    return dash == std::string::npos ? "-.slice" : stem.substr(0, dash) + ".slice";
}

std::string slice_cgroups_path(const std::string& slice) { return parent_slice(slice) + ":berth:" + slice; }

// Its dir in each hierarchy, when empty (the containers' went with them).
void remove_dirs(const std::string& path) {
    if (path.empty() || path.find("..") != std::string::npos) return;
    std::vector<std::string> dirs = {"/sys/fs/cgroup" + path};
    if (DIR* d = ::opendir("/sys/fs/cgroup")) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') dirs.push_back(std::string("/sys/fs/cgroup/") + e->d_name + path);
        ::closedir(d);
    }
    for (const auto& dir : dirs)
        if (::rmdir(dir.c_str()) < 0 && errno != ENOENT && errno != ENOTDIR)
            log::warn("remove cgroup " + dir + ": " + std::strerror(errno));
}

// Whether anything is in cgroup `path` (from the hierarchies' roots), in any
// hierarchy: a process, or a cgroup below it.
bool in_use(const std::string& path) {
    for (const auto& h : cgroup::host_hierarchies()) {
        std::string dir = h.mountpoint + path;
        DIR* d = ::opendir(dir.c_str());
        if (!d) continue;   // not in this hierarchy
        bool below = false;
        while (dirent* e = ::readdir(d))
            if (e->d_type == DT_DIR && e->d_name[0] != '.') below = true;
        ::closedir(d);
        if (below) return true;
        try {
            if (!read_file(dir + "/cgroup.procs").empty()) return true;
        } catch (const Error&) {
            // gone meanwhile
        }
    }
    return false;
}

} // namespace

std::string own_pod_cgroup_name(const std::string& parent, bool systemd, const std::string& id) {
    std::string short_id = id.substr(0, 16);
    if (!systemd) return parent + "/pod-" + short_id;
    std::string stem = parent.substr(0, parent.size() - 6);   // the config checked ".slice"
    return (stem == "-" ? "" : stem + "-") + "pod" + short_id + ".slice";
}

void make_pod_cgroup(const std::string& name, bool systemd, const std::string& id,
                     const std::optional<spec::Resources>& limits) {
    with_context("the pod cgroup " + name, [&] {
        if (!systemd) {
            auto cg = cgroup::open(name);
            cg->create();
            if (limits) cg->set(*limits);
            return;
        }
        // A transient slice, started with its limits and no process (as
        // kubelet's systemd driver makes pod slices); its containers' scopes
        // go in it.
        auto cg = cgroup::open_new(slice_cgroups_path(name), id, cgroup::Driver::systemd);
        if (limits) cg->set(*limits);
        try {
            cg->add(0);
        } catch (const Error& e) {
            // Started already (by an earlier Run, for an execution config's
            // slice): its limits are updated instead.
            if (e.err() != EEXIST) throw;
            if (limits) cgroup::open(slice_cgroups_path(name), {}, cgroup::Driver::systemd)->set(*limits);
        }
    });
}

void remove_pod_cgroup(const std::string& name, bool systemd, const std::string& id) {
    if (!systemd) {
        remove_dirs(name);
        return;
    }
    try {
        cgroup::open(slice_cgroups_path(name), {}, cgroup::Driver::systemd)->destroy();
    } catch (const std::exception& e) {
        log::warn("remove the pod slice " + name + ": " + e.what());
    }
}

std::string parent_cgroup_name(const std::string& name, bool systemd) {
    if (systemd) return parent_slice(name);
    auto slash = name.rfind('/');
    return slash == 0 || slash == std::string::npos ? "/" : name.substr(0, slash);
}

bool remove_cgroup_if_empty(const std::string& name, bool systemd) {
    try {
        std::string path = systemd ? cgroup::systemd::expand_slice(name) : name;
        if (path.empty() || path == "/" || path.find("..") != std::string::npos)
            throw Error(EINVAL, "not a cgroup berthd made");
        if (in_use(path)) return false;
        if (systemd) {
            cgroup::open(slice_cgroups_path(name), {}, cgroup::Driver::systemd)->destroy();
            return true;
        }
        bool gone = true;
        for (const auto& h : cgroup::host_hierarchies()) {
            std::string dir = h.mountpoint + path;
            if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) continue;
            if (errno != EBUSY) throw_errno("remove " + dir);
            gone = false;   // something was made in it after all
        }
        return gone;
    } catch (const std::exception& e) {
        log::warn("remove the cgroup " + name + ": " + e.what());
        return false;
    }
}

} // namespace berth::cri
