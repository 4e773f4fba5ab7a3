// Garbage collection of the image store: blobs and layers that no image
// record and no container rootfs uses are removed, and ingests or unpacks a
// crash left behind. Runs after RemoveImage and at start-up.
#pragma once

#include "content_store.hpp"
#include "image_store.hpp"
#include "layer_store.hpp"

namespace berth::image {

struct GcResult { size_t blobs = 0, layers = 0; uint64_t bytes = 0; };

GcResult collect_garbage(const ImageStore& images, ContentStore& content, LayerStore& layers,
                         const std::vector<std::string>& leased_chain_ids);

} // namespace berth::image
