#include "grpc_v1alpha2.hpp"

namespace berth::cri {

namespace {

// in (v1alpha2) -> v1 request; the v1 handler; its v1 answer -> out.
template <class V1Req, class V1Resp, class In, class Out, class Fn>
grpc::Status bridge(const In* in, Out* out, Fn serve) {
    V1Req req;
    if (!req.ParseFromString(in->SerializeAsString()))
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "request does not read as runtime.v1");
    V1Resp resp;
    grpc::Status st = serve(&req, &resp);
    if (st.ok() && !out->ParseFromString(resp.SerializeAsString()))
        return grpc::Status(grpc::StatusCode::INTERNAL, "answer does not read as runtime.v1alpha2");
    return st;
}

} // namespace

#define BRIDGE(CLASS, M)                                                                                          \
    grpc::Status CLASS::M(grpc::ServerContext* c, const runtime::v1alpha2::M##Request* q,                          \
                          runtime::v1alpha2::M##Response* r) {                                                     \
        return bridge<runtime::v1::M##Request, runtime::v1::M##Response>(                                         \
            q, r, [&](const runtime::v1::M##Request* a, runtime::v1::M##Response* b) { return v1_.M(c, a, b); });  \
    }

BRIDGE(RuntimeServiceV1alpha2, Version)
BRIDGE(RuntimeServiceV1alpha2, Status)
BRIDGE(RuntimeServiceV1alpha2, UpdateRuntimeConfig)
BRIDGE(RuntimeServiceV1alpha2, RunPodSandbox)
BRIDGE(RuntimeServiceV1alpha2, StopPodSandbox)
BRIDGE(RuntimeServiceV1alpha2, RemovePodSandbox)
BRIDGE(RuntimeServiceV1alpha2, PodSandboxStatus)
BRIDGE(RuntimeServiceV1alpha2, ListPodSandbox)
BRIDGE(RuntimeServiceV1alpha2, CreateContainer)
BRIDGE(RuntimeServiceV1alpha2, StartContainer)
BRIDGE(RuntimeServiceV1alpha2, StopContainer)
BRIDGE(RuntimeServiceV1alpha2, RemoveContainer)
BRIDGE(RuntimeServiceV1alpha2, ListContainers)
BRIDGE(RuntimeServiceV1alpha2, ContainerStatus)
BRIDGE(RuntimeServiceV1alpha2, ExecSync)
BRIDGE(RuntimeServiceV1alpha2, ContainerStats)
BRIDGE(RuntimeServiceV1alpha2, ListContainerStats)
BRIDGE(RuntimeServiceV1alpha2, PodSandboxStats)
BRIDGE(RuntimeServiceV1alpha2, ListPodSandboxStats)
BRIDGE(RuntimeServiceV1alpha2, ReopenContainerLog)
BRIDGE(RuntimeServiceV1alpha2, UpdateContainerResources)
BRIDGE(RuntimeServiceV1alpha2, Exec)
BRIDGE(RuntimeServiceV1alpha2, Attach)
BRIDGE(RuntimeServiceV1alpha2, PortForward)
BRIDGE(ImageServiceV1alpha2, ListImages)
BRIDGE(ImageServiceV1alpha2, ImageStatus)
BRIDGE(ImageServiceV1alpha2, PullImage)
BRIDGE(ImageServiceV1alpha2, RemoveImage)
BRIDGE(ImageServiceV1alpha2, ImageFsInfo)

} // namespace berth::cri
