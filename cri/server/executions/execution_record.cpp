// What the Executions share: finding an execution the caller may see, its
// workload, its view as berth.v1.Execution, and the audit line.
#include "executions.hpp"

#include "cgroup.hpp"
#include "error.hpp"
#include "log.hpp"
#include "runtime_ops.hpp"

namespace berth::cri {

bool is_execution(const PodRecord& p) {
    const auto& l = p.config().labels();
    auto it = l.find(exec_labels::kExecution);
    return it != l.end() && it->second == "true";
}

bool sees_all(const Daemon& d, const Caller& caller) {
    const auto& admin = d.cfg.executions.admin_gid;
    return caller.root() || (admin && caller.in_group(*admin));
}

bool may_see(const Daemon& d, const Caller& caller, const PodRecord& p) {
    if (sees_all(d, caller)) return true;
    const auto& l = p.config().labels();
    auto it = l.find(exec_labels::kUid);
    return it != l.end() && it->second == std::to_string(caller.uid);
}

PodRecord find_execution(Daemon& d, const Caller& caller, const std::string& id_or_prefix) {
    if (id_or_prefix.empty()) throw Error(EINVAL, "id: required");
    auto not_found = [&] { return Error(ENOENT, "execution " + id_or_prefix + ": not found"); };
    // Prefixes are matched among what the caller may see only.
    std::optional<PodRecord> hit;
    for (auto& p : d.pods.pods()) {
        if (!is_execution(p) || !may_see(d, caller, p) || p.id().rfind(id_or_prefix, 0) != 0) continue;
        if (p.id() == id_or_prefix) return p;
        if (hit) throw Error(EINVAL, "execution " + id_or_prefix + ": more than one execution has this prefix");
        hit = std::move(p);
    }
    if (!hit) throw not_found();
    return *hit;
}

std::optional<ContainerRecord> workload_of(Daemon& d, const PodRecord& p) {
    for (auto& c : d.pods.containers(p.id())) {
        if (c.config().metadata().name() != kWorkloadName) continue;
        if (c.state() == runtime::v1::CONTAINER_RUNNING) return refresh_container(d, std::move(c));
        return c;
    }
    return std::nullopt;
}

void fill_execution(Daemon& d, const PodRecord& p, berth::v1::Execution& out) {
    const auto& labels = p.config().labels();
    auto label = [&](const char* k) {
        auto it = labels.find(k);
        return it == labels.end() ? std::string() : it->second;
    };
    out.set_id(p.id());
    out.set_config(label(exec_labels::kConfig));
    out.set_uid(static_cast<uint32_t>(std::strtoul(label(exec_labels::kUid).c_str(), nullptr, 10)));
    out.set_user(label(exec_labels::kUser));
    // The Run's time: a queued one's pod is made later.
    int64_t created = std::strtoll(label(exec_labels::kCreated).c_str(), nullptr, 10);
    out.set_created_at(created ? created : p.created_at());
    for (const auto& [k, v] : labels)
        if (k.rfind("io.berth.execution", 0) != 0) (*out.mutable_labels())[k] = v;
    auto w = workload_of(d, p);
    if (!w) {
        out.set_state("exited");
        out.set_reason("Error");
        return;
    }
    out.set_image(w->image_ref());
    for (const auto& a : w->config().command()) out.add_command(a);
    for (const auto& a : w->config().args()) out.add_command(a);
    out.set_started_at(w->started_at());
    out.set_finished_at(w->finished_at());
    // The high-water mark and CPU time from the workload's cgroup, while it
    // is there (until the execution is removed).
    if (!w->cgroups_path().empty()) {
        try {
            auto st = cgroup::open(w->cgroups_path())->stats();
            out.set_peak_memory_bytes(st.memory.max);
            out.set_cpu_time_ns(st.cpu_total_ns);
        } catch (const Error&) {
        }
    }
    switch (w->state()) {
    case runtime::v1::CONTAINER_CREATED: out.set_state("created"); break;
    case runtime::v1::CONTAINER_RUNNING: out.set_state("running"); break;
    default:
        out.set_state("exited");
        out.set_exit_code(w->exit_code());
        out.set_reason(w->reason());   // Cancel and max_runtime write theirs into the record
        break;
    }
}

void audit(const Caller& caller, const std::string& config, const std::string& id, bool allowed, const std::string& why) {
    log::info("audit: " + std::string(allowed ? "allow" : "deny") + " user=" + caller.user +
              " uid=" + std::to_string(caller.uid) + " pid=" + std::to_string(caller.pid) + " config=" + config +
              (id.empty() ? "" : " execution=" + id) + (why.empty() ? "" : " reason=\"" + why + "\""));
}

} // namespace berth::cri
