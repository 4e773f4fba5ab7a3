// berthctl stats and statsp: crictl's. CPU % is the usage between two
// samples --seconds apart, as crictl computes it.
#include "ctl.hpp"

#include "error.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace berth::ctl {

namespace v1 = runtime::v1;

namespace {

v1::ListContainerStatsResponse container_stats(Client& c, const v1::ListContainerStatsRequest& req) {
    v1::ListContainerStatsResponse resp;
    auto ctx = c.context();
    Client::check(c.runtime().ListContainerStats(ctx.get(), req, &resp), "ListContainerStats");
    std::sort(resp.mutable_stats()->begin(), resp.mutable_stats()->end(),
              [](const auto& x, const auto& y) { return x.attributes().id() < y.attributes().id(); });
    return resp;
}

std::string cpu_percent(uint64_t now, int64_t now_ts, uint64_t before, int64_t before_ts) {
    if (now == 0) return "0.00";
    if (now_ts == before_ts) throw Error(EAGAIN, "cpu stat is not updated during sample");
    char b[32];
    std::snprintf(b, sizeof b, "%.2f",
                  static_cast<double>(now - before) / static_cast<double>(now_ts - before_ts) * 100);
    return b;
}

int stats(Client& c, const Args& a) {
    if (a.pos.size() > 1) throw Error(EINVAL, "stats: usage: berthctl stats [OPTIONS] [ID]");
    v1::ListContainerStatsRequest req;
    auto* f = req.mutable_filter();
    f->set_id(a.has("id") ? a.get("id") : a.pos.empty() ? "" : a.pos[0]);
    f->set_pod_sandbox_id(a.get("pod"));
    for (const auto& [k, v] : parse_labels(a)) (*f->mutable_label_selector())[k] = v;
    Format fmt = a.format();
    auto first = container_stats(c, req);
    if (fmt != Format::table) {
        print_message(first, fmt);
        return 0;
    }
    std::map<std::string, v1::ContainerStats> old;
    for (const auto& s : first.stats()) old[s.attributes().id()] = s;
    std::this_thread::sleep_for(std::chrono::seconds(int_flag(a, "seconds", 1)));
    auto second = container_stats(c, req);
    std::vector<std::vector<std::string>> rows = {{"CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES", "SWAP"}};
    for (const auto& s : second.stats()) {
        uint64_t cpu = s.cpu().usage_core_nano_seconds().value(), mem = s.memory().working_set_bytes().value();
        if (!a.has("all") && cpu == 0 && mem == 0) continue;   // not running
        auto o = old.find(s.attributes().id());
        if (o == old.end()) continue;   // new since the first sample
        rows.push_back({truncate_id(s.attributes().id()), s.attributes().metadata().name(),
                        cpu_percent(cpu, s.cpu().timestamp(), o->second.cpu().usage_core_nano_seconds().value(),
                                    o->second.cpu().timestamp()),
                        human_size(mem), human_size(s.writable_layer().used_bytes().value()),
                        std::to_string(s.writable_layer().inodes_used().value()),
                        human_size(s.swap().swap_usage_bytes().value())});
    }
    print_table(rows);
    return 0;
}

v1::ListPodSandboxStatsResponse pod_stats(Client& c, const v1::ListPodSandboxStatsRequest& req) {
    v1::ListPodSandboxStatsResponse resp;
    auto ctx = c.context();
    Client::check(c.runtime().ListPodSandboxStats(ctx.get(), req, &resp), "ListPodSandboxStats");
    std::sort(resp.mutable_stats()->begin(), resp.mutable_stats()->end(),
              [](const auto& x, const auto& y) { return x.attributes().id() < y.attributes().id(); });
    return resp;
}

int statsp(Client& c, const Args& a) {
    if (a.pos.size() > 1) throw Error(EINVAL, "statsp: usage: berthctl statsp [OPTIONS] [POD-ID]");
    v1::ListPodSandboxStatsRequest req;
    auto* f = req.mutable_filter();
    f->set_id(a.has("id") ? a.get("id") : a.pos.empty() ? "" : a.pos[0]);
    for (const auto& [k, v] : parse_labels(a)) (*f->mutable_label_selector())[k] = v;
    Format fmt = a.format();
    auto first = pod_stats(c, req);
    if (fmt != Format::table) {
        print_message(first, fmt);
        return 0;
    }
    std::map<std::string, v1::PodSandboxStats> old;
    for (const auto& s : first.stats()) old[s.attributes().id()] = s;
    std::this_thread::sleep_for(std::chrono::seconds(int_flag(a, "seconds", 1)));
    auto second = pod_stats(c, req);
    std::vector<std::vector<std::string>> rows = {{"POD", "POD ID", "CPU %", "MEM"}};
    for (const auto& s : second.stats()) {
        const auto& l = s.linux();
        uint64_t cpu = l.cpu().usage_core_nano_seconds().value(), mem = l.memory().working_set_bytes().value();
        if (cpu == 0 && mem == 0) continue;   // no data
        auto o = old.find(s.attributes().id());
        if (o == old.end()) continue;
        const auto& ol = o->second.linux();
        rows.push_back({s.attributes().metadata().name(), truncate_id(s.attributes().id()),
                        cpu_percent(cpu, l.cpu().timestamp(), ol.cpu().usage_core_nano_seconds().value(), ol.cpu().timestamp()),
                        human_size(mem)});
    }
    print_table(rows);
    return 0;
}

} // namespace

std::vector<Verb> stats_verbs() {
    const Flag output{"output", true, 'o', "output format: json, yaml or table"};
    const Flag label{"label", true, 0, "filter by key=value label (repeatable)"};
    const Flag seconds{"seconds", true, 's', "sample duration for CPU usage in seconds (default 1)"};
    return {
        {"stats", "stats [OPTIONS] [ID]", "List container(s) resource usage statistics",
         {{"all", false, 'a', "show all containers (default shows just running)"}, {"id", true, 0, "filter by container id"},
          {"pod", true, 'p', "filter by pod id"}, label, output, seconds},
         stats, Operand::container},
        {"statsp", "statsp [OPTIONS] [POD-ID]", "List pod statistics",
         {{"id", true, 0, "filter by pod id"}, label, output, seconds}, statsp, Operand::pod},
    };
}

} // namespace berth::ctl
