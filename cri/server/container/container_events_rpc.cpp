// GetContainerEvents (a server stream for kubelet's evented PLEG), the
// events themselves, and the exit watcher that notices exits nobody asked
// about.
#include "runtime_ops.hpp"

#include "log.hpp"

namespace berth::cri {

void publish_event(Daemon& d, const ContainerRecord& c, runtime::v1::ContainerEventType type) {
    runtime::v1::ContainerEventResponse e;
    e.set_container_id(c.id());
    e.set_container_event_type(type);
    e.set_created_at(now_ns());
    if (auto p = d.pods.pod(c.pod_id())) fill_pod_status(*p, *e.mutable_pod_sandbox_status());
    if (type != runtime::v1::CONTAINER_DELETED_EVENT) fill_container_status(d, c, *e.add_containers_statuses());
    d.events.publish(e);
}

void get_container_events(Daemon& d, grpc::ServerContext& ctx, grpc::ServerWriter<runtime::v1::ContainerEventResponse>& out) {
    auto sub = d.events.subscribe();
    while (!ctx.IsCancelled()) {
        auto e = sub->next(std::chrono::milliseconds(500));
        if (e && !out.Write(*e)) break;   // the client went away
    }
}

void watch_exits(Daemon& d) {
    for (const auto& c : d.pods.containers()) {
        if (c.creating() || c.state() != runtime::v1::CONTAINER_RUNNING) continue;
        // Not while an operation holds the container (it records the exit itself).
        auto lock = d.pods.locks(c.id());
        std::unique_lock l(lock->mu, std::try_to_lock);
        if (!l.owns_lock()) continue;
        auto cur = d.pods.container(c.id());
        if (!cur) continue;
        try {
            refresh_container(d, *cur);
        } catch (const std::exception& e) {
            log::write(LogLevel::debug, "container " + c.id() + ": " + e.what());
        }
    }
}

} // namespace berth::cri
