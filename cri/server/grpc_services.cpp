#include "grpc_services.hpp"

#include "berth_config.h"
#include "image_ops.hpp"
#include "runtime_ops.hpp"
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

grpc::Status RuntimeServiceV1::Version(grpc::ServerContext*, const VersionRequest* req, VersionResponse* resp) {
    (void)d_;
    resp->set_version("0.1.0");   // the CRI "version" kubelet expects
    resp->set_runtime_name("berth");
    resp->set_runtime_version(BERTH_VERSION);
    // kubelet asks with its own API version ("v1alpha2" from an old one).
    resp->set_runtime_api_version(req->version() == "v1alpha2" ? "v1alpha2" : "v1");
    return grpc::Status::OK;
}

grpc::Status RuntimeServiceV1::Status(grpc::ServerContext*, const StatusRequest* req, StatusResponse* resp) {
    return guarded("Status", [&] { runtime_status(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::RuntimeConfig(grpc::ServerContext*, const RuntimeConfigRequest*,
                                             RuntimeConfigResponse* resp) {
    return guarded("RuntimeConfig", [&] { runtime_config(d_, *resp); });
}

// kubelet sends the node's pod CIDRs: CNI's ipRanges capability.
grpc::Status RuntimeServiceV1::UpdateRuntimeConfig(grpc::ServerContext*, const UpdateRuntimeConfigRequest* req,
                                                   UpdateRuntimeConfigResponse*) {
    return guarded("UpdateRuntimeConfig", [&] { update_runtime_config(d_, *req); });
}

grpc::Status RuntimeServiceV1::RunPodSandbox(grpc::ServerContext*, const RunPodSandboxRequest* req,
                                             RunPodSandboxResponse* resp) {
    return guarded("RunPodSandbox", [&] { run_pod_sandbox(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::StopPodSandbox(grpc::ServerContext*, const StopPodSandboxRequest* req,
                                              StopPodSandboxResponse*) {
    return guarded("StopPodSandbox", [&] { stop_pod_sandbox(d_, *req); });
}

grpc::Status RuntimeServiceV1::RemovePodSandbox(grpc::ServerContext*, const RemovePodSandboxRequest* req,
                                                RemovePodSandboxResponse*) {
    return guarded("RemovePodSandbox", [&] { remove_pod_sandbox(d_, *req); });
}

grpc::Status RuntimeServiceV1::PodSandboxStatus(grpc::ServerContext*, const PodSandboxStatusRequest* req,
                                                PodSandboxStatusResponse* resp) {
    return guarded("PodSandboxStatus", [&] { pod_sandbox_status(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::ListPodSandbox(grpc::ServerContext*, const ListPodSandboxRequest* req,
                                              ListPodSandboxResponse* resp) {
    return guarded("ListPodSandbox", [&] { list_pod_sandbox(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::CreateContainer(grpc::ServerContext*, const CreateContainerRequest* req,
                                               CreateContainerResponse* resp) {
    return guarded("CreateContainer", [&] { create_container(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::StartContainer(grpc::ServerContext*, const StartContainerRequest* req,
                                              StartContainerResponse*) {
    return guarded("StartContainer", [&] { start_container(d_, *req); });
}

grpc::Status RuntimeServiceV1::StopContainer(grpc::ServerContext*, const StopContainerRequest* req,
                                             StopContainerResponse*) {
    return guarded("StopContainer", [&] { stop_container(d_, *req); });
}

grpc::Status RuntimeServiceV1::RemoveContainer(grpc::ServerContext*, const RemoveContainerRequest* req,
                                               RemoveContainerResponse*) {
    return guarded("RemoveContainer", [&] { remove_container(d_, *req); });
}

grpc::Status RuntimeServiceV1::ListContainers(grpc::ServerContext*, const ListContainersRequest* req,
                                              ListContainersResponse* resp) {
    return guarded("ListContainers", [&] { list_containers(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::ContainerStatus(grpc::ServerContext*, const ContainerStatusRequest* req,
                                               ContainerStatusResponse* resp) {
    return guarded("ContainerStatus", [&] { container_status(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::ExecSync(grpc::ServerContext* ctx, const ExecSyncRequest* req, ExecSyncResponse* resp) {
    return guarded("ExecSync", [&] { exec_sync(d_, *ctx, *req, *resp); });
}

grpc::Status RuntimeServiceV1::ContainerStats(grpc::ServerContext*, const ContainerStatsRequest* req,
                                              ContainerStatsResponse* resp) {
    return guarded("ContainerStats", [&] { container_stats(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::ListContainerStats(grpc::ServerContext*, const ListContainerStatsRequest* req,
                                                  ListContainerStatsResponse* resp) {
    return guarded("ListContainerStats", [&] { list_container_stats(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::PodSandboxStats(grpc::ServerContext*, const PodSandboxStatsRequest* req,
                                               PodSandboxStatsResponse* resp) {
    return guarded("PodSandboxStats", [&] { pod_sandbox_stats(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::ListPodSandboxStats(grpc::ServerContext*, const ListPodSandboxStatsRequest* req,
                                                   ListPodSandboxStatsResponse* resp) {
    return guarded("ListPodSandboxStats", [&] { list_pod_sandbox_stats(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::UpdateContainerResources(grpc::ServerContext*, const UpdateContainerResourcesRequest* req,
                                                        UpdateContainerResourcesResponse*) {
    return guarded("UpdateContainerResources", [&] { update_container_resources(d_, *req); });
}

grpc::Status RuntimeServiceV1::ReopenContainerLog(grpc::ServerContext*, const ReopenContainerLogRequest* req,
                                                  ReopenContainerLogResponse*) {
    return guarded("ReopenContainerLog", [&] { reopen_container_log(d_, *req); });
}

grpc::Status RuntimeServiceV1::GetContainerEvents(grpc::ServerContext* ctx, const GetEventsRequest*,
                                                  grpc::ServerWriter<ContainerEventResponse>* out) {
    return guarded("GetContainerEvents", [&] { get_container_events(d_, *ctx, *out); });
}

grpc::Status RuntimeServiceV1::Exec(grpc::ServerContext*, const ExecRequest* req, ExecResponse* resp) {
    return guarded("Exec", [&] { exec(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::Attach(grpc::ServerContext*, const AttachRequest* req, AttachResponse* resp) {
    return guarded("Attach", [&] { attach(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::PortForward(grpc::ServerContext*, const PortForwardRequest* req,
                                           PortForwardResponse* resp) {
    return guarded("PortForward", [&] { port_forward(d_, *req, *resp); });
}

} // namespace berth::cri
