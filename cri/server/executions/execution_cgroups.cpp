// Where an execution's cgroup sits: under its config's, then its user's,
// each carrying the config's aggregate caps, so the kernel holds the sum
// of a config's workloads, and of one user's, under them.
#include "executions.hpp"

#include "error.hpp"
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
        c.period = 100000;
        c.quota = static_cast<int64_t>(std::llround(*q.cpus * 100000));
    }
    if (q.pids) r.pids.emplace().limit = *q.pids;
    return r;
}

} // namespace

bool systemd_driver(const Daemon& d, const ExecConfig& cfg) {
    const auto& handler = d.handler(cfg.runtime);
    return (handler.cgroup_driver.empty() ? d.cfg.runtime.cgroup_driver : handler.cgroup_driver) == "systemd";
}

std::string config_cgroup(const Daemon& d, const ExecConfig& cfg) {
    const auto& handler = d.handler(cfg.runtime);
    return (handler.cgroup_parent.empty() ? d.cfg.runtime.cgroup_parent : handler.cgroup_parent) + "/config-" + cfg.name;
}

// The workload's cgroup parent: <berthd's parent>/config-NAME/user-UID,
// or the same nesting of systemd slices ('-' nests, so a name's own '-'
// becomes '_').
std::string execution_cgroup_parent(const Daemon& d, const ExecConfig& cfg, uid_t uid) {
    const auto& handler = d.handler(cfg.runtime);
    bool systemd = systemd_driver(d, cfg);
    std::string base = handler.cgroup_parent.empty() ? d.cfg.runtime.cgroup_parent : handler.cgroup_parent;
    if (!systemd) return config_cgroup(d, cfg) + "/user-" + std::to_string(uid);
    std::string name = cfg.name;
    for (auto& ch : name)
        if (ch == '-') ch = '_';
    base.resize(base.size() - 6);   // ".slice"
    return base + "-config_" + name + "-user_" + std::to_string(uid) + ".slice";
}

// Set again on every Run, so a SIGHUP's new caps apply from the next one.
void make_quota_cgroups(const Daemon& d, const ExecConfig& cfg, uid_t uid) {
    if (systemd_driver(d, cfg)) {
        if (!cfg.quota.empty() || !cfg.per_user.empty())
            throw Error(ENOTSUP, "config \"" + cfg.name + "\": aggregate quotas under the systemd cgroup driver are not "
                                 "implemented yet (use the cgroupfs driver, or drop quota)");
        return;
    }
    std::string config = config_cgroup(d, cfg);
    make_pod_cgroup(config, false, cfg.name, quota_limits(cfg.quota));
    make_pod_cgroup(config + "/user-" + std::to_string(uid), false, cfg.name, quota_limits(cfg.per_user));
}

} // namespace berth::cri
