// Directory trees of the image store (layers, container rootfs dirs): made,
// measured and removed without ever following a symlink or leaving the
// file system the tree starts on, since their contents come from images.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace berth::image {

// mkdir -p with `mode` for the dirs it creates.
void make_dirs(const std::string& path, unsigned mode = 0700);

// rm -rf of dirfd/name (dirfd may be AT_FDCWD): symlinks are removed, not
// followed; a directory on another file system (a mount point) stops the
// removal with EBUSY. No error if name is absent.
void remove_tree_at(int dirfd, const std::string& name);
void remove_tree(const std::string& path);

// Space (allocated blocks) and inodes under path, each inode counted once
// however many hardlinks it has; stays on path's file system.
struct TreeUsage {
    uint64_t bytes = 0, inodes = 0;
};
TreeUsage tree_usage(const std::string& path);

// Write dir/name atomically and durably: a temp file in dir (a name that
// starts with ".tmp-"), fsync, rename over name, fsync dir. A reader sees
// the old content or the new, never a part.
void write_file_durable(const std::string& dir, const std::string& name, std::string_view data,
                        unsigned mode = 0600);
// Temp files write_file_durable leaves when it dies halfway start with this.
inline constexpr std::string_view kTempPrefix = ".tmp-";

} // namespace berth::image
