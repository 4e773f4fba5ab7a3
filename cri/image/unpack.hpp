// One layer (a tar, plain, gzip or zstd) unpacked into a directory of its
// own with libarchive, as an overlayfs lower layer:
//   - whiteouts ".wh.NAME" become char 0/0 nodes, and ".wh..wh..opq" makes
//     its directory opaque (xattr trusted.overlay.opaque = "y");
//   - owners, modes, mtimes, xattrs (security.capability included),
//     hardlinks (inside the layer only) and device nodes are kept;
//   - every entry is hostile: "..", absolute names, and paths through a
//     symlink that leads out of the layer are refused with an Error naming
//     the entry (EINVAL, as for any malformed layer: the image is at fault,
//     not the caller's permissions), never followed; a hardlink to outside
//     likewise;
//   - the uncompressed stream is hashed on the way (the diff id) so the
//     caller can check it against the image config's rootfs.diff_ids;
//   - a layer bigger than the space left fails with ENOSPC naming the layer.
// On any error (or cancellation) the directory is removed again.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace berth::image {

struct UnpackResult {
    std::string diff_id;    // "sha256:<hex>" of the uncompressed tar stream
    uint64_t bytes = 0;     // of regular file content written
    uint64_t inodes = 0;    // entries created
};

// Unpack blob_path into dir (which must not exist; its parent must).
// `what` names the layer in errors ("layer sha256:... of docker.io/...").
UnpackResult unpack_layer(const std::string& blob_path, const std::string& dir, const std::string& what,
                          const std::function<bool()>& cancelled = {});

} // namespace berth::image
