// berth.v1.Executions.Capacity: how much room a config has for the caller
// now, so a client with several berthds can pick the one with the most.
// A config the caller may not use is answered as one that does not exist
// (offered false), as ListConfigs leaves it out and Run refuses both alike.
#include "executions.hpp"

#include "error.hpp"

#include <algorithm>

namespace berth::cri {

namespace {

void fill_room(const std::optional<int64_t>& cap, int64_t reserved, int running, berth::v1::QuotaRoom& out) {
    out.set_cap_bytes(cap.value_or(0));
    out.set_reserved_bytes(reserved);
    out.set_left_bytes(cap ? std::max<int64_t>(*cap - reserved, 0) : 0);
    out.set_running(running);
}

} // namespace

void execution_capacity(Daemon& d, const Caller& caller, const berth::v1::CapacityRequest& req,
                        berth::v1::CapacityResponse& resp) {
    if (req.config().empty()) throw Error(EINVAL, "config: required");
    auto configs = d.exec_configs();
    auto it = configs->find(req.config());
    if (it == configs->end() || !may_use(caller, it->second)) {
        // Denied as Run denies, in the audit log only; the caller learns
        // nothing it could not learn from ListConfigs.
        audit(caller, req.config(), "", false,
              std::string("Capacity: ") + (it == configs->end() ? "no such config" : "not in its groups"));
        resp.set_offered(false);
        return;
    }
    const ExecConfig& cfg = it->second;
    // Without admission_mutex(): a Run holds it while it makes its pod
    // (seconds), and a client asking with a short deadline must not take a
    // busy host for a dead one. The answer is advisory; Run admits again
    // under the mutex.
    QuotaUsage u = quota_usage(d, cfg.name, caller.uid);
    resp.set_offered(true);
    fill_room(cfg.quota.memory, u.config_reserved, u.config_running, *resp.mutable_config());
    fill_room(cfg.per_user.memory, u.user_reserved, u.user_running, *resp.mutable_user());
    resp.set_needs_bytes(cfg.resources.memory.value_or(0));
    std::string why = why_not_admitted(cfg, u);
    resp.set_fits(why.empty());
    resp.set_why_not(why);
    resp.set_queues(cfg.queue);
    resp.set_queued(static_cast<int32_t>(d.queue.waiting(cfg.name).size()));
}

} // namespace berth::cri
