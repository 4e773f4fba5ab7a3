// Where an execution's cgroup sits: under its config's, then its user's,
// each carrying the config's aggregate caps, so the kernel holds the sum
// of a config's workloads, and of one user's, under them. Dirs with the
// cgroupfs driver, transient slices with systemd; they go with the last
// execution in them.
#include "executions.hpp"

#include "error.hpp"
#include "log.hpp"
#include "pod_cgroup.hpp"

#include <cmath>

namespace berth::cri {

namespace {

std::optional<spec::Resources> quota_limits(const ExecQuota& q) {
    if (q.empty()) return std::nullopt;
    spec::Resources r;
    if (q.memory) r.memory.emplace().limit = *q.memory;
    if (q.cpus) {
        auto& c = r.cpu.emplace();
        c.period = kCfsPeriod;
        c.quota = cfs_quota(*q.cpus);
    }
    if (q.pids) r.pids.emplace().limit = *q.pids;
    return r;
}

} // namespace

int64_t cfs_quota(double cpus) { return static_cast<int64_t>(std::llround(cpus * kCfsPeriod)); }

bool systemd_driver(const Daemon& d, const ExecConfig& cfg) {
    const auto& handler = d.handler(cfg.runtime);
    return (handler.cgroup_driver.empty() ? d.cfg.runtime.cgroup_driver : handler.cgroup_driver) == "systemd";
}

// <berthd's parent>/config-NAME, or the slice <parent stem>-config_NAME.slice
// ('-' nests slices, so a name's own '-' becomes '_').
std::string config_cgroup(const Daemon& d, const ExecConfig& cfg) {
    const auto& handler = d.handler(cfg.runtime);
    std::string base = handler.cgroup_parent.empty() ? d.cfg.runtime.cgroup_parent : handler.cgroup_parent;
    if (!systemd_driver(d, cfg)) return base + "/config-" + cfg.name;
    std::string name = cfg.name;
    for (auto& ch : name)
        if (ch == '-') ch = '_';
    std::string stem = base.substr(0, base.size() - 6);   // the config checked ".slice"
    return (stem == "-" ? "" : stem + "-") + "config_" + name + ".slice";
}

// The workload's cgroup parent: the user's, in the config's.
std::string execution_cgroup_parent(const Daemon& d, const ExecConfig& cfg, uid_t uid) {
    std::string config = config_cgroup(d, cfg);
    if (!systemd_driver(d, cfg)) return config + "/user-" + std::to_string(uid);
    return config.substr(0, config.size() - 6) + "-user_" + std::to_string(uid) + ".slice";
}

// Set again on every Run, so a SIGHUP's new caps apply from the next one.
// Under systemd both are transient slices, the caps their properties.
void make_quota_cgroups(const Daemon& d, const ExecConfig& cfg, uid_t uid) {
    bool systemd = systemd_driver(d, cfg);
    make_pod_cgroup(config_cgroup(d, cfg), systemd, cfg.name, quota_limits(cfg.quota));
    make_pod_cgroup(execution_cgroup_parent(d, cfg, uid), systemd, cfg.name, quota_limits(cfg.per_user));
}

void remove_unused_quota_cgroups(Daemon& d, const std::string& user_cgroup, bool systemd) {
    if (user_cgroup.empty()) return;
    std::string config = parent_cgroup_name(user_cgroup, systemd);
    // A pod's record is there from before its cgroups are made until after
    // they are gone, so a pod under either, even one being made, shows here.
    bool user_used = false, config_used = false;
    for (const auto& p : d.pods.pods()) {
        if (p.systemd_cgroup() != systemd || p.cgroup_parent().empty()) continue;
        if (p.cgroup_parent() == user_cgroup) user_used = true;
        if (p.cgroup_parent() == config || (is_execution(p) && parent_cgroup_name(p.cgroup_parent(), systemd) == config))
            config_used = true;
    }
    if (user_used || !remove_cgroup_if_empty(user_cgroup, systemd)) return;
    BERTHD_DEBUG("removed the cgroup " + user_cgroup + ": no execution left in it");
    if (config_used || !remove_cgroup_if_empty(config, systemd)) return;
    BERTHD_DEBUG("removed the cgroup " + config + ": no execution left in it");
}

} // namespace berth::cri
