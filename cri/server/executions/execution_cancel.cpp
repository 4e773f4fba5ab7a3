// berth.v1.Executions Cancel and Remove: the caller's own executions only
// (root: any); another user's id is NotFound, as one that does not exist.
#include "executions.hpp"

#include "error.hpp"
#include "log.hpp"
#include "runtime_ops.hpp"
#include "tree.hpp"

namespace berth::cri {

namespace v1 = runtime::v1;

void cancel_execution(Daemon& d, const Caller& caller, const berth::v1::CancelRequest& req, berth::v1::Execution& out) {
    if (req.grace_seconds() < 0) throw Error(EINVAL, "grace_seconds: must not be negative");
    {
        // Queued: it leaves the queue. Under the admission lock, so the
        // queue cannot start it meanwhile.
        std::lock_guard admitted(admission_mutex());
        if (auto q = find_queued(d, caller, req.id())) {
            if (q->state() == "queued") {
                q->set_state("exited");
                q->set_reason("Canceled");
                q->set_finished_at(now_ns());
                d.queue.put(*q);
                log::info("queued execution " + q->id() + " canceled by " + caller.describe());
            }
            return fill_queued(d, *q, out);
        }
    }
    PodRecord p = find_execution(d, caller, req.id());
    auto w = workload_of(d, p);
    if (w && (w->state() == v1::CONTAINER_RUNNING || w->state() == v1::CONTAINER_CREATED)) {
        v1::StopContainerRequest s;
        s.set_container_id(w->id());
        s.set_timeout(req.grace_seconds() ? req.grace_seconds() : 10);
        stop_container(d, s);
        // The record says why it ended: it was canceled, not that it failed.
        auto lock = d.pods.locks(w->id());
        std::unique_lock l(lock->mu);
        for (auto& c : d.pods.containers(p.id())) {
            if (c.id() != w->id()) continue;
            c.set_reason("Canceled");
            d.pods.put(c);
        }
        log::info("execution " + p.id() + " canceled by " + caller.describe());
    }
    fill_execution(d, p, out);
}

void remove_execution(Daemon& d, const Caller& caller, const std::string& id) {
    {
        std::lock_guard admitted(admission_mutex());
        if (auto q = find_queued(d, caller, id)) {
            if (q->state() == "queued") throw Error(EBUSY, "execution " + q->id() + " is queued: Cancel it first");
            d.queue.erase(q->id());
            log::info("execution " + q->id() + " removed by " + caller.describe());
            return;
        }
    }
    PodRecord p = find_execution(d, caller, id);
    auto w = workload_of(d, p);
    if (w && (w->state() == v1::CONTAINER_RUNNING || w->state() == v1::CONTAINER_CREATED))
        throw Error(EBUSY, "execution " + p.id() + " is running: Cancel it first");
    v1::StopPodSandboxRequest s;
    s.set_pod_sandbox_id(p.id());
    stop_pod_sandbox(d, s);
    v1::RemovePodSandboxRequest r;
    r.set_pod_sandbox_id(p.id());
    remove_pod_sandbox(d, r);
    unstage_mounts(d, p.id());
    {
        // Its cgroup parent too, if it was the last there: under the
        // admission mutex, so a Run is not making a workload in it now.
        std::lock_guard admitted(admission_mutex());
        remove_unused_quota_cgroups(d, p.cgroup_parent(), p.systemd_cgroup());
    }
    if (!p.config().log_directory().empty()) image::remove_tree(p.config().log_directory());
    log::info("execution " + p.id() + " removed by " + caller.describe());
}

} // namespace berth::cri
