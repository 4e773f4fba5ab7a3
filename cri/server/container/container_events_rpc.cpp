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

void refresh_running(Daemon& d, const std::string& id) {
    // Not while an operation holds the container: it records the exit itself.
    auto lock = d.pods.locks(id);
    std::unique_lock l(lock->mu, std::try_to_lock);
    if (!l.owns_lock()) return;
    auto cur = d.pods.container(id);
    if (!cur || cur->creating() || cur->state() != runtime::v1::CONTAINER_RUNNING) return;
    try {
        refresh_container(d, *cur);
    } catch (const std::exception& e) {
        log::write(LogLevel::debug, "container " + id + ": " + e.what());
    }
}

void watch_exits(Daemon& d) {
    for (const auto& [id, pod] : d.pods.running_containers()) refresh_running(d, id);
}

} // namespace berth::cri
