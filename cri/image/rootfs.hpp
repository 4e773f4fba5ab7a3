// A container's root filesystem from an image's layers: an overlay mount of
// the layers (lowerdir, top first; index=off where the kernel has it, as
// containerd does) with an upper and work dir of the container's own, under
// ROOT/rootfs/<container id>/{upper,work,merged}, or (no overlayfs, or asked
// for) a full copy of the layers into merged/. The mount is made in
// berthd's mount namespace (the host's), where the pod's shim finds it.
// ROOT/rootfs/<id>/leases records which chain ids a rootfs uses, for GC.
// `root` below is the rootfs dir itself (ROOT/rootfs). Kernels with
// "lowerdir+" (6.8) take any number of layers; older ones what fits a page
// of mount options (E2BIG beyond). No fork, no chdir: berthd is threaded.
#pragma once

#include <string>
#include <vector>

namespace berth::image {

struct RootfsOptions {
    bool copy = false;        // copy the layers instead of an overlay mount
    std::string mount_label;  // SELinux context= option, when set
    bool legacy_mount = false;  // mount(2) with one option string, as before Linux 6.8 (for tests)
};

// Make the rootfs of container `id`; returns the path of merged/. On error
// nothing is left; EEXIST if id has one. `lowers` are layer fs dirs, bottom
// first (image order). A kernel without overlayfs (ENODEV) gets the copy.
std::string prepare_rootfs(const std::string& root, const std::string& id, const std::vector<std::string>& lowers,
                           const std::vector<std::string>& chain_ids, const RootfsOptions& o = {});
// Unmount and remove everything of container id's rootfs; no error if absent.
void remove_rootfs(const std::string& root, const std::string& id);
// Chain ids in use by existing container rootfs dirs (GC keeps those layers).
std::vector<std::string> rootfs_leases(const std::string& root);
// Bytes and inodes of container id's writable layer (CRI ContainerStats).
struct Usage { uint64_t bytes = 0, inodes = 0; };
Usage writable_layer_usage(const std::string& root, const std::string& id);

} // namespace berth::image
