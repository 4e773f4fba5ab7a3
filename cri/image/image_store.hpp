// Image records under ROOT/images: one JSON file per image id (<config
// digest's hex>.json), written atomically (temp, fsync, rename, fsync dir),
// holding what the CRI ImageService reports and what CreateContainer needs
// later. A record is written only after every blob and layer it names is in
// place, so after a crash an image is either complete or absent; the
// constructor loads every record and rebuilds the names index (temp files
// a crash left are removed; a tag two records claim, after a crash between
// their writes, goes to the one pulled last). Thread-safe.
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
    // The store's dir (ROOT/images), created; loads every record. A record
    // that does not parse is skipped (and kept on disk) and named in
    // load_errors(), for the daemon's log.
    explicit ImageStore(std::string root);
    const std::vector<std::string>& load_errors() const { return load_errors_; }
    // Add or replace the record with this id; its tags move to it from any
    // other image (which keeps its other names, or becomes untagged).
    void put(const ImageRecord& r);
    std::optional<ImageRecord> get(const std::string& id) const;
    // By id (full, "sha256:"-less, or a unique prefix of 12+ hex, with or
    // without "sha256:"), tag (normalised reference) or repo digest; nullopt
    // if none. A prefix of several ids throws EINVAL naming them.
    std::optional<ImageRecord> resolve(const std::string& ref_or_id) const;
    std::vector<ImageRecord> list() const;   // ordered by id
    // By tag or repo digest: drop that name; the record goes when it has no
    // tags left (an untagged image's last repo digest included). By id
    // (as resolve() takes it): the whole record. Returns false if nothing
    // matched.
    bool remove(const std::string& ref_or_id);

private:
    void write(const ImageRecord& r);
    std::optional<std::string> find_id(const std::string& ref_or_id, bool* by_id) const;
    std::string root_;
    mutable std::shared_mutex mu_;
    std::map<std::string, ImageRecord> by_id_;
    std::map<std::string, std::string> names_;   // tag or repo digest -> id
    std::vector<std::string> load_errors_;
};

} // namespace berth::image
