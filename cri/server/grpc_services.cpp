#include "grpc_services.hpp"

#include "berth_config.h"
#include "image_ops.hpp"
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

grpc::Status RuntimeServiceV1::Version(grpc::ServerContext*, const VersionRequest*, VersionResponse* resp) {
    (void)d_;
    resp->set_version("0.1.0");   // the CRI "version" kubelet expects
    resp->set_runtime_name("berth");
    resp->set_runtime_version(BERTH_VERSION);
    resp->set_runtime_api_version("v1");
    return grpc::Status::OK;
}

} // namespace berth::cri
