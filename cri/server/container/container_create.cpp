// CreateContainer: the rootfs (an overlay of the image's layers), the
// bundle (config.json from the ContainerConfig, the pod and the image
// config: cri/container/spec_builder), and the task in the pod's shim,
// stopped at the exec FIFO until StartContainer. A failure at any step
// leaves nothing: no task, rootfs, bundle, record or name.
#include "runtime_ops.hpp"

#include "config.hpp"
#include "error.hpp"
#include "file_util.hpp"
#include "log.hpp"
#include "rootfs.hpp"
#include "spec_builder.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace berth::cri {

namespace {

void require(bool ok, const std::string& field) {
    if (!ok) throw Error(EINVAL, field + ": required");
}

// The log file, relative to the pod's log directory (kubelet's layout:
// DIR/NAME/ATTEMPT.log); its dir is made as kubelet expects the runtime to.
std::string log_path_of(const PodRecord& p, const runtime::v1::ContainerConfig& c) {
    if (c.log_path().empty() || p.config().log_directory().empty()) return "";
    std::string rel = c.log_path();
    if (rel.front() == '/' || rel.find("..") != std::string::npos)
        throw Error(EINVAL, "config.log_path: must be relative to the pod's log_directory, without \"..\"");
    return p.config().log_directory() + "/" + rel;
}

const char* signal_name(runtime::v1::Signal s) {
    // CRI's Signal enum names are the signal names (SIGTERM, ...); RUNTIME_DEFAULT is 0.
    if (s == 0) return "";
    return runtime::v1::Signal_Name(s).c_str();
}

} // namespace

