// Image archives in and out of the store:
//   - an OCI archive: an OCI image layout (oci-layout, index.json,
//     blobs/sha256/<hex>) as a tar, as skopeo's oci-archive:, umoci's
//     layout tarred, or `podman save --format oci-archive` write it;
//     images are named by the index entries' org.opencontainers.image.ref.name
//     (or containerd's io.containerd.image.name) annotations;
//   - a docker-archive, as `docker save`, `podman save --format
//     docker-archive` and skopeo's docker-archive: write it: manifest.json
//     ([{Config, RepoTags, Layers}]) naming the config and layer files
//     (uncompressed tars, whose digests are the diff ids, or gzip/zstd);
//     the legacy repositories file and per-layer json are not needed.
// The whole archive may be gzip, zstd, xz or bzip2 compressed.
//
// Reading takes two passes over a file (the archive streamed to disk
// first, so memory stays bounded): read_archive() hashes every member and
// keeps only small JSON documents in memory, then checks all it can before
// anything is stored (format, every blob named present with its digest and
// size, configs parse, layer counts, uncompressed docker layers against
// their diff ids) and answers a plan; store_archive() copies the plan's
// blobs into the content store, each verified again. Names inside the
// archive never touch the file system: manifest.json's paths and symlinks
// are resolved within the archive's own member names, and one leading out
// of it is an error. Errors are EINVAL naming the member or JSON field.
#pragma once

#include "content_store.hpp"
#include "image.hpp"
#include "image_store.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace berth::image {

enum class ArchiveFormat { oci, docker };
std::string_view archive_format_name(ArchiveFormat f);   // "oci-archive", "docker-archive"
// From a name as berthctl and podman spell it ("": docker-archive, podman's
// default); EINVAL for another.
ArchiveFormat parse_archive_format(std::string_view name);

struct ArchiveOptions {
    // An OCI ref.name that is a bare tag ("latest", as umoci writes) names
    // base_name:tag; without base_name such an image is loaded unnamed.
    std::string base_name;
    // Names the one image the archive leaves unnamed (EINVAL if several are).
    std::string tag;
    spec::image::Platform platform = spec::image::host_platform();
    size_t max_members = 100000;
    uint64_t max_document_bytes = 4 << 20;    // one JSON document kept in memory
    uint64_t max_documents_bytes = 64 << 20;  // all of them
};

// A blob the archive holds: the tar member with its bytes.
struct ArchiveBlob {
    std::string digest;
    int64_t size = 0;
    size_t member = 0;   // ordinal of the tar entry (1 = the first)
    std::string name;    // the member's name, for errors
};

struct ArchiveImage {
    std::vector<std::string> tags;   // normalised ("docker.io/library/busybox:latest")
    std::string index_digest;        // OCI: the index its manifest was picked from
    std::string manifest_digest;
    std::string config_digest;       // the image id
    std::vector<std::string> layer_digests;   // bottom first
    spec::image::ImageConfig config;          // diff_ids: bottom first
    uint64_t size = 0;                        // manifest + config + layer blobs
};

struct ArchivePlan {
    ArchiveFormat format = ArchiveFormat::oci;
    std::vector<ArchiveImage> images;
    std::vector<ArchiveBlob> blobs;               // each digest once
    std::map<std::string, std::string> documents; // digest -> bytes berth made (docker-archive manifests)
};

// Pass one over the archive in fd (read with pread from offset 0).
ArchivePlan read_archive(int fd, const ArchiveOptions& o);

// Pass two: the plan's blobs and documents into the content store (blobs
// already there are skipped). EINVAL if the archive no longer matches.
void store_archive(int fd, const ArchivePlan& plan, ContentStore& content,
                   const std::function<bool()>& cancelled = {});

// An image to save, under the names given (none: unnamed in the archive).
struct ArchiveExport {
    ImageRecord record;
    std::vector<std::string> tags;
};

// Write images from the content store as an archive; `out` receives the
// bytes in pieces (and may throw to stop). OCI: the stored OCI manifests
// and blobs as they are (a Docker schema 2 manifest written again with the
// OCI media types, the same config and layers), one index entry per tag
// with ref.name and io.containerd.image.name set to the full name. docker-archive:
// <config hex>.json, <diff id hex>/layer.tar (layers decompressed, checked
// against their diff ids) and manifest.json with RepoTags.
void write_archive(ArchiveFormat f, const std::vector<ArchiveExport>& images, const ContentStore& content,
                   const std::function<void(const char*, size_t)>& out, const std::function<bool()>& cancelled = {});

} // namespace berth::image
