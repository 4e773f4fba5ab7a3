// berth.v1.Executions.Run: the caller's right to the config (audited), the
// image (pulled with the config's registry credentials when missing),
// admission under the config's quota (or a place in its queue), and a
// one-container pod under the config's and the caller's cgroups, made and
// started through CRI's own code.
#include "executions.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "image_ops.hpp"
#include "image_pull.hpp"
#include "log.hpp"
#include "runtime_ops.hpp"
#include "tree.hpp"

namespace berth::cri {

namespace {

namespace v1 = runtime::v1;

void remove_quietly(const std::string& dir) {
    try {
        image::remove_tree(dir);
    } catch (const Error& e) {
        log::warn("execution logs " + dir + ": " + e.what());
    }
}

void set_resources(const ExecResources& r, v1::LinuxContainerResources& out) {
    if (r.memory) out.set_memory_limit_in_bytes(*r.memory);
    if (r.memory_swap) out.set_memory_swap_limit_in_bytes(*r.memory_swap);
    if (r.cpus) {
        out.set_cpu_period(kCfsPeriod);
        out.set_cpu_quota(cfs_quota(*r.cpus));
    }
    if (r.cpu_shares) out.set_cpu_shares(static_cast<int64_t>(*r.cpu_shares));
    // cgroup v2's weight as v1 shares (the inverse of runc's shares->weight).
    if (r.cpu_weight) out.set_cpu_shares(static_cast<int64_t>(2 + ((*r.cpu_weight - 1) * 262142) / 9999));
    out.set_cpuset_cpus(r.cpuset_cpus);
    out.set_cpuset_mems(r.cpuset_mems);
    for (const auto& [size, bytes] : r.hugepages) {
        auto* h = out.add_hugepage_limits();
        h->set_page_size(size);
        h->set_limit(static_cast<uint64_t>(bytes));
    }
}

} // namespace

void start_execution(Daemon& d, const ExecConfig& cfg, const Caller& caller, const berth::v1::RunRequest& req,
                     const std::string& image, const std::string& id, int64_t created_at) {
    make_quota_cgroups(d, cfg, caller.uid);

    // The pod: its id is the execution's, its uid too.
    v1::RunPodSandboxRequest pod_req;
    auto* pc = pod_req.mutable_config();
    pc->mutable_metadata()->set_name("exec-" + id.substr(0, 12));
    pc->mutable_metadata()->set_namespace_(kExecutionNamespace);
    pc->mutable_metadata()->set_uid(id);
    pc->set_hostname("exec-" + id.substr(0, 12));
    std::string log_dir = d.cfg.state + "/executions/" + id;
    image::make_dirs(log_dir, 0700);
    pc->set_log_directory(log_dir);
    auto& labels = *pc->mutable_labels();
    for (const auto& [k, v] : req.labels()) labels[k] = v;
    labels[exec_labels::kExecution] = "true";
    labels[exec_labels::kConfig] = cfg.name;
    labels[exec_labels::kUid] = std::to_string(caller.uid);
    labels[exec_labels::kUser] = caller.user;
    labels[exec_labels::kCreated] = std::to_string(created_at);
    auto* lx = pc->mutable_linux();
    lx->set_cgroup_parent(execution_cgroup_parent(d, cfg, caller.uid));
    auto* nso = lx->mutable_security_context()->mutable_namespace_options();
    nso->set_network(cfg.network == "host" ? v1::NODE : v1::POD);
    nso->set_pid(v1::CONTAINER);
    nso->set_ipc(v1::POD);
    pod_req.set_runtime_handler(cfg.runtime);
    SandboxOptions opts;
    opts.loopback_only = cfg.network == "none";
    if (cfg.network != "none" && cfg.network != "host") opts.cni_network = cfg.network;
    opts.id = id;
    v1::RunPodSandboxResponse pod_resp;
    try {
        run_pod_sandbox(d, pod_req, pod_resp, opts);
    } catch (...) {
        remove_quietly(log_dir);
        remove_unused_quota_cgroups(d, lx->cgroup_parent(), systemd_driver(d, cfg));
        throw;
    }

    // The workload, as the pod's one container.
    try {
        v1::CreateContainerRequest cr;
        cr.set_pod_sandbox_id(id);
        *cr.mutable_sandbox_config() = *pc;
        auto* c = cr.mutable_config();
        c->mutable_metadata()->set_name(kWorkloadName);
        c->mutable_image()->set_image(image);
        for (const auto& a : req.command()) c->add_command(a);
        c->set_working_dir(req.working_dir());
        std::map<std::string, std::string> env(cfg.env.begin(), cfg.env.end());
        for (const auto& [k, v] : req.env()) env[k] = v;
        for (const auto& [k, v] : env) {
            auto* kv = c->add_envs();
            kv->set_key(k);
            kv->set_value(v);
        }
        c->set_log_path("workload.log");
        for (auto& m : stage_mounts(d, cfg, req, id)) *c->add_mounts() = std::move(m);
        set_resources(cfg.resources, *c->mutable_linux()->mutable_resources());
        v1::CreateContainerResponse cresp;
        create_container(d, cr, cresp);
        v1::StartContainerRequest sr;
        sr.set_container_id(cresp.container_id());
        start_container(d, sr);
    } catch (const Error& e) {
        // Nothing of a workload that did not start stays behind.
        try {
            v1::StopPodSandboxRequest s;
            s.set_pod_sandbox_id(id);
            stop_pod_sandbox(d, s);
            v1::RemovePodSandboxRequest r;
            r.set_pod_sandbox_id(id);
            remove_pod_sandbox(d, r);
            unstage_mounts(d, id);
            remove_quietly(log_dir);
            remove_unused_quota_cgroups(d, lx->cgroup_parent(), systemd_driver(d, cfg));
        } catch (const Error& undo) {
            log::error("execution " + id + ": undo a failed Run: " + undo.what());
        }
        throw;
    }
    log::info("execution " + id + " of config " + cfg.name + " started for " + caller.describe());
}

void run_execution(Daemon& d, grpc::ServerContext& ctx, const Caller& caller, const berth::v1::RunRequest& req,
                   berth::v1::RunResponse& resp) {
    if (req.config().empty()) throw Error(EINVAL, "config: required");
    auto configs = d.exec_configs();   // one set for the whole call, whatever a SIGHUP does meanwhile
    auto it = configs->find(req.config());
    if (it == configs->end() || !may_use(caller, it->second)) {
        // An unknown config and one the caller may not use look alike to
        // the caller, but not in the audit log.
        audit(caller, req.config(), "", false, it == configs->end() ? "no such config" : "not in its groups");
        throw Error(EACCES, "config \"" + req.config() + "\": " + caller.describe() +
                                " may not use it (or it does not exist); see ListConfigs");
    }
    const ExecConfig& cfg = it->second;
    std::string image = cfg.image;
    if (!req.image().empty() && req.image() != cfg.image) {
        if (!cfg.allow_image_override)
            throw Error(EACCES, "image: config \"" + cfg.name + "\" runs " + cfg.image + " only (allow_image_override is off)");
        image = req.image();
    }
    // All of the request is checked now: a queued one must not fail later
    // for what could have been said at once.
    for (const auto& [k, v] : req.labels())
        if (k.rfind("io.berth.", 0) == 0) throw Error(EINVAL, "labels: \"" + k + "\": io.berth.* labels are berthd's");
    for (const auto& [k, v] : req.env())
        if (k.empty() || k.find('=') != std::string::npos) throw Error(EINVAL, "env: \"" + k + "\" is not a variable name");
    check_mounts(cfg, req);
    if (cfg.network != "none" && cfg.network != "host") {
        // checked again when the pod is made; here to fail before a pull
        std::string why;
        auto n = d.network.current(&why);
        if (!n || n->name != cfg.network)
            throw Error(EBUSY, "config \"" + cfg.name + "\": network \"" + cfg.network + "\" is not configured (" +
                                   (n ? "berthd's CNI network is \"" + n->name + "\"" : why) + ")");
    }

    // The image, pulled with the config's credentials when berthd lacks it.
    if (!d.images.resolve(image)) {
        v1::PullImageRequest pr;
        pr.mutable_image()->set_image(image);
        if (!cfg.registry.username.empty() && image.rfind(cfg.registry.host + "/", 0) == 0) {
            pr.mutable_auth()->set_username(cfg.registry.username);
            pr.mutable_auth()->set_password(cfg.registry.password);
        }
        pull_image(d, cri_pull_request(ctx, pr));
    }

    // Admitted, and made, one Run at a time: two Runs must not both take
    // the last room under a quota. Where the config queues, nothing jumps
    // its queue: a Run that fits still waits behind the caller's own queued
    // ones (another user's wait for their own cap, or for the config's,
    // which this one would not fit either).
    std::lock_guard admitted(admission_mutex());
    std::string why = weighs_memory(cfg) ? why_not_admitted(cfg, quota_usage(d, cfg.name, caller.uid)) : "";
    bool behind = false;
    if (cfg.queue)
        for (const auto& q : d.queue.waiting(cfg.name)) behind = behind || q.uid() == caller.uid;
    const std::string id = new_id();
    const int64_t now = now_ns();
    if (why.empty() && !behind) {
        start_execution(d, cfg, caller, req, image, id, now);
        audit(caller, cfg.name, id, true, "");
        resp.set_id(id);
        return;
    }
    if (!cfg.queue) throw Error(ENOSPC, why);

    QueuedRun q;
    q.set_id(id);
    q.set_config(cfg.name);
    q.set_request(req.SerializeAsString());
    q.set_image(image);
    q.set_created_at(now);
    q.set_uid(caller.uid);
    q.set_gid(caller.gid);
    for (gid_t g : caller.groups) q.add_groups(g);
    q.set_user(caller.user);
    q.set_pid(caller.pid);
    q.set_state("queued");
    d.queue.put(q);
    audit(caller, cfg.name, id, true, "queued");
    resp.set_id(id);
    resp.set_queued(true);
    resp.set_queue_position(d.queue.position(id));
    log::info("execution " + id + " of config " + cfg.name + " queued for " + caller.describe() + " (" +
              (why.empty() ? "behind others" : why) + ")");
}

} // namespace berth::cri
