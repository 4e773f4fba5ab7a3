// RemoveContainer: a running container is killed first (as containerd
// does); the task, rootfs, bundle and record go; the log file stays for
// kubelet, which owns it. Removing an unknown container is not an error.
#include "runtime_ops.hpp"

#include "error.hpp"
#include "log.hpp"

namespace berth::cri {

void remove_container(Daemon& d, const runtime::v1::RemoveContainerRequest& req) {
    std::string id;
    try {
        id = d.pods.resolve_container(req.container_id());
    } catch (const Error& e) {
        if (e.err() == ENOENT) return;
        throw;
    }
    auto c = d.pods.container(id);
    if (!c) return;
    auto pod_lock = d.pods.locks(c->pod_id());
    std::shared_lock pl(pod_lock->mu);
    auto lock = d.pods.locks(id);
    std::unique_lock l(lock->mu);
    c = d.pods.container(id);
    if (!c || c->creating()) return;
    stop_container_locked(d, *c, 0);
    remove_container_locked(d, *c);
    log::info("container " + id + " removed");
}

} // namespace berth::cri
