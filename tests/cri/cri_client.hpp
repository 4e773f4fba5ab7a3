// A CRI v1 client for tests and benchmarks: the calls kubelet makes to run
// a pod and its containers, each bounded by a deadline, with the pod and
// container configs kubelet would send for a host-network pod, or for one
// on the runtime's pod network (CNI).
#pragma once

#include "api.grpc.pb.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace berth::cri_test {

struct PodSpec {
    std::string name = "pod", ns = "berth-test", uid;   // uid: name when empty
    std::string handler;                                 // runtime handler ("": the default)
    std::string cgroup_parent;                           // cgroupfs syntax; "" leaves it to the runtime
    std::string log_dir;                                 // "": no container logs
    bool share_pid = false;                              // one pid namespace for the pod
    bool pod_network = false;                            // a network namespace of its own (CNI), not the node's
};

struct ContainerSpec {
    std::string name = "c", image;
    std::vector<std::string> command;
    std::string log_path;   // relative to the pod's log_dir
};

struct ExecResult {
    std::string out, err;
    int exit_code = 0;
};

class CriClient {
public:
    // socket: a unix socket path (or any gRPC target with a scheme).
    CriClient(const std::string& socket, std::chrono::seconds timeout);
    std::string version();   // "NAME VERSION API_VERSION"
    std::string run_pod(const PodSpec& pod);
    std::string create_container(const std::string& pod_id, const PodSpec& pod, const ContainerSpec& c);
    void start_container(const std::string& id);
    void stop_container(const std::string& id, int64_t timeout_s);
    void remove_container(const std::string& id);
    ExecResult exec_sync(const std::string& id, const std::vector<std::string>& cmd, int64_t timeout_s);
    void stop_pod(const std::string& id);
    void remove_pod(const std::string& id);
    // PodSandboxStatus: the pod's addresses, its primary one first; none
    // for a host-network pod.
    std::vector<std::string> pod_ips(const std::string& id);

private:
    template <class Req, class Resp, class Call>
    Resp call(const char* method, Call fn, const Req& req);
    std::chrono::seconds timeout_;
    std::unique_ptr<runtime::v1::RuntimeService::Stub> rt_;
};

// The PodSandboxConfig kubelet sends for a host-network pod (network NODE,
// or POD with pod_network; pid CONTAINER or, with share_pid, POD; ipc POD).
runtime::v1::PodSandboxConfig pod_config(const PodSpec& pod);

} // namespace berth::cri_test
