// Writes berth makes to procfs from inside the container (sysctls, LSM
// labels). A mount over a proc file, made by the image's hooks or raced in
// through a shared mount (CVE-2025-52881), would redirect such a write to
// another file: /proc/sys/kernel/core_pattern instead of a harmless sysctl.
// So the container's /proc is checked to be a procfs mount root, and every
// path beneath it is resolved without crossing a mount or following a
// symlink (openat2 RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH),
// and the file opened must itself be on procfs.
#pragma once

#include <string>
#include <string_view>

namespace berth {

// Write data to /proc/REL (REL relative, e.g. "sys/kernel/shmmax") of the
// caller's root. Throws Error naming the file, and saying so when a mount
// or symlink is in the way.
void write_procfs(const std::string& rel, std::string_view data);

// "PID/task/TID": /proc/thread-self without following its symlink.
std::string procfs_thread_self();

} // namespace berth
