// Status and RuntimeConfig of the RuntimeService.
#include "runtime_ops.hpp"

#include "error.hpp"
#include "json.hpp"

#include <unistd.h>

namespace berth::cri {

void runtime_status(Daemon& d, const runtime::v1::StatusRequest& req, runtime::v1::StatusResponse& resp) {
    auto* rt = resp.mutable_status()->add_conditions();
    rt->set_type("RuntimeReady");
    bool shim_ok = ::access(d.shim_binary().c_str(), X_OK) == 0;
    rt->set_status(shim_ok);
    if (!shim_ok) {
        rt->set_reason("ShimNotFound");
        rt->set_message("the pod shim " + d.shim_binary() + " is not an executable ([runtime] shim in " +
                        d.cfg.config_file + ")");
    }
    auto* net = resp.mutable_status()->add_conditions();
    net->set_type("NetworkReady");
    std::string why;
    auto list = d.network.current(&why);
    net->set_status(list != nullptr);
    if (!list) {
        net->set_reason("NetworkPluginNotReady");
        net->set_message(why);
    }
    // Every configured handler, and the default one.
    auto* def = resp.add_runtime_handlers();
    def->set_name("");
    def->mutable_features()->set_recursive_read_only_mounts(true);
    def->mutable_features()->set_user_namespaces(false);
    for (const auto& [name, h] : d.cfg.runtime.handlers) {
        if (name.empty()) continue;
        auto* rh = resp.add_runtime_handlers();
        rh->set_name(name);
        rh->mutable_features()->set_recursive_read_only_mounts(true);
        rh->mutable_features()->set_user_namespaces(false);
    }
    resp.mutable_features()->set_supplemental_groups_policy(false);   // Strict is not applied yet
    if (req.verbose()) {
        json::Writer w;
        w.begin_object();
        w.kv("root", d.cfg.root).kv("state", d.cfg.state).kv("listen", d.cfg.listen);
        w.kv("registryConfig", d.cfg.registry_config).kv("logLevel", log_level_name(d.cfg.log_level));
        w.key("images").begin_object();
        w.kv("maxConcurrentDownloads", static_cast<int64_t>(d.cfg.images.max_concurrent_downloads));
        w.kv("copyRootfs", d.cfg.images.copy_rootfs);
        w.end_object();
        w.key("runtime").begin_object();
        w.kv("shim", d.shim_binary());
        w.kv("cgroupParent", d.cfg.runtime.cgroup_parent);
        w.kv("cgroupDriver", d.cfg.runtime.cgroup_driver);
        w.kv("seccompProfile", d.cfg.runtime.seccomp_profile);
        w.key("handlers").begin_array();
        for (const auto& [name, h] : d.cfg.runtime.handlers) w.string(name);
        w.end_array();
        w.end_object();
        w.key("cni").begin_object();
        w.kv("confDir", d.cfg.cni.conf_dir).key("binDirs").string_array(d.cfg.cni.bin_dirs);
        w.kv("pluginTimeoutSeconds", static_cast<int64_t>(d.cfg.cni.plugin_timeout.count()));
        w.kv("unconfigured", d.cfg.cni.unconfigured);
        w.kv("network", list ? list->name : "").kv("networkFile", list ? list->file : "");
        w.key("podCIDRs").string_array(d.pod_cidrs());
        w.end_object();
        w.end_object();
        (*resp.mutable_info())["config"] = w.str();
    }
}

void update_runtime_config(Daemon& d, const runtime::v1::UpdateRuntimeConfigRequest& req) {
    // "10.244.1.0/24" or, dual-stack, "10.244.1.0/24,fd00:1::/64".
    std::vector<std::string> cidrs;
    const std::string& all = req.runtime_config().network_config().pod_cidr();
    for (size_t start = 0; start < all.size();) {
        size_t end = all.find(',', start);
        if (end == std::string::npos) end = all.size();
        std::string c = all.substr(start, end - start);
        while (!c.empty() && c.front() == ' ') c.erase(0, 1);
        while (!c.empty() && c.back() == ' ') c.pop_back();
        if (!c.empty()) {
            if (c.find('/') == std::string::npos)
                throw Error(EINVAL, "runtime_config.network_config.pod_cidr: \"" + c + "\" is not a CIDR");
            cidrs.push_back(c);
        }
        start = end + 1;
    }
    d.set_pod_cidrs(std::move(cidrs));
}

void runtime_config(Daemon& d, runtime::v1::RuntimeConfigResponse& resp) {
    (void)d;
    resp.mutable_linux()->set_cgroup_driver(d.cfg.runtime.cgroup_driver == "systemd" ? runtime::v1::SYSTEMD
                                                                                     : runtime::v1::CGROUPFS);
}

} // namespace berth::cri
