// PullImage's work: resolve the reference through the registry hosts,
// pick the host's platform from an index, fetch the manifest and config,
// then every layer (max_concurrent_downloads at once, each blob once even
// across concurrent pulls) and unpack each as soon as it is in, in
// parallel; the image record is written last, so an image is complete or
// absent.
#pragma once

#include "daemon.hpp"

#include <chrono>
#include <functional>
#include <string>

namespace berth::cri {

struct PullRequest {
    std::string ref;                 // as the client wrote it
    image::Credentials credentials;
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    std::function<bool()> cancelled;
};

image::ImageRecord pull_image(Daemon& d, const PullRequest& r);

} // namespace berth::cri
