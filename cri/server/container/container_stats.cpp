// ContainerStats, ListContainerStats, PodSandboxStats and
// ListPodSandboxStats: read from the cgroups (v1 or v2, through libberth's
// cgroup managers: files only, no call to the shim) and, for a
// container's writable layer, from its rootfs's upper dir.
#include "runtime_ops.hpp"

#include "cgroup.hpp"
#include "error.hpp"
#include "log.hpp"
#include "rootfs.hpp"

namespace berth::cri {

namespace {

bool labels_match(const google::protobuf::Map<std::string, std::string>& want,
                  const google::protobuf::Map<std::string, std::string>& have) {
    for (const auto& [k, v] : want) {
        auto it = have.find(k);
        if (it == have.end() || it->second != v) return false;
    }
    return true;
}

uint64_t raw(const cgroup::Stats& s, const char* v1, const char* v2) {
    auto it = s.memory_raw.find(v1);
    if (it == s.memory_raw.end()) it = s.memory_raw.find(v2);
    return it == s.memory_raw.end() ? 0 : it->second;
}

// CPU and memory as kubelet reads them (cadvisor's working set: usage less
// inactive file pages).
void fill_usage(const std::string& path, int64_t now, runtime::v1::CpuUsage& cpu, runtime::v1::MemoryUsage& mem) {
    cpu.set_timestamp(now);
    mem.set_timestamp(now);
    if (path.empty()) return;
    cgroup::Stats s;
    try {
        s = cgroup::open(path)->stats();
    } catch (const Error& e) {
        log::write(LogLevel::debug, "stats of cgroup " + path + ": " + e.what());
        return;
    }
    cpu.mutable_usage_core_nano_seconds()->set_value(s.cpu_total_ns);
    uint64_t inactive = raw(s, "total_inactive_file", "inactive_file");
    uint64_t ws = s.memory.usage > inactive ? s.memory.usage - inactive : 0;
    mem.mutable_working_set_bytes()->set_value(ws);
    mem.mutable_usage_bytes()->set_value(s.memory.usage);
    mem.mutable_rss_bytes()->set_value(raw(s, "total_rss", "anon"));
    mem.mutable_page_faults()->set_value(raw(s, "total_pgfault", "pgfault"));
    mem.mutable_major_page_faults()->set_value(raw(s, "total_pgmajfault", "pgmajfault"));
    if (s.memory.limit > 0 && s.memory.limit < (uint64_t(1) << 62))
        mem.mutable_available_bytes()->set_value(s.memory.limit > ws ? s.memory.limit - ws : 0);
}

void container_stats_of(Daemon& d, const ContainerRecord& c, runtime::v1::ContainerStats& out) {
    int64_t now = now_ns();
    auto* a = out.mutable_attributes();
    a->set_id(c.id());
    *a->mutable_metadata() = c.config().metadata();
    *a->mutable_labels() = c.config().labels();
    *a->mutable_annotations() = c.config().annotations();
    bool live = c.state() == runtime::v1::CONTAINER_RUNNING || c.state() == runtime::v1::CONTAINER_CREATED;
    fill_usage(live ? c.cgroups_path() : "", now, *out.mutable_cpu(), *out.mutable_memory());
    auto* fs = out.mutable_writable_layer();
    fs->set_timestamp(now);
    fs->mutable_fs_id()->set_mountpoint(d.rootfs_root());
    auto u = image::writable_layer_usage(d.rootfs_root(), c.id());
    fs->mutable_used_bytes()->set_value(u.bytes);
    fs->mutable_inodes_used()->set_value(u.inodes);
}

void pod_stats_of(Daemon& d, const PodRecord& p, runtime::v1::PodSandboxStats& out) {
    int64_t now = now_ns();
    auto* a = out.mutable_attributes();
    a->set_id(p.id());
    *a->mutable_metadata() = p.config().metadata();
    *a->mutable_labels() = p.config().labels();
    *a->mutable_annotations() = p.config().annotations();
    auto* l = out.mutable_linux();
    fill_usage(p.state() == runtime::v1::SANDBOX_READY ? p.cgroup_parent() : "", now, *l->mutable_cpu(),
               *l->mutable_memory());
    uint64_t procs = 0;
    for (const auto& c : d.pods.containers(p.id())) {
        if (c.creating()) continue;
        container_stats_of(d, c, *l->add_containers());
        if (c.state() == runtime::v1::CONTAINER_RUNNING) {
            try {
                procs += cgroup::open(c.cgroups_path())->pids().size();
            } catch (const Error&) {
            }
        }
    }
    l->mutable_process()->set_timestamp(now);
    l->mutable_process()->mutable_process_count()->set_value(procs);
}

} // namespace

void container_stats(Daemon& d, const runtime::v1::ContainerStatsRequest& req, runtime::v1::ContainerStatsResponse& resp) {
    std::string id = d.pods.resolve_container(req.container_id());
    auto c = d.pods.container(id);
    if (!c || c->creating()) throw Error(ENOENT, "container " + req.container_id() + ": not found");
    container_stats_of(d, refresh_container(d, *c), *resp.mutable_stats());
}

void list_container_stats(Daemon& d, const runtime::v1::ListContainerStatsRequest& req,
                          runtime::v1::ListContainerStatsResponse& resp) {
    const auto& f = req.filter();
    for (const auto& c : d.pods.containers()) {
        if (c.creating()) continue;
        if (!f.id().empty() && c.id().rfind(f.id(), 0) != 0) continue;
        if (!f.pod_sandbox_id().empty() && c.pod_id().rfind(f.pod_sandbox_id(), 0) != 0) continue;
        if (!labels_match(f.label_selector(), c.config().labels())) continue;
        // kubelet asks for running containers' stats; exited ones are listed too, as containerd does.
        container_stats_of(d, c, *resp.add_stats());
    }
}

void pod_sandbox_stats(Daemon& d, const runtime::v1::PodSandboxStatsRequest& req,
                       runtime::v1::PodSandboxStatsResponse& resp) {
    auto p = d.pods.pod(d.pods.resolve_pod(req.pod_sandbox_id()));
    if (!p) throw Error(ENOENT, "pod sandbox " + req.pod_sandbox_id() + ": not found");
    pod_stats_of(d, *p, *resp.mutable_stats());
}

void list_pod_sandbox_stats(Daemon& d, const runtime::v1::ListPodSandboxStatsRequest& req,
                            runtime::v1::ListPodSandboxStatsResponse& resp) {
    const auto& f = req.filter();
    for (const auto& p : d.pods.pods()) {
        if (p.creating()) continue;
        if (!f.id().empty() && p.id().rfind(f.id(), 0) != 0) continue;
        if (!labels_match(f.label_selector(), p.config().labels())) continue;
        pod_stats_of(d, p, *resp.add_stats());
    }
}

} // namespace berth::cri
