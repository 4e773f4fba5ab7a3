#include "image_ops.hpp"

#include <cstdlib>

namespace berth::cri {

void to_cri_image(const image::ImageRecord& r, runtime::v1::Image& out) {
    out.set_id(r.id);
    for (const auto& t : r.repo_tags) out.add_repo_tags(t);
    for (const auto& d : r.repo_digests) out.add_repo_digests(d);
    out.set_size(r.size);
    out.set_pinned(r.pinned);
    out.mutable_spec()->set_image(r.id);
    // The image's user: a uid (with or without ":gid") fills uid, a name
    // username; kubelet's runAsNonRoot checks read these.
    std::string user = r.config.config.user.substr(0, r.config.config.user.find(':'));
    if (!user.empty()) {
        char* end = nullptr;
        long long uid = std::strtoll(user.c_str(), &end, 10);
        if (end && *end == '\0' && uid >= 0) out.mutable_uid()->set_value(uid);
        else out.set_username(user);
    }
}

} // namespace berth::cri
