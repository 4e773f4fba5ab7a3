// StartContainer: the task created in the pod's shim runs its process.
#include "runtime_ops.hpp"

#include "error.hpp"
#include "log.hpp"

namespace berth::cri {

void start_container(Daemon& d, const runtime::v1::StartContainerRequest& req) {
    std::string id = d.pods.resolve_container(req.container_id());
    auto c = d.pods.container(id);
    if (!c) throw Error(ENOENT, "container " + id + ": not found");
    auto pod_lock = d.pods.locks(c->pod_id());
    std::shared_lock pl(pod_lock->mu);
    auto lock = d.pods.locks(id);
    std::unique_lock l(lock->mu);
    c = d.pods.container(id);
    if (!c || c->creating()) throw Error(ENOENT, "container " + id + ": not found");
    auto pod = d.pods.pod(c->pod_id());
    if (!pod || pod->state() != runtime::v1::SANDBOX_READY)
        throw Error(EBUSY, "container " + id + ": its pod sandbox " + c->pod_id() + " is not ready");
    if (c->state() != runtime::v1::CONTAINER_CREATED)
        throw Error(EBUSY, "container " + id + ": is " +
                               std::string(runtime::v1::ContainerState_Name(c->state())) + ", not CONTAINER_CREATED");
    pod_shim(d, c->pod_id()).start(id);
    c->set_state(runtime::v1::CONTAINER_RUNNING);
    c->set_started_at(now_ns());
    d.pods.put(*c);
    publish_event(d, *c, runtime::v1::CONTAINER_STARTED_EVENT);
    log::info("container " + id + " started");
}

} // namespace berth::cri
