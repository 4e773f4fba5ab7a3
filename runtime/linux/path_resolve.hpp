// Paths inside a container rootfs are hostile: a symlink in the image may
// point anywhere. Everything here resolves with the rootfs as "/" (openat2
// RESOLVE_IN_ROOT) and hands back O_PATH fds, so mounts land on the exact
// inode that was checked and never on a path the container could swap.
#pragma once

#include "fd.hpp"

#include <sys/types.h>

#include <string>

namespace berth {

// Open `path` (absolute or relative, both taken from the root) inside rootfd.
// flags are open(2) flags (O_PATH is typical). Throws Error naming the path.
UniqueFd open_in_root(int rootfd, const std::string& path, int flags);

// The same resolution without openat2, by walking component by component:
// what open_in_root falls back to on kernels before 5.6 (exposed for tests).
UniqueFd open_in_root_walk(int rootfd, const std::string& path, int flags);

// Like open_in_root, but creates missing directories (mkdir -p) inside the
// root first. Returns an O_PATH fd to the directory.
UniqueFd mkdir_in_root(int rootfd, const std::string& path, mode_t mode = 0755);

// Ensure a regular file exists at path inside the root (parents created),
// e.g. as a bind-mount target. Returns an O_PATH fd to it.
UniqueFd mkfile_in_root(int rootfd, const std::string& path, mode_t mode = 0644);

// "/proc/self/fd/N": a path the kernel resolves to exactly that fd's inode.
std::string fd_path(int fd);

// Split "a/b/../c" into parent ("a/b/..") and last component ("c").
void split_last(const std::string& path, std::string& parent, std::string& name);

} // namespace berth
