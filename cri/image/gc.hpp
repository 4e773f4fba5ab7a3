// Garbage collection of the image store: blobs and layers that no image
// record and no lease (a container rootfs, a pull in flight) uses are
// removed, and ingests or unpacks a crash left behind. Runs after
// RemoveImage and at start-up. A pull must lease what it has fetched and
// unpacked until its image record is written, or a GC in between would
// take them.
#pragma once

#include "content_store.hpp"
#include "image_store.hpp"
#include "layer_store.hpp"

#include <chrono>

namespace berth::image {

struct GcResult { size_t blobs = 0, layers = 0; uint64_t bytes = 0; };

struct GcOptions {
    std::vector<std::string> leased_chain_ids;   // rootfs_leases(), layers of pulls in flight
    std::vector<std::string> leased_digests;     // blobs of pulls in flight
    // Ingests untouched this long are dropped (a younger one may be resumed).
    std::chrono::seconds ingest_max_age = std::chrono::hours(1);
};

GcResult collect_garbage(const ImageStore& images, ContentStore& content, LayerStore& layers, const GcOptions& o);
// The same with only chain id leases.
GcResult collect_garbage(const ImageStore& images, ContentStore& content, LayerStore& layers,
                         const std::vector<std::string>& leased_chain_ids);

} // namespace berth::image
