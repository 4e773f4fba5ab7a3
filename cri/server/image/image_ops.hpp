// The ImageService's work, one function per RPC (each in its own file:
// image_list.cpp, image_status.cpp, image_pull_rpc.cpp, image_remove.cpp,
// image_fs_info.cpp). They take and fill the CRI v1 messages; the gRPC
// classes in grpc_services.cpp only call them.
#pragma once

#include "api.pb.h"
#include "daemon.hpp"
#include "image_pull.hpp"

#include <grpcpp/server_context.h>

namespace berth::cri {

void list_images(Daemon& d, const runtime::v1::ListImagesRequest& req, runtime::v1::ListImagesResponse& resp);
void image_status(Daemon& d, const runtime::v1::ImageStatusRequest& req, runtime::v1::ImageStatusResponse& resp);
void pull_image_rpc(Daemon& d, grpc::ServerContext& ctx, const runtime::v1::PullImageRequest& req,
                    runtime::v1::PullImageResponse& resp);
// A pull as PullImage asks it (also berth.v1.Images.Pull's request).
PullRequest cri_pull_request(grpc::ServerContext& ctx, const runtime::v1::PullImageRequest& req);
void remove_image(Daemon& d, const runtime::v1::RemoveImageRequest& req);
void image_fs_info(Daemon& d, runtime::v1::ImageFsInfoResponse& resp);

// An image record as CRI reports it.
void to_cri_image(const image::ImageRecord& r, runtime::v1::Image& out);

} // namespace berth::cri
