#include "grpc_services.hpp"

#include "berth_config.h"
#include "image_ops.hpp"
#include "runtime_ops.hpp"
#include "executions.hpp"
#include "images_v1.hpp"
#include "json.hpp"
#include "status.hpp"

namespace berth::cri {

using namespace runtime::v1;

grpc::Status unknown_caller(const grpc::ServerContext* ctx, const char* method) {
    std::string peer = ctx->peer();
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        std::string(method) + ": " +
                            (peer.rfind("fd:", 0) == 0
                                 ? "the caller's connection is not one berthd accepted (" + peer + ")"
                                 : "no [tls.clients] entry maps the client certificate's Common Name (" + peer + ")"));
}

grpc::Status root_only(const Peers& peers, const grpc::ServerContext* ctx, const char* method) {
    auto c = peers.caller(*ctx);
    if (!c) return unknown_caller(ctx, method);
    if (!c->root())
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                            std::string(method) + ": the CRI services and berth.v1.Images are served to root only (kubelet); " +
                                c->describe() + " may use berth.v1.Executions");
    return grpc::Status::OK;
}

namespace {

// CRI's and berth.v1.Images' calls: kubelet's and the node admin's.
grpc::Status cri_call(const Daemon& d, const grpc::ServerContext* ctx, const char* method,
                      const std::function<void()>& work) {
    if (grpc::Status st = root_only(d.peers, ctx, method); !st.ok()) return st;
    return guarded(method, work);
}

} // namespace

grpc::Status ImageServiceV1::ListImages(grpc::ServerContext* ctx, const ListImagesRequest* req, ListImagesResponse* resp) {
    return cri_call(d_, ctx, "ListImages", [&] { list_images(d_, *req, *resp); });
}

grpc::Status ImageServiceV1::ImageStatus(grpc::ServerContext* ctx, const ImageStatusRequest* req,
                                         ImageStatusResponse* resp) {
    return cri_call(d_, ctx, "ImageStatus", [&] { image_status(d_, *req, *resp); });
}

grpc::Status ImageServiceV1::PullImage(grpc::ServerContext* ctx, const PullImageRequest* req, PullImageResponse* resp) {
    return cri_call(d_, ctx, "PullImage", [&] { pull_image_rpc(d_, *ctx, *req, *resp); });
}

grpc::Status ImageServiceV1::RemoveImage(grpc::ServerContext* ctx, const RemoveImageRequest* req, RemoveImageResponse*) {
    return cri_call(d_, ctx, "RemoveImage", [&] { remove_image(d_, *req); });
}

grpc::Status ImageServiceV1::ImageFsInfo(grpc::ServerContext* ctx, const ImageFsInfoRequest*, ImageFsInfoResponse* resp) {
    return cri_call(d_, ctx, "ImageFsInfo", [&] { image_fs_info(d_, *resp); });
}

grpc::Status ImagesV1::Load(grpc::ServerContext* ctx, grpc::ServerReader<berth::v1::LoadChunk>* in,
                            berth::v1::LoadResponse* resp) {
    return cri_call(d_, ctx, "Load", [&] { load_images(d_, *ctx, *in, *resp); });
}

grpc::Status ImagesV1::Save(grpc::ServerContext* ctx, const berth::v1::SaveRequest* req,
                            grpc::ServerWriter<berth::v1::SaveChunk>* out) {
    return cri_call(d_, ctx, "Save", [&] { save_images(d_, *ctx, *req, *out); });
}

grpc::Status ImagesV1::Pull(grpc::ServerContext* ctx, const PullImageRequest* req,
                            grpc::ServerWriter<berth::v1::PullProgress>* out) {
    return cri_call(d_, ctx, "Pull", [&] { pull_image_stream(d_, *ctx, *req, *out); });
}

grpc::Status RuntimeServiceV1::Version(grpc::ServerContext* ctx, const VersionRequest* req, VersionResponse* resp) {
    return cri_call(d_, ctx, "Version", [&] {
        resp->set_version("0.1.0");   // the CRI "version" kubelet expects
        resp->set_runtime_name("berth");
        resp->set_runtime_version(BERTH_VERSION);
        // kubelet asks with its own API version ("v1alpha2" from an old one).
        resp->set_runtime_api_version(req->version() == "v1alpha2" ? "v1alpha2" : "v1");
    });
}

