// PullImage's work: resolve the reference through the registry hosts,
// pick the host's platform from an index, fetch the manifest and config,
// then every layer (max_concurrent_downloads at once, each blob once even
// across concurrent pulls) and unpack each as soon as it is in, in
// parallel; the image record is written last, so an image is complete or
// absent.
#pragma once

#include "daemon.hpp"
#include "image.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace berth::cri {

// What a pull reports as it goes (berth.v1.Images.Pull shows it): the
// layers once the manifest is in, bytes of each layer's blob as they
// arrive (all of them at once for a blob already stored), and each layer
// unpacked (or found unpacked).
struct PullEvent {
    enum class Kind { layers, fetched, unpacked } kind;
    size_t layer = 0;    // fetched, unpacked: which (bottom first)
    uint64_t bytes = 0;  // fetched: of the layer's blob, in so far
    const std::vector<spec::image::Descriptor>* layers = nullptr;   // layers: the manifest's
};

struct PullRequest {
    std::string ref;                 // as the client wrote it
    image::Credentials credentials;
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    std::function<bool()> cancelled;
    // Called from the pull's worker threads, several at once: must be
    // thread-safe and quick (no network writes).
    std::function<void(const PullEvent&)> progress;
};

image::ImageRecord pull_image(Daemon& d, const PullRequest& r);

} // namespace berth::cri
