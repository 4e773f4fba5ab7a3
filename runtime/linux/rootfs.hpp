// Building the container's filesystem view inside its mount namespace.
#pragma once

#include "cgroup.hpp"
#include "config.hpp"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace berth {

struct RootfsContext {
    const spec::Config* config = nullptr;
    std::string rootfs;           // absolute host path
    std::string bundle;           // absolute; relative bind sources start here
    bool userns = false;          // devices are bind-mounted, not created
    bool no_pivot = false;
    // False when the container shares the runtime's mount namespace: then
    // nothing is mounted (create refused what needs mounts) and the root is
    // entered with chroot.
    bool own_mount_ns = true;
    std::vector<std::pair<cgroup::Hierarchy, std::string>> cgroup_dirs;
    // Per config.mounts index: a detached clone of a bind source made on the
    // host side (open_tree), where the init could not open it itself (in a
    // user namespace); -1 or missing: the init opens the source.
    std::vector<int> bind_sources;
    bool dev_readonly = false;    // set by mount_entry: /dev is made read-only once populated
    int rootfd = -1;              // O_PATH fd of the rootfs mount, set by prepare_rootfs
    // Called with every mount and device in place, before pivot_root: where
    // the createRuntime and createContainer hooks run.
    std::function<void()> before_pivot;
};

// Before pivot: propagation, rootfs self-bind, every configured mount onto
// fds resolved inside the rootfs, device nodes; then pivot_root (or
// MS_MOVE + chroot with no_pivot). Leaves cwd at the new "/".
void prepare_rootfs(RootfsContext& ctx);

// After pivot: sysctls, masked and read-only paths, read-only /dev and root.
void finalize_rootfs(const RootfsContext& ctx);

// mounts.cpp: entry `index` of config.mounts.
void mount_entry(const spec::Mount& m, size_t index, RootfsContext& ctx);
// devices.cpp: default devices, linux.devices and the /dev symlinks.
void create_devices(RootfsContext& ctx);

} // namespace berth