grpc::Status RuntimeServiceV1::Status(grpc::ServerContext* ctx, const StatusRequest* req, StatusResponse* resp) {
    return cri_call(d_, ctx, "Status", [&] { runtime_status(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::RuntimeConfig(grpc::ServerContext* ctx, const RuntimeConfigRequest*,
                                             RuntimeConfigResponse* resp) {
    return cri_call(d_, ctx, "RuntimeConfig", [&] { runtime_config(d_, *resp); });
}

// kubelet sends the node's pod CIDRs: CNI's ipRanges capability.
grpc::Status RuntimeServiceV1::UpdateRuntimeConfig(grpc::ServerContext* ctx, const UpdateRuntimeConfigRequest* req,
                                                   UpdateRuntimeConfigResponse*) {
    return cri_call(d_, ctx, "UpdateRuntimeConfig", [&] { update_runtime_config(d_, *req); });
}

grpc::Status RuntimeServiceV1::RunPodSandbox(grpc::ServerContext* ctx, const RunPodSandboxRequest* req,
                                             RunPodSandboxResponse* resp) {
    return cri_call(d_, ctx, "RunPodSandbox", [&] { run_pod_sandbox(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::StopPodSandbox(grpc::ServerContext* ctx, const StopPodSandboxRequest* req,
                                              StopPodSandboxResponse*) {
    return cri_call(d_, ctx, "StopPodSandbox", [&] { stop_pod_sandbox(d_, *req); });
}

grpc::Status RuntimeServiceV1::RemovePodSandbox(grpc::ServerContext* ctx, const RemovePodSandboxRequest* req,
                                                RemovePodSandboxResponse*) {
    return cri_call(d_, ctx, "RemovePodSandbox", [&] { remove_pod_sandbox(d_, *req); });
}

grpc::Status RuntimeServiceV1::PodSandboxStatus(grpc::ServerContext* ctx, const PodSandboxStatusRequest* req,
                                                PodSandboxStatusResponse* resp) {
    return cri_call(d_, ctx, "PodSandboxStatus", [&] { pod_sandbox_status(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::ListPodSandbox(grpc::ServerContext* ctx, const ListPodSandboxRequest* req,
                                              ListPodSandboxResponse* resp) {
    return cri_call(d_, ctx, "ListPodSandbox", [&] { list_pod_sandbox(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::CreateContainer(grpc::ServerContext* ctx, const CreateContainerRequest* req,
                                               CreateContainerResponse* resp) {
    return cri_call(d_, ctx, "CreateContainer", [&] { create_container(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::StartContainer(grpc::ServerContext* ctx, const StartContainerRequest* req,
                                              StartContainerResponse*) {
    return cri_call(d_, ctx, "StartContainer", [&] { start_container(d_, *req); });
}

grpc::Status RuntimeServiceV1::StopContainer(grpc::ServerContext* ctx, const StopContainerRequest* req,
                                             StopContainerResponse*) {
    return cri_call(d_, ctx, "StopContainer", [&] { stop_container(d_, *req); });
}

grpc::Status RuntimeServiceV1::RemoveContainer(grpc::ServerContext* ctx, const RemoveContainerRequest* req,
                                               RemoveContainerResponse*) {
    return cri_call(d_, ctx, "RemoveContainer", [&] { remove_container(d_, *req); });
}

grpc::Status RuntimeServiceV1::ListContainers(grpc::ServerContext* ctx, const ListContainersRequest* req,
                                              ListContainersResponse* resp) {
    return cri_call(d_, ctx, "ListContainers", [&] { list_containers(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::ContainerStatus(grpc::ServerContext* ctx, const ContainerStatusRequest* req,
                                               ContainerStatusResponse* resp) {
    return cri_call(d_, ctx, "ContainerStatus", [&] { container_status(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::ExecSync(grpc::ServerContext* ctx, const ExecSyncRequest* req, ExecSyncResponse* resp) {
    return cri_call(d_, ctx, "ExecSync", [&] { exec_sync(d_, *ctx, *req, *resp); });
}

grpc::Status RuntimeServiceV1::ContainerStats(grpc::ServerContext* ctx, const ContainerStatsRequest* req,
                                              ContainerStatsResponse* resp) {
    return cri_call(d_, ctx, "ContainerStats", [&] { container_stats(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::ListContainerStats(grpc::ServerContext* ctx, const ListContainerStatsRequest* req,
                                                  ListContainerStatsResponse* resp) {
    return cri_call(d_, ctx, "ListContainerStats", [&] { list_container_stats(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::PodSandboxStats(grpc::ServerContext* ctx, const PodSandboxStatsRequest* req,
                                               PodSandboxStatsResponse* resp) {
    return cri_call(d_, ctx, "PodSandboxStats", [&] { pod_sandbox_stats(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::ListPodSandboxStats(grpc::ServerContext* ctx, const ListPodSandboxStatsRequest* req,
                                                   ListPodSandboxStatsResponse* resp) {
    return cri_call(d_, ctx, "ListPodSandboxStats", [&] { list_pod_sandbox_stats(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::UpdateContainerResources(grpc::ServerContext* ctx, const UpdateContainerResourcesRequest* req,
                                                        UpdateContainerResourcesResponse*) {
    return cri_call(d_, ctx, "UpdateContainerResources", [&] { update_container_resources(d_, *req); });
}

grpc::Status RuntimeServiceV1::ReopenContainerLog(grpc::ServerContext* ctx, const ReopenContainerLogRequest* req,
                                                  ReopenContainerLogResponse*) {
    return cri_call(d_, ctx, "ReopenContainerLog", [&] { reopen_container_log(d_, *req); });
}

grpc::Status RuntimeServiceV1::GetContainerEvents(grpc::ServerContext* ctx, const GetEventsRequest*,
                                                  grpc::ServerWriter<ContainerEventResponse>* out) {
    return cri_call(d_, ctx, "GetContainerEvents", [&] { get_container_events(d_, *ctx, *out); });
}

grpc::Status RuntimeServiceV1::Exec(grpc::ServerContext* ctx, const ExecRequest* req, ExecResponse* resp) {
    return cri_call(d_, ctx, "Exec", [&] { exec(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::Attach(grpc::ServerContext* ctx, const AttachRequest* req, AttachResponse* resp) {
    return cri_call(d_, ctx, "Attach", [&] { attach(d_, *req, *resp); });
}

grpc::Status RuntimeServiceV1::PortForward(grpc::ServerContext* ctx, const PortForwardRequest* req,
                                           PortForwardResponse* resp) {
    return cri_call(d_, ctx, "PortForward", [&] { port_forward(d_, *req, *resp); });
}

grpc::Status ExecutionsV1::as_caller(grpc::ServerContext* ctx, const char* method,
                                     const std::function<void(const Caller&)>& work) {
    auto caller = d_.peers.caller(*ctx);
    if (!caller) return unknown_caller(ctx, method);
    return guarded(method, [&] { work(*caller); });
}

grpc::Status ExecutionsV1::ListConfigs(grpc::ServerContext* ctx, const berth::v1::ListConfigsRequest*,
                                       berth::v1::ListConfigsResponse* resp) {
    return as_caller(ctx, "ListConfigs", [&](const Caller& c) { list_configs(d_, c, *resp); });
}

grpc::Status ExecutionsV1::Run(grpc::ServerContext* ctx, const berth::v1::RunRequest* req, berth::v1::RunResponse* resp) {
    return as_caller(ctx, "Run", [&](const Caller& c) { run_execution(d_, *ctx, c, *req, *resp); });
}

grpc::Status ExecutionsV1::Wait(grpc::ServerContext* ctx, const berth::v1::ExecutionRef* req, berth::v1::Execution* resp) {
    return as_caller(ctx, "Wait", [&](const Caller& c) { wait_execution(d_, *ctx, c, req->id(), *resp); });
}

grpc::Status ExecutionsV1::Get(grpc::ServerContext* ctx, const berth::v1::ExecutionRef* req, berth::v1::Execution* resp) {
    return as_caller(ctx, "Get", [&](const Caller& c) { get_execution(d_, c, req->id(), *resp); });
}

grpc::Status ExecutionsV1::List(grpc::ServerContext* ctx, const berth::v1::ListRequest* req, berth::v1::ListResponse* resp) {
    return as_caller(ctx, "List", [&](const Caller& c) { list_executions(d_, c, *req, *resp); });
}

grpc::Status ExecutionsV1::Logs(grpc::ServerContext* ctx, const berth::v1::LogsRequest* req,
                                grpc::ServerWriter<berth::v1::LogChunk>* out) {
    return as_caller(ctx, "Logs", [&](const Caller& c) { execution_logs(d_, *ctx, c, *req, *out); });
}

grpc::Status ExecutionsV1::Cancel(grpc::ServerContext* ctx, const berth::v1::CancelRequest* req, berth::v1::Execution* resp) {
    return as_caller(ctx, "Cancel", [&](const Caller& c) { cancel_execution(d_, c, *req, *resp); });
}

grpc::Status ExecutionsV1::Remove(grpc::ServerContext* ctx, const berth::v1::ExecutionRef* req, berth::v1::RemoveResponse*) {
    return as_caller(ctx, "Remove", [&](const Caller& c) { remove_execution(d_, c, req->id()); });
}

grpc::Status ExecutionsV1::Capacity(grpc::ServerContext* ctx, const berth::v1::CapacityRequest* req,
                                    berth::v1::CapacityResponse* resp) {
    return as_caller(ctx, "Capacity", [&](const Caller& c) { execution_capacity(d_, c, *req, *resp); });
}

} // namespace berth::cri
