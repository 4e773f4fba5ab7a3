// A pod's berth-shim, from berthd's side: spawning it (posix_spawn: berthd
// is threaded and never forks into namespaces; the shim, single-threaded,
// does that), and the calls berthd makes on it over ttrpc: the Task API
// for the pod's containers and the Pod service (shim/proto/pod.proto) for
// the pod's namespaces and ExecSync. Each call dials its own connection:
// gRPC handlers run concurrently and a ttrpc Client serves one call at a
// time; a unix connect costs tens of microseconds.
#pragma once

#include "monitor.pb.h"
#include "pod.pb.h"
#include "task.pb.h"

#include "fd.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace berth::cri {

struct ShimSpawn {
    std::string binary;        // berth-shim
    std::string pod_dir;       // its cwd: it writes POD_DIR/address, logs to POD_DIR/log
    std::string pod_id;
    std::string shim_root;     // BERTH_SHIM_ROOT: STATE/shim
    bool debug = false;
};

// Start the pod's shim and return its address (unix://PATH) once it
// listens. Throws Error naming the binary and what it printed.
std::string spawn_pod_shim(const ShimSpawn& s, std::chrono::milliseconds timeout);

// After a shim died: kill what is left of container id and delete it
// (`berth-shim ... delete`, as containerd does), and return its exit as
// the shim recorded it (SIGKILL's when it could not).
berth::task::DeleteResponse shim_delete(const ShimSpawn& s, const std::string& id, const std::string& bundle,
                                        std::chrono::milliseconds timeout);

// Port-forward: a socket connected to localhost:port inside the network
// namespace at netns, made by `berth-shim netns-connect` (berthd never
// enters a namespace). Error(ECONNREFUSED and the like) with the reason.
UniqueFd pod_port_connect(const std::string& shim_binary, const std::string& netns, uint16_t port,
                          std::chrono::milliseconds timeout);

class PodShim {
public:
    explicit PodShim(std::string address) : address_(std::move(address)) {}
    const std::string& address() const { return address_; }
    // Whether something accepts connections there.
    bool alive() const;

    // Pod service.
    berth::shim::v1::PinNamespacesResponse pin(const berth::shim::v1::PinNamespacesRequest& r);
    void unpin(const std::string& dir);
    berth::shim::v1::ExecSyncResponse exec_sync(const berth::shim::v1::ExecSyncRequest& r,
                                                std::chrono::milliseconds timeout);

    // Monitor service: close and reopen a container's k8s-file log.
    void reopen_log(const std::string& id);

    // Task service. exec_id "" is the container's init.
    uint32_t create(const berth::task::CreateTaskRequest& r);
    uint32_t start(const std::string& id, const std::string& exec_id = "");
    void kill(const std::string& id, int signal, bool all = false, const std::string& exec_id = "");
    berth::task::StateResponse state(const std::string& id);
    // Until the process exits, or timeout (Error ETIMEDOUT).
    berth::task::WaitResponse wait(const std::string& id, std::chrono::milliseconds timeout,
                                   const std::string& exec_id = "");
    berth::task::DeleteResponse remove(const std::string& id, const std::string& exec_id = "");
    // A process in a running container (ExecProcessRequest: its spec as
    // OCI process JSON, stdio as FIFO paths), started with start().
    void exec(const berth::task::ExecProcessRequest& r);
    void resize(const std::string& id, const std::string& exec_id, uint32_t width, uint32_t height);
    // Monitor service: the shim connects to r.socket (SOCK_SEQPACKET) and
    // copies the process's output there, and what comes back to its stdin.
    void attach(const berth::shim::v1::AttachRequest& r);
    // Apply linux.resources (LinuxResources JSON) to a running container.
    void update(const std::string& id, const std::string& resources_json);
    void shutdown();

private:
    std::string call(const std::string& service, const std::string& method, const std::string& payload,
                     std::chrono::milliseconds timeout);
    std::string address_;
};

} // namespace berth::cri
