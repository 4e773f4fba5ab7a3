#include "image_ops.hpp"

#include "rootfs.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

namespace berth::cri {

namespace {
int64_t now_ns() {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void fill(runtime::v1::FilesystemUsage& u, const std::string& mountpoint, uint64_t bytes, uint64_t inodes) {
    u.set_timestamp(now_ns());
    u.mutable_fs_id()->set_mountpoint(mountpoint);
    u.mutable_used_bytes()->set_value(bytes);
    u.mutable_inodes_used()->set_value(inodes);
}
} // namespace

// What images use (blobs and unpacked layers) under the root, and what
// containers' writable layers use under root/rootfs.
void image_fs_info(Daemon& d, runtime::v1::ImageFsInfoResponse& resp) {
    uint64_t bytes = d.content.disk_usage(), inodes = d.content.list().size();
    for (const auto& l : d.layers.list()) {
        bytes += l.bytes;
        inodes += l.inodes;
    }
    fill(*resp.add_image_filesystems(), d.cfg.root, bytes, inodes);
    uint64_t cbytes = 0, cinodes = 0;
    if (DIR* dir = ::opendir(d.rootfs_root().c_str())) {
        while (auto* e = ::readdir(dir)) {
            std::string id = e->d_name;
            if (id == "." || id == "..") continue;
            auto u = image::writable_layer_usage(d.rootfs_root(), id);
            cbytes += u.bytes;
            cinodes += u.inodes;
        }
        ::closedir(dir);
    }
    fill(*resp.add_container_filesystems(), d.rootfs_root(), cbytes, cinodes);
}

} // namespace berth::cri
