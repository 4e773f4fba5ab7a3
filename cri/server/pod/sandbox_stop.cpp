// StopPodSandbox: every container of the pod killed, its CNI network
// deleted (from the cached ADD), then its namespaces unpinned. A DEL that
// fails fails the call with the namespaces kept, so kubelet's retry (or
// RemovePodSandbox) finds them. Idempotent for a stopped pod; an unknown
// one is NotFound, as containerd answers (kubelet takes that as stopped,
// and a mistyped id on the command line gets an error).
#include "runtime_ops.hpp"

#include "error.hpp"
#include "log.hpp"

namespace berth::cri {

void stop_pod_sandbox(Daemon& d, const runtime::v1::StopPodSandboxRequest& req) {
    std::string id = d.pods.resolve_pod(req.pod_sandbox_id());
    auto lock = d.pods.locks(id);
    std::unique_lock l(lock->mu);
    auto p = d.pods.pod(id);
    if (!p) return;
    for (auto c : d.pods.containers(id)) {
        if (c.creating()) continue;
        auto cl = d.pods.locks(c.id());
        std::unique_lock cll(cl->mu);
        stop_container_locked(d, c, 0);
    }
    teardown_pod_network(d, *p);
    if (p->state() == runtime::v1::SANDBOX_NOTREADY && p->ns_paths().empty()) return;
    auto shim = pod_shim(d, id);
    try {
        shim.unpin(d.pod_dir(id) + "/ns");
    } catch (const Error& e) {
        // A dead shim: RemovePodSandbox detaches what it left.
        log::warn("pod " + id + ": unpin its namespaces: " + e.what());
    }
    p->set_state(runtime::v1::SANDBOX_NOTREADY);
    p->clear_ns_paths();
    p->set_init_pid(0);
    d.pods.put(*p);
    log::info("pod " + id + " stopped");
}

} // namespace berth::cri
