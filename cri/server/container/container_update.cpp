// UpdateContainerResources: new limits for a created or running
// container's cgroup, through its pod's shim (libberth's update), kept in
// its record so ContainerStatus reports them.
#include "runtime_ops.hpp"

#include "config.hpp"
#include "error.hpp"
#include "log.hpp"
#include "spec_builder.hpp"

namespace berth::cri {

void update_container_resources(Daemon& d, const runtime::v1::UpdateContainerResourcesRequest& req) {
    std::string id = d.pods.resolve_container(req.container_id());
    auto c = d.pods.container(id);
    if (!c || c->creating()) throw Error(ENOENT, "container " + req.container_id() + ": not found");
    auto pod_lock = d.pods.locks(c->pod_id());
    std::shared_lock pl(pod_lock->mu);
    auto lock = d.pods.locks(id);
    std::unique_lock l(lock->mu);
    *c = refresh_container(d, *c);
    if (c->state() != runtime::v1::CONTAINER_RUNNING && c->state() != runtime::v1::CONTAINER_CREATED)
        throw Error(EBUSY, "container " + id + ": is " + std::string(runtime::v1::ContainerState_Name(c->state())) +
                               ", its resources cannot be updated");
    if (!req.has_linux()) return;
    auto res = oci_resources(req.linux(), HostFeatures::detect(), "linux");
    pod_shim(d, c->pod_id()).update(id, spec::to_json(res));
    *c->mutable_config()->mutable_linux()->mutable_resources() = req.linux();
    d.pods.put(*c);
    log::info("container " + id + ": resources updated");
}

} // namespace berth::cri
