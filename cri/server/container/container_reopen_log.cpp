// ReopenContainerLog: kubelet renamed the log for rotation; the pod's
// shim closes it and opens a new one at the same path.
#include "runtime_ops.hpp"

#include "error.hpp"

namespace berth::cri {

void reopen_container_log(Daemon& d, const runtime::v1::ReopenContainerLogRequest& req) {
    std::string id = d.pods.resolve_container(req.container_id());
    auto c = d.pods.container(id);
    if (!c || c->creating()) throw Error(ENOENT, "container " + req.container_id() + ": not found");
    *c = refresh_container(d, *c);
    if (c->state() != runtime::v1::CONTAINER_RUNNING)
        throw Error(EBUSY, "container " + id + ": not running, its log cannot be reopened");
    if (c->log_path().empty()) throw Error(EBUSY, "container " + id + ": has no log (no log_path)");
    pod_shim(d, c->pod_id()).reopen_log(id);
}

} // namespace berth::cri
