// runtime.v1alpha2, for kubelet 1.20 to 1.25: the same messages on the wire
// as v1, so each call is re-read as its v1 message, served by the v1
// service, and its answer re-read as v1alpha2 (unknown fields survive both
// ways). Methods v1 does not serve answer Unimplemented here too.
#pragma once

#include "api_v1alpha2.grpc.pb.h"
#include "grpc_services.hpp"

namespace berth::cri {

#define BERTH_V1ALPHA2(M)                                                                                          \
    grpc::Status M(grpc::ServerContext* c, const runtime::v1alpha2::M##Request* q,                                  \
                   runtime::v1alpha2::M##Response* r) override;

class RuntimeServiceV1alpha2 final : public runtime::v1alpha2::RuntimeService::Service {
public:
    explicit RuntimeServiceV1alpha2(RuntimeServiceV1& v1) : v1_(v1) {}
    BERTH_V1ALPHA2(Version)
    BERTH_V1ALPHA2(Status)
    BERTH_V1ALPHA2(UpdateRuntimeConfig)
    BERTH_V1ALPHA2(RunPodSandbox)
    BERTH_V1ALPHA2(StopPodSandbox)
    BERTH_V1ALPHA2(RemovePodSandbox)
    BERTH_V1ALPHA2(PodSandboxStatus)
    BERTH_V1ALPHA2(ListPodSandbox)
    BERTH_V1ALPHA2(CreateContainer)
    BERTH_V1ALPHA2(StartContainer)
    BERTH_V1ALPHA2(StopContainer)
    BERTH_V1ALPHA2(RemoveContainer)
    BERTH_V1ALPHA2(ListContainers)
    BERTH_V1ALPHA2(ContainerStatus)
    BERTH_V1ALPHA2(ExecSync)
    BERTH_V1ALPHA2(ContainerStats)
    BERTH_V1ALPHA2(ListContainerStats)
    BERTH_V1ALPHA2(PodSandboxStats)
    BERTH_V1ALPHA2(ListPodSandboxStats)
    BERTH_V1ALPHA2(ReopenContainerLog)
    BERTH_V1ALPHA2(UpdateContainerResources)
    BERTH_V1ALPHA2(Exec)
    BERTH_V1ALPHA2(Attach)
    BERTH_V1ALPHA2(PortForward)

private:
    RuntimeServiceV1& v1_;
};

class ImageServiceV1alpha2 final : public runtime::v1alpha2::ImageService::Service {
public:
    explicit ImageServiceV1alpha2(ImageServiceV1& v1) : v1_(v1) {}
    BERTH_V1ALPHA2(ListImages)
    BERTH_V1ALPHA2(ImageStatus)
    BERTH_V1ALPHA2(PullImage)
    BERTH_V1ALPHA2(RemoveImage)
    BERTH_V1ALPHA2(ImageFsInfo)

private:
    ImageServiceV1& v1_;
};

#undef BERTH_V1ALPHA2

} // namespace berth::cri