void create_container(Daemon& d, const runtime::v1::CreateContainerRequest& req,
                      runtime::v1::CreateContainerResponse& resp) {
    const auto& cfg = req.config();
    require(req.has_config(), "config");
    require(!cfg.metadata().name().empty(), "config.metadata.name");
    require(!cfg.image().image().empty(), "config.image.image");
    std::string pod_id = d.pods.resolve_pod(req.pod_sandbox_id());
    auto pod_lock = d.pods.locks(pod_id);
    std::shared_lock pl(pod_lock->mu);
    auto pod = d.pods.pod(pod_id);
    if (!pod) throw Error(ENOENT, "pod sandbox " + pod_id + ": not found");
    if (pod->state() != runtime::v1::SANDBOX_READY)
        throw Error(EBUSY, "pod sandbox " + pod_id + ": not ready (stopped); containers cannot be created in it");
    const auto& handler = d.handler(pod->runtime_handler());

    // Layers stay while this rootfs is made: GC waits for the guard.
    Daemon::PullGuard guard(d);
    auto img = d.images.resolve(cfg.image().image());
    if (!img) throw Error(ENOENT, "config.image.image: image \"" + cfg.image().image() + "\" not found (pull it first)");

    std::string id = new_id();
    std::string key = container_name_key(pod_id, cfg.metadata());
    d.pods.reserve_container_name(key, id);
    ContainerRecord rec;
    rec.set_id(id);
    rec.set_pod_id(pod_id);
    *rec.mutable_config() = cfg;
    rec.set_image_id(img->id);
    rec.set_image_ref(img->repo_digests.empty() ? img->id : img->repo_digests.front());
    rec.set_created_at(now_ns());
    rec.set_state(runtime::v1::CONTAINER_CREATED);
    rec.set_creating(true);
    rec.set_stop_signal(cfg.stop_signal() ? signal_name(cfg.stop_signal()) : img->config.config.stop_signal);
    for (const auto& c : img->chain_ids) rec.add_chain_ids(c);
    auto lock = d.pods.locks(id);
    std::unique_lock l(lock->mu);
    bool task_made = false;
    try {
        rec.set_log_path(log_path_of(*pod, cfg));
        d.pods.put(rec);
        std::vector<std::string> lowers;
        for (const auto& chain : img->chain_ids) {
            auto layer = d.layers.find(chain);
            if (!layer) throw Error(ENOENT, "image " + img->id + ": layer " + chain + " is missing from the store");
            lowers.push_back(layer->fs());
        }
        image::RootfsOptions ro;
        ro.copy = d.cfg.images.copy_rootfs;
        std::filesystem::create_directories(d.rootfs_root());
        rec.set_rootfs(image::prepare_rootfs(d.rootfs_root(), id, lowers, img->chain_ids, ro));

        PodContext pc;
        pc.sandbox_id = pod_id;
        pc.config = &pod->config();
        for (const auto& [k, v] : pod->ns_paths()) pc.ns_paths[k] = v;
        std::string pd = d.pod_dir(pod_id);
        pc.hostname_file = pd + "/hostname";
        pc.hosts_file = pd + "/hosts";
        pc.resolv_file = pd + "/resolv.conf";
        pc.shm_dir = pod->shm_dir();
        pc.cgroup_parent = pod->cgroup_parent();
        pc.systemd_cgroup = pod->systemd_cgroup();
        pc.target_pid = [&d, &pod_id](const std::string& target) -> pid_t {
            auto t = d.pods.container(d.pods.resolve_container(target));
            if (!t || t->pod_id() != pod_id || t->state() != runtime::v1::CONTAINER_RUNNING)
                throw Error(EINVAL, "config.linux.security_context.namespace_options.target_id: container " + target +
                                        " is not a running container of pod " + pod_id);
            return static_cast<pid_t>(t->pid());
        };
        ContainerContext cc;
        cc.id = id;
        cc.config = &cfg;
        cc.image = &img->config;
        cc.image_ref = rec.image_ref();
        cc.rootfs = rec.rootfs();
        HandlerOptions ho;
        ho.cdi_devices = handler.cdi_devices;
        ho.default_seccomp = handler.seccomp_profile.empty() ? d.cfg.runtime.seccomp_profile : handler.seccomp_profile;
        ho.cdi_spec_dirs = d.cfg.runtime.cdi_spec_dirs;
        spec::Config spec = build_container_spec(pc, cc, ho);
        if (spec.linux) rec.set_cgroups_path(container_cgroup_dir(spec.linux->cgroupsPath, id));

        std::string bundle = d.bundle_dir(pod_id, id);
        if (::mkdir(bundle.c_str(), 0711) < 0) throw_errno("create " + bundle);
        write_file_atomic(bundle + "/config.json", spec::to_json(spec), 0600);
        if (!rec.log_path().empty())
            std::filesystem::create_directories(std::filesystem::path(rec.log_path()).parent_path());

        berth::task::CreateTaskRequest t;
        t.set_id(id);
        t.set_bundle(bundle);
        t.set_terminal(cfg.tty());
        if (!rec.log_path().empty()) {
            t.set_stdout("k8s-file://" + rec.log_path());
            if (!cfg.tty()) t.set_stderr("k8s-file://" + rec.log_path());
        }
        if (cfg.stdin()) t.set_stdin("pipe://");
        if (pod->systemd_cgroup()) {
            // containerd's runc options with systemd_cgroup (field 9) set, as
            // containerd sends them for SystemdCgroup = true.
            t.mutable_options()->set_type_url("containerd.runc.v1.Options");
            t.mutable_options()->set_value(std::string("\x48\x01", 2));
        }
        auto shim = pod_shim(d, pod_id);
        rec.set_pid(shim.create(t));
        task_made = true;
        rec.set_creating(false);
        d.pods.put(rec);
    } catch (...) {
        try {
            if (task_made) pod_shim(d, pod_id).remove(id);
        } catch (const std::exception& e) {
            log::warn("container " + id + ": delete the task of a failed create: " + e.what());
        }
        try {
            remove_container_locked(d, rec);
        } catch (const std::exception& e) {
            log::error("container " + id + ": undo a failed CreateContainer: " + e.what());
        }
        d.pods.release_name(key);
        throw;
    }
    publish_event(d, rec, runtime::v1::CONTAINER_CREATED_EVENT);
    log::info("container " + id + " (" + cfg.metadata().name() + ") created in pod " + pod_id);
    resp.set_container_id(id);
}

} // namespace berth::cri
