// Admission under a config's aggregate memory quota: the memory its running
// workloads reserve (their own limit each), and the caller's, plus the new
// one's must fit the caps. The kernel enforces the caps themselves (see
// execution_cgroups.cpp); admission refuses, or queues, a workload whose
// reservation cannot fit, rather than letting it start and be OOM-killed.
#include "executions.hpp"

#include "error.hpp"

#include <cstdlib>

namespace berth::cri {

std::mutex& admission_mutex() {
    static std::mutex mu;
    return mu;
}

std::string size_text(int64_t b) {
    static const char* units[] = {"", "k", "m", "g", "t"};
    int u = 0;
    while (b >= 1024 && b % 1024 == 0 && u < 4) b /= 1024, ++u;
    return std::to_string(b) + units[u];
}

ConfigUsage config_usage(Daemon& d, const std::string& config) {
    ConfigUsage u;
    for (const auto& p : d.pods.pods()) {
        if (!is_execution(p) || p.state() != runtime::v1::SANDBOX_READY) continue;
        const auto& l = p.config().labels();
        auto c = l.find(exec_labels::kConfig);
        if (c == l.end() || c->second != config) continue;
        auto w = workload_of(d, p);
        if (!w || w->state() == runtime::v1::CONTAINER_EXITED) continue;
        int64_t res = w->config().linux().resources().memory_limit_in_bytes();
        u.reserved += res, ++u.running;
        auto owner = l.find(exec_labels::kUid);
        if (owner == l.end()) continue;
        auto& mine = u.by_user[static_cast<uid_t>(std::strtoul(owner->second.c_str(), nullptr, 10))];
        mine.first += res, ++mine.second;
    }
    return u;
}

QuotaUsage ConfigUsage::of(uid_t uid) const {
    QuotaUsage q{reserved, 0, running, 0};
    if (auto it = by_user.find(uid); it != by_user.end()) q.user_reserved = it->second.first, q.user_running = it->second.second;
    return q;
}

bool weighs_memory(const ExecConfig& cfg) { return cfg.resources.memory && (cfg.quota.memory || cfg.per_user.memory); }

Fit fits(const ExecConfig& cfg, const QuotaUsage& u) {
    if (!cfg.resources.memory) return Fit::yes;
    const int64_t need = *cfg.resources.memory;
    if (cfg.quota.memory && u.config_reserved + need > *cfg.quota.memory) return Fit::config_full;
    if (cfg.per_user.memory && u.user_reserved + need > *cfg.per_user.memory) return Fit::user_full;
    return Fit::yes;
}

std::string why_not_admitted(const ExecConfig& cfg, const QuotaUsage& u) {
    if (fits(cfg, u) == Fit::yes) return "";
    const int64_t need = *cfg.resources.memory;
    auto over = [&](const std::optional<int64_t>& cap, int64_t used, int n, const char* what) -> std::string {
        if (!cap || used + need <= *cap) return "";
        return "config \"" + cfg.name + "\": " + what + " memory quota " + size_text(*cap) + ": " + size_text(used) +
               " reserved by " + std::to_string(n) + " running execution(s), " +
               size_text(std::max<int64_t>(*cap - used, 0)) + " left; this workload needs " + size_text(need);
    };
    std::string why = over(cfg.quota.memory, u.config_reserved, u.config_running, "the config's");
    return why.empty() ? over(cfg.per_user.memory, u.user_reserved, u.user_running, "the user's") : why;
}

} // namespace berth::cri
