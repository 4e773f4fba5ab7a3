// berth.v1.Images.Save: images by name or id, written from the content
// store as one archive (cri/image/archive.hpp) and streamed back in
// chunks of 1 MiB. The blobs are held against GC while they are read.
#include "images_v1.hpp"

#include "archive.hpp"
#include "error.hpp"
#include "log.hpp"
#include "reference.hpp"

#include <algorithm>

namespace berth::cri {

namespace {

constexpr size_t kChunk = 1 << 20;

// Named by one of its tags: that tag; by id or digest: all its tags.
std::vector<std::string> tags_for(const std::string& name, const image::ImageRecord& r) {
    if (!image::looks_like_image_id(name) && name.find('@') == std::string::npos) {
        try {
            std::string t = image::parse_reference(name).with_tag();
            if (std::find(r.repo_tags.begin(), r.repo_tags.end(), t) != r.repo_tags.end()) return {t};
        } catch (const Error&) {
            // an id prefix: all tags
        }
    }
    return r.repo_tags;
}

} // namespace

void save_images(Daemon& d, grpc::ServerContext& ctx, const berth::v1::SaveRequest& req,
                 grpc::ServerWriter<berth::v1::SaveChunk>& out) {
    auto format = image::parse_archive_format(req.format());
    if (req.images().empty()) throw Error(EINVAL, "Save: images: at least one image is required");
    Daemon::PullGuard guard(d);
    std::vector<image::ArchiveExport> images;
    for (const auto& name : req.images()) {
        if (name.empty()) throw Error(EINVAL, "Save: images: an empty name");
        auto r = d.images.resolve(name);
        if (!r) throw Error(ENOENT, "Save: no image \"" + name + "\"");
        images.push_back({*r, tags_for(name, *r)});
    }
    berth::v1::SaveChunk chunk;
    uint64_t bytes = 0;
    auto flush = [&] {
        if (chunk.data().empty()) return;
        bytes += chunk.data().size();
        if (!out.Write(chunk)) throw Error(ECANCELED, "Save: the client went away");
        chunk.mutable_data()->clear();
    };
    chunk.mutable_data()->reserve(kChunk);
    image::write_archive(
        format, images, d.content,
        [&](const char* p, size_t n) {
            while (n) {
                size_t k = std::min(n, kChunk - chunk.data().size());
                chunk.mutable_data()->append(p, k);
                p += k;
                n -= k;
                if (chunk.data().size() == kChunk) flush();
            }
        },
        [&ctx] { return ctx.IsCancelled(); });
    flush();
    log::info("saved " + std::to_string(images.size()) + " image(s) as a " +
              std::string(image::archive_format_name(format)) + " of " + std::to_string(bytes) + " bytes");
}

} // namespace berth::cri
