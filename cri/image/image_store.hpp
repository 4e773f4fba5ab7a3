// Image records under ROOT/images: one JSON file per image id (the config
// digest's hex), written atomically (temp, fsync, rename), holding what the
// CRI ImageService reports and what CreateContainer needs later. A record
// is written only after every blob and layer it names is in place, so after
// a crash an image is either complete or absent; load() rebuilds the names
// index from the records. Thread-safe.
#pragma once

#include "image.hpp"   // spec/image.hpp

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace berth::image {

struct ImageRecord {
    std::string id;                          // "sha256:..." of the config blob
    std::vector<std::string> repo_tags;      // "docker.io/library/busybox:latest"
    std::vector<std::string> repo_digests;   // "docker.io/library/busybox@sha256:<manifest>"
    std::string manifest_digest;             // the platform's manifest
    std::string index_digest;                // the index it came from, if any
    std::string config_digest;               // == id
    std::vector<std::string> layer_digests;  // compressed blobs, bottom first
    std::vector<std::string> diff_ids;       // bottom first
    std::vector<std::string> chain_ids;      // bottom first
    uint64_t size = 0;                       // manifest + config + layer blobs, as the registry counts it
    spec::image::ImageConfig config;         // parsed config blob (defaults for containers)
    std::string pulled_at;                   // RFC 3339
    bool pinned = false;
};

class ImageStore {
public:
    explicit ImageStore(std::string root);   // ROOT/images, created; loads every record
    // Add or replace the record with this id; its tags move to it from any
    // other image (which keeps its other names, or becomes untagged).
    void put(const ImageRecord& r);
    std::optional<ImageRecord> get(const std::string& id) const;
    // By id (full, "sha256:"-less, or a unique prefix of 12+ hex), tag
    // (normalised reference) or repo digest; nullopt if none.
    std::optional<ImageRecord> resolve(const std::string& ref_or_id) const;
    std::vector<ImageRecord> list() const;
    // Drop one name; the record goes when it has no names left and
    // `name` was not an id. Returns false if nothing matched. By id: the
    // whole record.
    bool remove(const std::string& ref_or_id);

private:
    std::string root_;
    mutable std::shared_mutex mu_;
    std::map<std::string, ImageRecord> by_id_;
};

} // namespace berth::image
