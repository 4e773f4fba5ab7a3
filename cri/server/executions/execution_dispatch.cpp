// The queue's side of berth.v1.Executions: starting queued Runs as room
// appears under their config's quota, oldest first. A Run held back by the
// config's cap holds back all behind it; one held back by its user's cap
// holds back only that user's, so one user's backlog does not stall
// another's. And a queued Run's view for Get, List and Wait.
#include "executions.hpp"

#include "error.hpp"
#include "log.hpp"
#include "runtime_ops.hpp"

#include <set>

namespace berth::cri {

namespace {

Caller caller_of(const QueuedRun& r) {
    Caller c;
    c.pid = r.pid();
    c.uid = r.uid();
    c.gid = r.gid();
    for (auto g : r.groups()) c.groups.push_back(g);
    c.user = r.user();
    return c;
}

// It will not start: it ends in the queue, saying why, until removed.
void fail(Daemon& d, QueuedRun r, const std::string& why) {
    r.set_state("exited");
    r.set_reason("Error");
    r.set_message(why);
    r.set_finished_at(now_ns());
    d.queue.put(r);
    log::warn("queued execution " + r.id() + " of config " + r.config() + " will not start: " + why);
}

bool visible(const Daemon& d, const Caller& caller, const QueuedRun& r) {
    return sees_all(d, caller) || r.uid() == caller.uid;
}

} // namespace

void dispatch_queued_executions(Daemon& d) {
    if (!d.queue.any_waiting()) return;
    auto configs = d.exec_configs();
    std::lock_guard admitted(admission_mutex());
    std::set<std::string> names;
    for (const auto& r : d.queue.all())
        if (r.state() == "queued") names.insert(r.config());
    for (const auto& name : names) {
        std::set<uint32_t> user_full;
        std::optional<ConfigUsage> usage;   // asked once, and again after each start
        for (const auto& r : d.queue.waiting(name)) {
            if (user_full.count(r.uid())) continue;
            auto it = configs->find(name);
            if (it == configs->end()) {
                fail(d, r, "config \"" + name + "\" is no longer configured");
                continue;
            }
            const ExecConfig& cfg = it->second;
            Caller caller = caller_of(r);
            if (!may_use(caller, cfg)) {
                audit(caller, name, r.id(), false, "no longer in its groups");
                fail(d, r, caller.describe() + " may no longer use config \"" + name + "\"");
                continue;
            }
            if (!usage) usage = config_usage(d, name);
            Fit fit = fits(cfg, usage->of(caller.uid));
            if (fit == Fit::config_full) break;
            if (fit == Fit::user_full) {
                user_full.insert(r.uid());
                continue;
            }
            berth::v1::RunRequest req;
            if (!req.ParseFromString(r.request())) {
                fail(d, r, "its request record is unreadable");
                continue;
            }
            try {
                // A pod of this id is what a berthd killed while starting it
                // left: it goes, and the start is made afresh.
                if (d.pods.pod(r.id())) {
                    log::warn("queued execution " + r.id() + ": removing the pod a start cut short left");
                    runtime::v1::StopPodSandboxRequest s;
                    s.set_pod_sandbox_id(r.id());
                    stop_pod_sandbox(d, s);
                    runtime::v1::RemovePodSandboxRequest rm;
                    rm.set_pod_sandbox_id(r.id());
                    remove_pod_sandbox(d, rm);
                    unstage_mounts(d, r.id());
                }
                start_execution(d, cfg, caller, req, r.image(), r.id(), r.created_at());
                usage.reset();
                d.queue.erase(r.id());
                log::info("execution " + r.id() + " of config " + name + " left the queue");
            } catch (const Error& e) {
                fail(d, r, e.what());
            }
        }
    }
}

std::optional<QueuedRun> find_queued(Daemon& d, const Caller& caller, const std::string& id_or_prefix) {
    if (id_or_prefix.empty()) throw Error(EINVAL, "id: required");
    std::optional<QueuedRun> hit;
    for (auto& r : d.queue.all()) {
        if (!visible(d, caller, r) || r.id().rfind(id_or_prefix, 0) != 0) continue;
        if (hit) throw Error(EINVAL, "execution " + id_or_prefix + ": more than one execution has this prefix");
        hit = std::move(r);
    }
    return hit;
}

std::vector<QueuedRun> visible_queued(Daemon& d, const Caller& caller) {
    std::vector<QueuedRun> out;
    for (auto& r : d.queue.all())
        if (visible(d, caller, r)) out.push_back(std::move(r));
    return out;
}

void fill_queued(Daemon& d, const QueuedRun& r, berth::v1::Execution& out) {
    out.set_id(r.id());
    out.set_config(r.config());
    out.set_image(r.image());
    berth::v1::RunRequest req;
    if (req.ParseFromString(r.request())) {
        for (const auto& a : req.command()) out.add_command(a);
        for (const auto& [k, v] : req.labels()) (*out.mutable_labels())[k] = v;
    }
    out.set_state(r.state());
    out.set_reason(r.reason());
    out.set_created_at(r.created_at());
    out.set_finished_at(r.finished_at());
    out.set_uid(r.uid());
    out.set_user(r.user());
    if (r.state() == "queued") {
        out.set_queue_position(d.queue.position(r.id()));
        out.set_message("waiting for room under config \"" + r.config() + "\"'s quota");
    } else {
        out.set_exit_code(-1);
        out.set_message(r.message());
    }
}

} // namespace berth::cri
