// berth.v1.Images' work (cri/proto/berth.proto), one file per RPC:
// images_load.cpp, images_save.cpp, images_pull_stream.cpp. The gRPC class
// ImagesV1 in grpc_services.cpp only calls them.
#pragma once

#include "berth.grpc.pb.h"
#include "daemon.hpp"

#include <grpcpp/server_context.h>
#include <grpcpp/support/sync_stream.h>

namespace berth::cri {

void load_images(Daemon& d, grpc::ServerContext& ctx, grpc::ServerReader<berth::v1::LoadChunk>& in,
                 berth::v1::LoadResponse& resp);
void save_images(Daemon& d, grpc::ServerContext& ctx, const berth::v1::SaveRequest& req,
                 grpc::ServerWriter<berth::v1::SaveChunk>& out);
void pull_image_stream(Daemon& d, grpc::ServerContext& ctx, const runtime::v1::PullImageRequest& req,
                       grpc::ServerWriter<berth::v1::PullProgress>& out);

} // namespace berth::cri
