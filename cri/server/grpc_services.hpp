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

// The RuntimeService: pods and containers (runtime_ops.hpp). Exec,
// Attach and PortForward answer Unimplemented until the streaming server;
// what is not overridden answers Unimplemented (gRPC's generated base).
class RuntimeServiceV1 final : public runtime::v1::RuntimeService::Service {
public:
    explicit RuntimeServiceV1(Daemon& d) : d_(d) {}
    grpc::Status Version(grpc::ServerContext*, const runtime::v1::VersionRequest*, runtime::v1::VersionResponse*) override;
    grpc::Status Status(grpc::ServerContext*, const runtime::v1::StatusRequest*, runtime::v1::StatusResponse*) override;
    grpc::Status RuntimeConfig(grpc::ServerContext*, const runtime::v1::RuntimeConfigRequest*, runtime::v1::RuntimeConfigResponse*) override;
    grpc::Status UpdateRuntimeConfig(grpc::ServerContext*, const runtime::v1::UpdateRuntimeConfigRequest*, runtime::v1::UpdateRuntimeConfigResponse*) override;
    grpc::Status RunPodSandbox(grpc::ServerContext*, const runtime::v1::RunPodSandboxRequest*, runtime::v1::RunPodSandboxResponse*) override;
    grpc::Status StopPodSandbox(grpc::ServerContext*, const runtime::v1::StopPodSandboxRequest*, runtime::v1::StopPodSandboxResponse*) override;
    grpc::Status RemovePodSandbox(grpc::ServerContext*, const runtime::v1::RemovePodSandboxRequest*, runtime::v1::RemovePodSandboxResponse*) override;
    grpc::Status PodSandboxStatus(grpc::ServerContext*, const runtime::v1::PodSandboxStatusRequest*, runtime::v1::PodSandboxStatusResponse*) override;
    grpc::Status ListPodSandbox(grpc::ServerContext*, const runtime::v1::ListPodSandboxRequest*, runtime::v1::ListPodSandboxResponse*) override;
    grpc::Status CreateContainer(grpc::ServerContext*, const runtime::v1::CreateContainerRequest*, runtime::v1::CreateContainerResponse*) override;
    grpc::Status StartContainer(grpc::ServerContext*, const runtime::v1::StartContainerRequest*, runtime::v1::StartContainerResponse*) override;
    grpc::Status StopContainer(grpc::ServerContext*, const runtime::v1::StopContainerRequest*, runtime::v1::StopContainerResponse*) override;
    grpc::Status RemoveContainer(grpc::ServerContext*, const runtime::v1::RemoveContainerRequest*, runtime::v1::RemoveContainerResponse*) override;
    grpc::Status ListContainers(grpc::ServerContext*, const runtime::v1::ListContainersRequest*, runtime::v1::ListContainersResponse*) override;
    grpc::Status ContainerStatus(grpc::ServerContext*, const runtime::v1::ContainerStatusRequest*, runtime::v1::ContainerStatusResponse*) override;
    grpc::Status ExecSync(grpc::ServerContext*, const runtime::v1::ExecSyncRequest*, runtime::v1::ExecSyncResponse*) override;
    grpc::Status ContainerStats(grpc::ServerContext*, const runtime::v1::ContainerStatsRequest*, runtime::v1::ContainerStatsResponse*) override;
    grpc::Status ListContainerStats(grpc::ServerContext*, const runtime::v1::ListContainerStatsRequest*, runtime::v1::ListContainerStatsResponse*) override;
    grpc::Status PodSandboxStats(grpc::ServerContext*, const runtime::v1::PodSandboxStatsRequest*, runtime::v1::PodSandboxStatsResponse*) override;
    grpc::Status ListPodSandboxStats(grpc::ServerContext*, const runtime::v1::ListPodSandboxStatsRequest*, runtime::v1::ListPodSandboxStatsResponse*) override;
    grpc::Status UpdateContainerResources(grpc::ServerContext*, const runtime::v1::UpdateContainerResourcesRequest*, runtime::v1::UpdateContainerResourcesResponse*) override;
    grpc::Status ReopenContainerLog(grpc::ServerContext*, const runtime::v1::ReopenContainerLogRequest*, runtime::v1::ReopenContainerLogResponse*) override;
    grpc::Status GetContainerEvents(grpc::ServerContext*, const runtime::v1::GetEventsRequest*, grpc::ServerWriter<runtime::v1::ContainerEventResponse>*) override;
    grpc::Status Exec(grpc::ServerContext*, const runtime::v1::ExecRequest*, runtime::v1::ExecResponse*) override;
    grpc::Status Attach(grpc::ServerContext*, const runtime::v1::AttachRequest*, runtime::v1::AttachResponse*) override;
    grpc::Status PortForward(grpc::ServerContext*, const runtime::v1::PortForwardRequest*, runtime::v1::PortForwardResponse*) override;

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

// berth.v1.Executions: workloads under execution configurations, for
// every caller the socket admits, each limited to its own.
class ExecutionsV1 final : public berth::v1::Executions::Service {
public:
    explicit ExecutionsV1(Daemon& d) : d_(d) {}
    grpc::Status ListConfigs(grpc::ServerContext*, const berth::v1::ListConfigsRequest*,
                             berth::v1::ListConfigsResponse*) override;
    grpc::Status Run(grpc::ServerContext*, const berth::v1::RunRequest*, berth::v1::RunResponse*) override;
    grpc::Status Wait(grpc::ServerContext*, const berth::v1::ExecutionRef*, berth::v1::Execution*) override;
    grpc::Status Get(grpc::ServerContext*, const berth::v1::ExecutionRef*, berth::v1::Execution*) override;
    grpc::Status List(grpc::ServerContext*, const berth::v1::ListRequest*, berth::v1::ListResponse*) override;
    grpc::Status Logs(grpc::ServerContext*, const berth::v1::LogsRequest*,
                      grpc::ServerWriter<berth::v1::LogChunk>*) override;
    grpc::Status Cancel(grpc::ServerContext*, const berth::v1::CancelRequest*, berth::v1::Execution*) override;
    grpc::Status Remove(grpc::ServerContext*, const berth::v1::ExecutionRef*, berth::v1::RemoveResponse*) override;
    grpc::Status Capacity(grpc::ServerContext*, const berth::v1::CapacityRequest*, berth::v1::CapacityResponse*) override;

private:
    // The work with the call's caller; PermissionDenied when unknown.
    grpc::Status as_caller(grpc::ServerContext* ctx, const char* method, const std::function<void(const Caller&)>& work);
    Daemon& d_;
};

// OK for a root caller; PermissionDenied naming the method and the caller
// otherwise, or when the call's connection is not one berthd accepted.
grpc::Status root_only(const Peers& peers, const grpc::ServerContext* ctx, const char* method);

} // namespace berth::cri
