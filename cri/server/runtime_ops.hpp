// The RuntimeService's work, one file per RPC (sandbox_run.cpp,
// sandbox_stop.cpp, ..., container_create.cpp, container_execsync.cpp),
// as CRI-O's server/ lays them out. They take and fill the CRI v1
// messages; the gRPC classes in grpc_services.cpp only call them. Errors
// are berth::Error with the errno status.cpp maps to the CRI code:
// ENOENT NotFound, EINVAL InvalidArgument (naming the field), EEXIST
// AlreadyExists, EBUSY FailedPrecondition.
#pragma once

#include "api.pb.h"
#include "daemon.hpp"
#include "pod_shim.hpp"

#include <grpcpp/server_context.h>
#include <grpcpp/support/sync_stream.h>

namespace berth::stream {
class StreamBackend;
}

namespace berth::cri {

// berthd's own callers (the Executions) may ask for more than CRI says.
struct SandboxOptions {
    bool loopback_only = false;   // its own network namespace with lo alone: no CNI
    std::string cni_network;      // "": whatever network is configured; else it must be this one
    std::string id;               // "": a new one (an execution leaving its queue keeps its id)
};
void run_pod_sandbox(Daemon& d, const runtime::v1::RunPodSandboxRequest& req, runtime::v1::RunPodSandboxResponse& resp,
                     const SandboxOptions& opts = {});
void stop_pod_sandbox(Daemon& d, const runtime::v1::StopPodSandboxRequest& req);
void remove_pod_sandbox(Daemon& d, const runtime::v1::RemovePodSandboxRequest& req);
void pod_sandbox_status(Daemon& d, const runtime::v1::PodSandboxStatusRequest& req,
                        runtime::v1::PodSandboxStatusResponse& resp);
void list_pod_sandbox(Daemon& d, const runtime::v1::ListPodSandboxRequest& req, runtime::v1::ListPodSandboxResponse& resp);

void create_container(Daemon& d, const runtime::v1::CreateContainerRequest& req,
                      runtime::v1::CreateContainerResponse& resp);
void start_container(Daemon& d, const runtime::v1::StartContainerRequest& req);
void stop_container(Daemon& d, const runtime::v1::StopContainerRequest& req);
void remove_container(Daemon& d, const runtime::v1::RemoveContainerRequest& req);
void list_containers(Daemon& d, const runtime::v1::ListContainersRequest& req, runtime::v1::ListContainersResponse& resp);
void container_status(Daemon& d, const runtime::v1::ContainerStatusRequest& req,
                      runtime::v1::ContainerStatusResponse& resp);
void exec_sync(Daemon& d, grpc::ServerContext& ctx, const runtime::v1::ExecSyncRequest& req,
               runtime::v1::ExecSyncResponse& resp);

void container_stats(Daemon& d, const runtime::v1::ContainerStatsRequest& req, runtime::v1::ContainerStatsResponse& resp);
void list_container_stats(Daemon& d, const runtime::v1::ListContainerStatsRequest& req,
                          runtime::v1::ListContainerStatsResponse& resp);
void pod_sandbox_stats(Daemon& d, const runtime::v1::PodSandboxStatsRequest& req,
                       runtime::v1::PodSandboxStatsResponse& resp);
void list_pod_sandbox_stats(Daemon& d, const runtime::v1::ListPodSandboxStatsRequest& req,
                            runtime::v1::ListPodSandboxStatsResponse& resp);
void update_container_resources(Daemon& d, const runtime::v1::UpdateContainerResourcesRequest& req);
void reopen_container_log(Daemon& d, const runtime::v1::ReopenContainerLogRequest& req);

void runtime_status(Daemon& d, const runtime::v1::StatusRequest& req, runtime::v1::StatusResponse& resp);
void runtime_config(Daemon& d, runtime::v1::RuntimeConfigResponse& resp);
void update_runtime_config(Daemon& d, const runtime::v1::UpdateRuntimeConfigRequest& req);
// Streaming: the URL of berthd's streaming server for the request.
void exec(Daemon& d, const runtime::v1::ExecRequest& req, runtime::v1::ExecResponse& resp);
void attach(Daemon& d, const runtime::v1::AttachRequest& req, runtime::v1::AttachResponse& resp);
void port_forward(Daemon& d, const runtime::v1::PortForwardRequest& req, runtime::v1::PortForwardResponse& resp);
// What the streaming server runs requests on (the pods' shims).
std::unique_ptr<stream::StreamBackend> make_stream_backend(Daemon& d);

void get_container_events(Daemon& d, grpc::ServerContext& ctx, grpc::ServerWriter<runtime::v1::ContainerEventResponse>& out);

// Shared by the files above (pod_lifecycle.cpp).

// CRI's view of a record (sandbox_status.cpp, container_status.cpp).
void fill_pod_status(const PodRecord& p, runtime::v1::PodSandboxStatus& s);
void fill_container_status(const Daemon& d, const ContainerRecord& c, runtime::v1::ContainerStatus& s);
// Tell GetContainerEvents' streams about a container (its pod's status and
// its own with the event).
void publish_event(Daemon& d, const ContainerRecord& c, runtime::v1::ContainerEventType type);
// Bring a running container up to date with its shim, so its exit is
// recorded (and published) without a client asking; nothing while an
// operation holds it (that operation records the exit).
void refresh_running(Daemon& d, const std::string& id);
// refresh_running for every running container (the exit watcher's sweep).
void watch_exits(Daemon& d);

// The pod's shim, from the address it wrote in its pod dir.
PodShim pod_shim(const Daemon& d, const std::string& pod_id);
// Bring a running or created container's record up to date with its
// shim (exited: exit code, time, reason), and persist a change. A dead
// shim leaves its containers exited (as the shim's delete reports them).
ContainerRecord refresh_container(Daemon& d, ContainerRecord c);
// Kill a container (signal, then SIGKILL after timeout_s; 0: at once),
// wait for it, and record the exit. The caller holds its lock.
void stop_container_locked(Daemon& d, ContainerRecord& c, int64_t timeout_s);
// Delete the task in the shim, the rootfs and bundle, and the record.
void remove_container_locked(Daemon& d, const ContainerRecord& c);
// Everything of a pod outside its records: its containers' tasks, its
// network, the shim, the namespace pins, /dev/shm, the pod dir. Best
// effort and logged, except the network: a failed CNI DEL throws before
// the shim and pins go, so a retry can still run it.
void teardown_pod(Daemon& d, const PodRecord& p);
// CNI DEL of the pod's network (when it has one), its addresses cleared
// from the record (the caller holds the pod's lock). Throws when DEL
// failed after its retries.
void teardown_pod_network(Daemon& d, PodRecord& p);
// At start-up: finish or undo what a killed berthd left half done, and
// find pods whose shim died.
void recover_pods(Daemon& d);

} // namespace berth::cri
