// The gRPC services berthd serves: thin classes that convert nothing but
// the status and call the operation files. Serving runtime.v1alpha2 beside
// v1 (issue 14) is one more thin layer of the same shape.
#pragma once

#include "api.grpc.pb.h"
#include "berth.grpc.pb.h"
#include "daemon.hpp"

namespace berth::cri {

class ImageServiceV1 final : public runtime::v1::ImageService::Service {
public:
    explicit ImageServiceV1(Daemon& d) : d_(d) {}
    grpc::Status ListImages(grpc::ServerContext*, const runtime::v1::ListImagesRequest*,
                            runtime::v1::ListImagesResponse*) override;
    grpc::Status ImageStatus(grpc::ServerContext*, const runtime::v1::ImageStatusRequest*,
                             runtime::v1::ImageStatusResponse*) override;
    grpc::Status PullImage(grpc::ServerContext*, const runtime::v1::PullImageRequest*,
                           runtime::v1::PullImageResponse*) override;
    grpc::Status RemoveImage(grpc::ServerContext*, const runtime::v1::RemoveImageRequest*,
                             runtime::v1::RemoveImageResponse*) override;
    grpc::Status ImageFsInfo(grpc::ServerContext*, const runtime::v1::ImageFsInfoRequest*,
                             runtime::v1::ImageFsInfoResponse*) override;

private:
    Daemon& d_;
};

// Version and Status until the RuntimeService lands (issue 14); the rest
// answer Unimplemented, which gRPC's generated base does.
class RuntimeServiceV1 final : public runtime::v1::RuntimeService::Service {
public:
    explicit RuntimeServiceV1(Daemon& d) : d_(d) {}
    grpc::Status Version(grpc::ServerContext*, const runtime::v1::VersionRequest*,
                         runtime::v1::VersionResponse*) override;
    grpc::Status Status(grpc::ServerContext*, const runtime::v1::StatusRequest*,
                        runtime::v1::StatusResponse*) override;

private:
    Daemon& d_;
};

// berthd's own berth.v1.Images (cri/proto/berth.proto): archives in and
// out, and a pull that streams its progress.
class ImagesV1 final : public berth::v1::Images::Service {
public:
    explicit ImagesV1(Daemon& d) : d_(d) {}
    grpc::Status Load(grpc::ServerContext*, grpc::ServerReader<berth::v1::LoadChunk>*,
                      berth::v1::LoadResponse*) override;
    grpc::Status Save(grpc::ServerContext*, const berth::v1::SaveRequest*,
                      grpc::ServerWriter<berth::v1::SaveChunk>*) override;
    grpc::Status Pull(grpc::ServerContext*, const runtime::v1::PullImageRequest*,
                      grpc::ServerWriter<berth::v1::PullProgress>*) override;

private:
    Daemon& d_;
};

} // namespace berth::cri
