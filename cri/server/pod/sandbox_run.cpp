// RunPodSandbox: a pod is its shim, its pinned namespaces, its /dev/shm and
// its files (hostname, hosts, resolv.conf); no infra container.
#include "runtime_ops.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "log.hpp"
#include "pod_cgroup.hpp"
#include "pod_files.hpp"
#include "pod_network.hpp"
#include "pod_resources.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

namespace berth::cri {

namespace {

using runtime::v1::NamespaceMode;

// The sysctls a pod may set are the namespaced ones (kubelet's "safe" and
// "unsafe" lists alike): net.* in a pod network namespace; kernel.shm*,
// kernel.msg*, kernel.sem and fs.mqueue.* in a pod IPC namespace.
void check_sysctls(const runtime::v1::PodSandboxConfig& cfg, bool own_net, bool own_ipc) {
    for (const auto& [k, v] : cfg.linux().sysctls()) {
        bool net = k.rfind("net.", 0) == 0;
        bool ipc = k.rfind("kernel.shm", 0) == 0 || k.rfind("kernel.msg", 0) == 0 || k == "kernel.sem" ||
                   k.rfind("fs.mqueue.", 0) == 0;
        if (!net && !ipc)
            throw Error(EINVAL, "config.linux.sysctls: " + k + " is not a namespaced sysctl a pod may set");
        if (net && !own_net)
            throw Error(EINVAL, "config.linux.sysctls: " + k + " needs the pod's own network namespace (not host network)");
        if (ipc && !own_ipc)
            throw Error(EINVAL, "config.linux.sysctls: " + k + " needs the pod's own IPC namespace (not host IPC)");
    }
}

void require(bool ok, const std::string& field) {
    if (!ok) throw Error(EINVAL, field + ": required");
}

} // namespace

void run_pod_sandbox(Daemon& d, const runtime::v1::RunPodSandboxRequest& req, runtime::v1::RunPodSandboxResponse& resp,
                     const SandboxOptions& opts) {
    const auto& cfg = req.config();
    require(req.has_config(), "config");
    require(!cfg.metadata().name().empty(), "config.metadata.name");
    require(!cfg.metadata().namespace_().empty(), "config.metadata.namespace");
    require(!cfg.metadata().uid().empty(), "config.metadata.uid");
    const auto& handler = d.handler(req.runtime_handler());
    const auto& nso = cfg.linux().security_context().namespace_options();
    const bool own_net = nso.network() != runtime::v1::NODE;
    const bool own_ipc = nso.ipc() != runtime::v1::NODE;
    const bool pod_pid = nso.pid() == runtime::v1::POD;
    check_sysctls(cfg, own_net, own_ipc);
    if (!cfg.log_directory().empty() && cfg.log_directory().front() != '/')
        throw Error(EINVAL, "config.log_directory: must be an absolute path, got \"" + cfg.log_directory() + "\"");
    const bool systemd =
        (handler.cgroup_driver.empty() ? d.cfg.runtime.cgroup_driver : handler.cgroup_driver) == "systemd";
    const std::string& given = cfg.linux().cgroup_parent();
    if (!given.empty()) {
        // kubelet's form follows its --cgroup-driver, which must match ours.
        if (systemd && !given.ends_with(".slice"))
            throw Error(EINVAL, "config.linux.cgroup_parent: \"" + given +
                                    "\" is not a systemd slice, but berthd's cgroup driver is systemd (kubelet's "
                                    "--cgroup-driver must match)");
        if (!systemd && given.front() != '/')
            throw Error(EINVAL, "config.linux.cgroup_parent: \"" + given +
                                    "\" is not an absolute cgroupfs path, but berthd's cgroup driver is cgroupfs "
                                    "(kubelet's --cgroup-driver must match)");
    }

    // Checked before anything is made or reserved, so a bad value leaves
    // nothing (not even the pod's name taken).
    std::optional<spec::Resources> pod_res;
    if (given.empty()) pod_res = pod_cgroup_resources(cfg.linux(), HostFeatures::detect());
    // The pod's network: what CNI is given comes from the config, checked
    // here; the namespace is filled in once pinned.
    std::shared_ptr<const net::NetworkList> network;
    net::PodNetwork pod_net;
    if (own_net && !opts.loopback_only) {
        std::string why;
        network = d.network.current(&why);
        if (!opts.cni_network.empty() && (!network || network->name != opts.cni_network))
            throw Error(EBUSY, "no CNI network \"" + opts.cni_network + "\" is configured (" +
                                   (network ? "berthd's is \"" + network->name + "\"" : why) + ")");
        if (network) {
            pod_net = pod_network(cfg, "", "", d.pod_cidrs());
        } else if (d.cfg.cni.unconfigured == "refuse") {
            throw Error(EBUSY, "no pod network: " + why + " ([cni] unconfigured = \"refuse\" in " + d.cfg.config_file + ")");
        }
    }

    std::string id = opts.id.empty() ? new_id() : opts.id;
    std::string key = pod_name_key(cfg.metadata());
    d.pods.reserve_pod_name(key, id);
    PodRecord rec;
    rec.set_id(id);
    *rec.mutable_config() = cfg;
    rec.set_runtime_handler(req.runtime_handler());
    rec.set_created_at(now_ns());
    rec.set_state(runtime::v1::SANDBOX_NOTREADY);
    rec.set_creating(true);
    std::string parent = given;
    if (parent.empty()) {
        // No kubelet to make the pod's cgroup: one of its own under the
        // handler's (or berthd's) parent, removed with the pod.
        parent = own_pod_cgroup_name(handler.cgroup_parent.empty() ? d.cfg.runtime.cgroup_parent : handler.cgroup_parent,
                                     systemd, id);
        rec.set_own_cgroup(true);
    }
    rec.set_systemd_cgroup(systemd);
    rec.set_cgroup_parent(parent);
    auto lock = d.pods.locks(id);
    std::unique_lock l(lock->mu);
    try {
        // The record first: a berthd killed from here on finds it, marked
        // creating, and removes whatever was made.
        d.pods.put(rec);
        std::string dir = d.pod_dir(id);
        std::filesystem::create_directories(d.cfg.state + "/pods");
        if (::mkdir(dir.c_str(), 0711) < 0) throw_errno("create " + dir);
        if (::mkdir((dir + "/ns").c_str(), 0711) < 0) throw_errno("create " + dir + "/ns");
        if (::mkdir((dir + "/containers").c_str(), 0711) < 0) throw_errno("create " + dir + "/containers");
        write_file_atomic(dir + "/log", "", 0600);   // the shim's log
        write_pod_files(dir, cfg);
        // The pod's own cgroup, limited to what its containers may use
        // together plus its overhead; removed with the pod.
        if (rec.own_cgroup()) make_pod_cgroup(parent, systemd, id, pod_res);
        if (own_ipc) {
            // The pod's /dev/shm, as containerd's sandbox shm: one tmpfs its
            // containers share, kept out of the host's.
            std::string shm = dir + "/shm";
            if (::mkdir(shm.c_str(), 0755) < 0) throw_errno("create " + shm);
            if (::mount("shm", shm.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") < 0)
                throw_errno("mount the pod's /dev/shm on " + shm);
            rec.set_shm_dir(shm);
        }

        ShimSpawn s;
        s.binary = d.shim_binary(req.runtime_handler());
        s.pod_dir = dir;
        s.pod_id = id;
        s.shim_root = d.shim_root();
        s.debug = d.cfg.log_level == LogLevel::debug;
        std::filesystem::create_directories(s.shim_root);
        auto start_timeout = handler.shim_start_timeout.count() ? handler.shim_start_timeout : d.cfg.runtime.shim_start_timeout;
        PodShim shim(spawn_pod_shim(s, std::chrono::duration_cast<std::chrono::milliseconds>(start_timeout)));

        berth::shim::v1::PinNamespacesRequest pin;
        pin.set_dir(dir + "/ns");
        if (own_net) pin.add_namespaces("network");
        if (own_ipc) pin.add_namespaces("ipc");
        // UTS: the pod's own, but the host's with host network, as kubelet
        // and containerd have it (a host-network pod sees the node's name).
        if (own_net) pin.add_namespaces("uts");
        if (pod_pid) pin.add_namespaces("pid");
        if (own_net) pin.set_hostname(cfg.hostname());
        for (const auto& [k, v] : cfg.linux().sysctls()) (*pin.mutable_sysctls())[k] = v;
        if (pin.namespaces_size() > 0) {
            auto pinned = shim.pin(pin);
            for (const auto& [k, v] : pinned.paths()) (*rec.mutable_ns_paths())[k] = v;
            rec.set_init_pid(pinned.init_pid());
        }
        if (network) {
            pod_net.pod_id = id;
            pod_net.netns = rec.ns_paths().at("network");
            rec.set_network(network->name);
            d.pods.put(rec);
            try {
                for (auto& ip : d.network.setup(*network, pod_net)) rec.add_ips(ip);
            } catch (const Error& e) {
                throw Error(e.err() == ETIMEDOUT ? ETIMEDOUT : EIO, "pod network: CNI network \"" + network->name +
                                                                        "\" (" + network->file + "): " + e.what());
            }
        }
        rec.set_state(runtime::v1::SANDBOX_READY);
        rec.set_creating(false);
        d.pods.put(rec);
    } catch (const Error& e) {
        try {
            teardown_pod(d, rec);
            d.pods.erase_pod(id);
        } catch (const std::exception& undo) {
            log::error("pod " + id + ": undo a failed RunPodSandbox: " + undo.what());
            if (d.network.has_state(id)) {
                // Its address is still allocated: the pod stays, listed as
                // NOTREADY, until RemovePodSandbox tears its network down.
                rec.set_creating(false);
                rec.set_state(runtime::v1::SANDBOX_NOTREADY);
                d.pods.put(rec);
                throw Error(e.err(), std::string(e.what()) + "; its network could not be torn down (" + undo.what() +
                                         "): pod " + id + " is kept until RemovePodSandbox succeeds");
            }
        }
        d.pods.release_name(key);
        throw;
    } catch (...) {
        try {
            teardown_pod(d, rec);
            d.pods.erase_pod(id);
        } catch (const std::exception& e) {
            log::error("pod " + id + ": undo a failed RunPodSandbox: " + e.what());
        }
        d.pods.release_name(key);
        throw;
    }
    log::info("pod " + id + " (" + key + ") ready");
    resp.set_pod_sandbox_id(id);
}

} // namespace berth::cri
