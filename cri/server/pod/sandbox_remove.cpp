// RemovePodSandbox: the pod's containers stopped and removed, its shim
// shut down, its pins, /dev/shm and state dir gone, and its records.
// Idempotent: an unknown pod is not an error.
#include "runtime_ops.hpp"

#include "error.hpp"
#include "log.hpp"

namespace berth::cri {

void remove_pod_sandbox(Daemon& d, const runtime::v1::RemovePodSandboxRequest& req) {
    std::string id;
    try {
        id = d.pods.resolve_pod(req.pod_sandbox_id());
    } catch (const Error& e) {
        if (e.err() == ENOENT) return;
        throw;
    }
    auto lock = d.pods.locks(id);
    std::unique_lock l(lock->mu);
    auto p = d.pods.pod(id);
    if (!p) return;
    teardown_pod(d, *p);
    d.pods.erase_pod(id);
    log::info("pod " + id + " removed");
}

} // namespace berth::cri
