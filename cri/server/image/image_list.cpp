#include "image_ops.hpp"

namespace berth::cri {

void list_images(Daemon& d, const runtime::v1::ListImagesRequest& req, runtime::v1::ListImagesResponse& resp) {
    const std::string& want = req.filter().image().image();
    if (!want.empty()) {
        if (auto r = d.images.resolve(want)) to_cri_image(*r, *resp.add_images());
        return;
    }
    for (const auto& r : d.images.list()) to_cri_image(r, *resp.add_images());
}

} // namespace berth::cri
