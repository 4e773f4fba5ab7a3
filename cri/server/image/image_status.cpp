#include "image_ops.hpp"

#include "error.hpp"
#include "json.hpp"

namespace berth::cri {

void image_status(Daemon& d, const runtime::v1::ImageStatusRequest& req, runtime::v1::ImageStatusResponse& resp) {
    const std::string& ref = req.image().image();
    if (ref.empty()) throw Error(EINVAL, "ImageStatus: image.image: required");
    auto r = d.images.resolve(ref);
    if (!r) return;   // CRI: an absent image is an empty answer, not an error
    to_cri_image(*r, *resp.mutable_image());
    if (!req.verbose()) return;
    json::Writer w;
    w.begin_object();
    w.kv("manifestDigest", r->manifest_digest);
    if (!r->index_digest.empty()) w.kv("indexDigest", r->index_digest);
    w.kv("pulledAt", r->pulled_at);
    w.key("layers").string_array(r->layer_digests);
    w.key("diffIDs").string_array(r->diff_ids);
    w.key("chainIDs").string_array(r->chain_ids);
    const auto& c = r->config.config;
    w.key("config").begin_object();
    w.kv("user", c.user).kv("workingDir", c.working_dir).kv("stopSignal", c.stop_signal);
    w.key("entrypoint").string_array(c.entrypoint);
    w.key("cmd").string_array(c.cmd);
    w.key("env").string_array(c.env);
    w.key("volumes").string_array(c.volumes);
    w.key("exposedPorts").string_array(c.exposed_ports);
    w.key("labels").string_map(c.labels);
    w.end_object();
    w.kv("os", r->config.os).kv("architecture", r->config.architecture).kv("created", r->config.created);
    w.end_object();
    (*resp.mutable_info())["info"] = w.str();
}

} // namespace berth::cri
