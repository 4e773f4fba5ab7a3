// berthctl's verbs for berthd's own berth.v1.Executions (issue 16):
// workloads run directly under execution configurations. `configs` lists
// those the caller may use.
#include "ctl.hpp"

#include "error.hpp"

#include <cstdio>

namespace berth::ctl {

namespace {

std::string cpus_text(double v) {
    if (v <= 0) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

std::string bytes_text(int64_t b) { return b > 0 ? human_size(static_cast<uint64_t>(b)) : "-"; }

// "4 CPUs, 4GB, 4096 pids" for a quota; "-" for none.
std::string quota_text(const berth::v1::ExecQuota& q) {
    std::string s;
    auto add = [&](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
    if (q.cpus() > 0) add(cpus_text(q.cpus()) + " CPUs");
    if (q.memory_bytes() > 0) add(bytes_text(q.memory_bytes()));
    if (q.pids() > 0) add(std::to_string(q.pids()) + " pids");
    return s.empty() ? "-" : s;
}

int configs(Client& c, const Args& a) {
    if (!a.pos.empty()) throw Error(EINVAL, "configs: takes no arguments");
    berth::v1::ListConfigsRequest req;
    berth::v1::ListConfigsResponse resp;
    auto ctx = c.context();
    Client::check(c.executions().ListConfigs(ctx.get(), req, &resp), "listing execution configs: ListConfigs");
    Format f = a.format();
    if (f != Format::table) {
        print_message(resp, f);
        return 0;
    }
    std::vector<std::vector<std::string>> rows = {
        {"NAME", "IMAGE", "CPUS", "MEMORY", "RUNTIME", "NETWORK", "GROUPS", "QUOTA", "PER USER"}};
    for (const auto& cfg : resp.configs()) {
        std::string groups;
        for (const auto& g : cfg.groups()) groups += (groups.empty() ? "" : ",") + g;
        rows.push_back({cfg.name(), cfg.image(), cpus_text(cfg.resources().cpus()), bytes_text(cfg.resources().memory_bytes()),
                        cfg.runtime_handler().empty() ? "-" : cfg.runtime_handler(), cfg.network(),
                        groups.empty() ? "-" : groups, quota_text(cfg.quota()), quota_text(cfg.per_user_quota())});
    }
    print_table(rows);
    return 0;
}

} // namespace

std::vector<Verb> execution_verbs() {
    return {
        {"configs", "configs [OPTIONS]", "List the execution configurations you may use (berthd)",
         {{"output", true, 'o', "table (default), json or yaml"}}, configs},
    };
}

} // namespace berth::ctl
