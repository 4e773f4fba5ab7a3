// The copy fallback of a container rootfs: the layers (overlayfs lower
// dirs, as unpack.hpp makes them) copied bottom first into one directory,
// applying their whiteouts (char 0/0 removes the name below) and opaque
// directories (trusted.overlay.opaque=y hides everything below), so the
// result reads like the overlay mount would. Owners, modes, times, xattrs
// (not trusted.overlay.*), hardlinks within a layer, symlinks and device
// nodes are kept; nothing is followed.
#pragma once

#include <string>
#include <vector>

namespace berth::image {

// dest must be an empty directory; lowers are bottom first.
void copy_layers(const std::vector<std::string>& lowers, const std::string& dest);

} // namespace berth::image
