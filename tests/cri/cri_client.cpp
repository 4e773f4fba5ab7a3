#include "cri_client.hpp"

#include "error.hpp"

#include <grpcpp/grpcpp.h>

namespace berth::cri_test {

namespace v1 = runtime::v1;
using Stub = v1::RuntimeService::Stub;

namespace {

void namespaces(v1::NamespaceOption* ns, const PodSpec& pod) {
    ns->set_network(pod.pod_network ? v1::POD : v1::NODE);
    ns->set_pid(pod.share_pid ? v1::POD : v1::CONTAINER);
    ns->set_ipc(v1::POD);
}

} // namespace

v1::PodSandboxConfig pod_config(const PodSpec& pod) {
    v1::PodSandboxConfig c;
    auto* md = c.mutable_metadata();
    md->set_name(pod.name);
    md->set_namespace_(pod.ns);
    md->set_uid(pod.uid.empty() ? pod.name : pod.uid);
    md->set_attempt(0);
    if (!pod.log_dir.empty()) c.set_log_directory(pod.log_dir);
    auto* linux = c.mutable_linux();
    if (!pod.cgroup_parent.empty()) linux->set_cgroup_parent(pod.cgroup_parent);
    namespaces(linux->mutable_security_context()->mutable_namespace_options(), pod);
    return c;
}

CriClient::CriClient(const std::string& socket, std::chrono::seconds timeout) : timeout_(timeout) {
    std::string target = socket.find("://") == std::string::npos && socket.rfind("unix:", 0) != 0
                             ? "unix:" + socket
                             : socket;
    rt_ = v1::RuntimeService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
}

template <class Req, class Resp, class Call>
Resp CriClient::call(const char* method, Call fn, const Req& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    Resp resp;
    grpc::Status st = ((*rt_).*fn)(&ctx, req, &resp);
    if (!st.ok())
        throw Error(EIO, std::string(method) + ": " + st.error_message() + " (gRPC code " +
                             std::to_string(static_cast<int>(st.error_code())) + ")");
    return resp;
}

std::string CriClient::version() {
    v1::VersionRequest req;
    req.set_version("v1");
    auto r = call<v1::VersionRequest, v1::VersionResponse>("Version", &Stub::Version, req);
    return r.runtime_name() + " " + r.runtime_version() + " " + r.runtime_api_version();
}

std::string CriClient::run_pod(const PodSpec& pod) {
    v1::RunPodSandboxRequest req;
    *req.mutable_config() = pod_config(pod);
    req.set_runtime_handler(pod.handler);
    return call<v1::RunPodSandboxRequest, v1::RunPodSandboxResponse>("RunPodSandbox", &Stub::RunPodSandbox, req)
        .pod_sandbox_id();
}

std::string CriClient::create_container(const std::string& pod_id, const PodSpec& pod, const ContainerSpec& c) {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id);
    *req.mutable_sandbox_config() = pod_config(pod);
    auto* cfg = req.mutable_config();
    cfg->mutable_metadata()->set_name(c.name);
    cfg->mutable_image()->set_image(c.image);
    for (const auto& a : c.command) cfg->add_command(a);
    if (!c.log_path.empty()) cfg->set_log_path(c.log_path);
    namespaces(cfg->mutable_linux()->mutable_security_context()->mutable_namespace_options(), pod);
    return call<v1::CreateContainerRequest, v1::CreateContainerResponse>("CreateContainer", &Stub::CreateContainer,
                                                                         req)
        .container_id();
}

void CriClient::start_container(const std::string& id) {
    v1::StartContainerRequest req;
    req.set_container_id(id);
    call<v1::StartContainerRequest, v1::StartContainerResponse>("StartContainer", &Stub::StartContainer, req);
}

void CriClient::stop_container(const std::string& id, int64_t timeout_s) {
    v1::StopContainerRequest req;
    req.set_container_id(id);
    req.set_timeout(timeout_s);
    call<v1::StopContainerRequest, v1::StopContainerResponse>("StopContainer", &Stub::StopContainer, req);
}

void CriClient::remove_container(const std::string& id) {
    v1::RemoveContainerRequest req;
    req.set_container_id(id);
    call<v1::RemoveContainerRequest, v1::RemoveContainerResponse>("RemoveContainer", &Stub::RemoveContainer, req);
}

ExecResult CriClient::exec_sync(const std::string& id, const std::vector<std::string>& cmd, int64_t timeout_s) {
    v1::ExecSyncRequest req;
    req.set_container_id(id);
    for (const auto& a : cmd) req.add_cmd(a);
    req.set_timeout(timeout_s);
    auto r = call<v1::ExecSyncRequest, v1::ExecSyncResponse>("ExecSync", &Stub::ExecSync, req);
    return ExecResult{r.stdout(), r.stderr(), r.exit_code()};
}

void CriClient::stop_pod(const std::string& id) {
    v1::StopPodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    call<v1::StopPodSandboxRequest, v1::StopPodSandboxResponse>("StopPodSandbox", &Stub::StopPodSandbox, req);
}

void CriClient::remove_pod(const std::string& id) {
    v1::RemovePodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    call<v1::RemovePodSandboxRequest, v1::RemovePodSandboxResponse>("RemovePodSandbox", &Stub::RemovePodSandbox,
                                                                   req);
}

std::vector<std::string> CriClient::pod_ips(const std::string& id) {
    v1::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(id);
    auto r = call<v1::PodSandboxStatusRequest, v1::PodSandboxStatusResponse>("PodSandboxStatus",
                                                                             &Stub::PodSandboxStatus, req);
    std::vector<std::string> ips;
    const auto& net = r.status().network();
    if (!net.ip().empty()) ips.push_back(net.ip());
    for (const auto& a : net.additional_ips()) ips.push_back(a.ip());
    return ips;
}

} // namespace berth::cri_test
