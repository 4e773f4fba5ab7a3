// StopContainer: the image's StopSignal (or SIGTERM), up to the timeout,
// then SIGKILL. Stopping a stopped container is not an error.
#include "runtime_ops.hpp"

#include "error.hpp"
#include "log.hpp"

namespace berth::cri {

void stop_container(Daemon& d, const runtime::v1::StopContainerRequest& req) {
    std::string id = d.pods.resolve_container(req.container_id());
    auto c = d.pods.container(id);
    if (!c) throw Error(ENOENT, "container " + id + ": not found");
    auto pod_lock = d.pods.locks(c->pod_id());
    std::shared_lock pl(pod_lock->mu);
    auto lock = d.pods.locks(id);
    std::unique_lock l(lock->mu);
    c = d.pods.container(id);
    if (!c || c->creating()) throw Error(ENOENT, "container " + id + ": not found");
    stop_container_locked(d, *c, req.timeout());
    log::info("container " + id + " stopped, exit code " + std::to_string(c->exit_code()));
}

} // namespace berth::cri
