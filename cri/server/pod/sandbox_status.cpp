// PodSandboxStatus and ListPodSandbox, from berthd's records (no call to
// the shim: kubelet asks often).
#include "runtime_ops.hpp"

#include "error.hpp"
#include "json.hpp"

#include <google/protobuf/util/json_util.h>

namespace berth::cri {

namespace {

} // namespace

void fill_pod_status(const PodRecord& p, runtime::v1::PodSandboxStatus& s) {
    s.set_id(p.id());
    *s.mutable_metadata() = p.config().metadata();
    s.set_state(p.state());
    s.set_created_at(p.created_at());
    // From its CNI result: the first IPv4 address, then the rest.
    auto* net = s.mutable_network();
    if (p.ips_size() > 0) net->set_ip(p.ips(0));
    for (int i = 1; i < p.ips_size(); ++i) net->add_additional_ips()->set_ip(p.ips(i));
    *s.mutable_linux()->mutable_namespaces()->mutable_options() =
        p.config().linux().security_context().namespace_options();
    *s.mutable_labels() = p.config().labels();
    *s.mutable_annotations() = p.config().annotations();
    s.set_runtime_handler(p.runtime_handler());
}

namespace {

bool labels_match(const google::protobuf::Map<std::string, std::string>& want,
                  const google::protobuf::Map<std::string, std::string>& have) {
    for (const auto& [k, v] : want) {
        auto it = have.find(k);
        if (it == have.end() || it->second != v) return false;
    }
    return true;
}

} // namespace

void pod_sandbox_status(Daemon& d, const runtime::v1::PodSandboxStatusRequest& req,
                        runtime::v1::PodSandboxStatusResponse& resp) {
    auto p = d.pods.pod(d.pods.resolve_pod(req.pod_sandbox_id()));
    if (!p) throw Error(ENOENT, "pod sandbox " + req.pod_sandbox_id() + ": not found");
    fill_pod_status(*p, *resp.mutable_status());
    resp.set_timestamp(now_ns());
    if (req.verbose()) {
        json::Writer w;
        w.begin_object();
        w.kv("pid", static_cast<int64_t>(p->init_pid()));
        w.kv("shim", pod_shim(d, p->id()).address());
        w.kv("cgroupParent", p->cgroup_parent());
        w.kv("shmDir", p->shm_dir());
        w.key("namespaces").begin_object();
        for (const auto& [k, v] : p->ns_paths()) w.kv(k, v);
        w.end_object();
        w.kv("runtimeHandler", p->runtime_handler());
        // The network, and a CNI CHECK of it now (where its config asks
        // for CHECK: cniVersion 0.4.0 or later, no disableCheck).
        w.key("cni").begin_object();
        w.kv("network", p->network());
        w.key("ips").string_array({p->ips().begin(), p->ips().end()});
        auto check = d.network.check(p->id());
        w.kv("check", !check ? "skipped" : check->empty() ? "ok" : *check);
        w.end_object();
        w.end_object();
        // The config as RunPodSandbox got it (port mappings, DNS, resources),
        // as containerd's "config", for crictl inspectp and the CNI issue.
        std::string info = w.str(), config;
        if (google::protobuf::util::MessageToJsonString(p->config(), &config).ok())
            info.insert(info.size() - 1, ",\"config\":" + config);
        (*resp.mutable_info())["info"] = info;
    }
}

void list_pod_sandbox(Daemon& d, const runtime::v1::ListPodSandboxRequest& req, runtime::v1::ListPodSandboxResponse& resp) {
    const auto& f = req.filter();
    for (const auto& p : d.pods.pods()) {
        if (p.creating()) continue;
        if (!f.id().empty() && p.id().rfind(f.id(), 0) != 0) continue;
        if (f.has_state() && f.state().state() != p.state()) continue;
        if (!labels_match(f.label_selector(), p.config().labels())) continue;
        auto* item = resp.add_items();
        item->set_id(p.id());
        *item->mutable_metadata() = p.config().metadata();
        item->set_state(p.state());
        item->set_created_at(p.created_at());
        *item->mutable_labels() = p.config().labels();
        *item->mutable_annotations() = p.config().annotations();
        item->set_runtime_handler(p.runtime_handler());
    }
}

} // namespace berth::cri
