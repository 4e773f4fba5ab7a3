#include "image_ops.hpp"

#include "error.hpp"
#include "log.hpp"

namespace berth::cri {

// Idempotent: an image that is not there is already removed. Every name of
// the image goes, as CRI asks; what no image or container uses any more is
// collected.
void remove_image(Daemon& d, const runtime::v1::RemoveImageRequest& req) {
    const std::string& ref = req.image().image();
    if (ref.empty()) throw Error(EINVAL, "RemoveImage: image.image: required");
    auto r = d.images.resolve(ref);
    if (!r) return;
    d.images.remove(r->id);
    log::info("removed image " + r->id + " (" + ref + ")");
    d.request_gc();
}

} // namespace berth::cri
