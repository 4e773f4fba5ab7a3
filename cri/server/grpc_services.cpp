#include "grpc_services.hpp"

#include "berth_config.h"
#include "image_ops.hpp"
#include "images_v1.hpp"
#include "json.hpp"
#include "status.hpp"

namespace berth::cri {

using namespace runtime::v1;

grpc::Status ImageServiceV1::ListImages(grpc::ServerContext*, const ListImagesRequest* req, ListImagesResponse* resp) {
    return guarded("ListImages", [&] { list_images(d_, *req, *resp); });
}

grpc::Status ImageServiceV1::ImageStatus(grpc::ServerContext*, const ImageStatusRequest* req,
                                         ImageStatusResponse* resp) {
    return guarded("ImageStatus", [&] { image_status(d_, *req, *resp); });
}

grpc::Status ImageServiceV1::PullImage(grpc::ServerContext* ctx, const PullImageRequest* req, PullImageResponse* resp) {
    return guarded("PullImage", [&] { pull_image_rpc(d_, *ctx, *req, *resp); });
}

grpc::Status ImageServiceV1::RemoveImage(grpc::ServerContext*, const RemoveImageRequest* req, RemoveImageResponse*) {
    return guarded("RemoveImage", [&] { remove_image(d_, *req); });
}

grpc::Status ImageServiceV1::ImageFsInfo(grpc::ServerContext*, const ImageFsInfoRequest*, ImageFsInfoResponse* resp) {
    return guarded("ImageFsInfo", [&] { image_fs_info(d_, *resp); });
}

grpc::Status ImagesV1::Load(grpc::ServerContext* ctx, grpc::ServerReader<berth::v1::LoadChunk>* in,
                            berth::v1::LoadResponse* resp) {
    return guarded("Load", [&] { load_images(d_, *ctx, *in, *resp); });
}

grpc::Status ImagesV1::Save(grpc::ServerContext* ctx, const berth::v1::SaveRequest* req,
                            grpc::ServerWriter<berth::v1::SaveChunk>* out) {
    return guarded("Save", [&] { save_images(d_, *ctx, *req, *out); });
}

grpc::Status ImagesV1::Pull(grpc::ServerContext* ctx, const PullImageRequest* req,
                            grpc::ServerWriter<berth::v1::PullProgress>* out) {
    return guarded("Pull", [&] { pull_image_stream(d_, *ctx, *req, *out); });
}

grpc::Status RuntimeServiceV1::Version(grpc::ServerContext*, const VersionRequest*, VersionResponse* resp) {
    (void)d_;
    resp->set_version("0.1.0");   // the CRI "version" kubelet expects
    resp->set_runtime_name("berth");
    resp->set_runtime_version(BERTH_VERSION);
    resp->set_runtime_api_version("v1");
    return grpc::Status::OK;
}

} // namespace berth::cri

namespace berth::cri {

// Honest about what this berthd serves: images only, so RuntimeReady is
// false (kubelet must not schedule pods here yet) and so is NetworkReady.
grpc::Status RuntimeServiceV1::Status(grpc::ServerContext*, const runtime::v1::StatusRequest* req,
                                      runtime::v1::StatusResponse* resp) {
    auto* rt = resp->mutable_status()->add_conditions();
    rt->set_type("RuntimeReady");
    rt->set_status(false);
    rt->set_reason("RuntimeServiceNotServed");
    rt->set_message("this berthd serves images only; pods and containers are not served yet");
    auto* net = resp->mutable_status()->add_conditions();
    net->set_type("NetworkReady");
    net->set_status(false);
    net->set_reason("NetworkPluginNotReady");
    net->set_message("no CNI network is configured");
    if (req->verbose()) {
        json::Writer w;
        w.begin_object();
        w.kv("root", d_.cfg.root).kv("state", d_.cfg.state).kv("listen", d_.cfg.listen);
        w.kv("registryConfig", d_.cfg.registry_config).kv("logLevel", log_level_name(d_.cfg.log_level));
        w.key("images").begin_object();
        w.kv("maxConcurrentDownloads", static_cast<int64_t>(d_.cfg.images.max_concurrent_downloads));
        w.kv("copyRootfs", d_.cfg.images.copy_rootfs);
        w.end_object();
        w.end_object();
        (*resp->mutable_info())["config"] = w.str();
    }
    return grpc::Status::OK;
}

} // namespace berth::cri
