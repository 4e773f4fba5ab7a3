// berth.v1.Executions.ListConfigs: the execution configurations the caller
// may use (one of its groups listed; root: all).
#include "executions.hpp"

namespace berth::cri {

namespace {

void fill_quota(const ExecQuota& q, berth::v1::ExecQuota& out) {
    out.set_memory_bytes(q.memory.value_or(0));
    out.set_cpus(q.cpus.value_or(0));
    out.set_pids(q.pids.value_or(0));
}

} // namespace

bool may_use(const Caller& c, const ExecConfig& cfg) {
    if (c.root()) return true;
    for (gid_t g : cfg.gids)
        if (c.in_group(g)) return true;
    return false;
}

void list_configs(const Daemon& d, const Caller& caller, berth::v1::ListConfigsResponse& resp) {
    auto configs = d.exec_configs();
    for (const auto& [name, c] : *configs) {
        if (!may_use(caller, c)) continue;
        auto* o = resp.add_configs();
        o->set_name(name);
        o->set_image(c.image);
        o->set_allow_image_override(c.allow_image_override);
        o->set_registry_host(c.registry.host);
        auto* r = o->mutable_resources();
        const auto& cr = c.resources;
        r->set_memory_bytes(cr.memory.value_or(0));
        r->set_memory_swap_bytes(cr.memory_swap.value_or(0));
        r->set_cpus(cr.cpus.value_or(0));
        r->set_cpu_shares(cr.cpu_shares.value_or(0));
        r->set_cpu_weight(cr.cpu_weight.value_or(0));
        r->set_pids(cr.pids.value_or(0));
        r->set_cpuset_cpus(cr.cpuset_cpus);
        r->set_cpuset_mems(cr.cpuset_mems);
        for (const auto& [size, bytes] : cr.hugepages) (*r->mutable_hugepages())[size] = bytes;
        r->set_io_weight(cr.io_weight.value_or(0));
        o->set_runtime_handler(c.runtime);
        for (const auto& g : c.groups) o->add_groups(g);
        fill_quota(c.quota, *o->mutable_quota());
        fill_quota(c.per_user, *o->mutable_per_user_quota());
        o->set_queue(c.queue);
        for (const auto& [k, v] : c.env) (*o->mutable_env())[k] = v;
        for (const auto& m : c.mounts) o->add_mounts(m);
        o->set_network(c.network);
        o->set_max_runtime_seconds(c.max_runtime.count());
    }
}

} // namespace berth::cri
