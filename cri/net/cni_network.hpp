// Pod networks through CNI: the config dir watched for the network to use,
// ADD/CHECK/DEL through its plugin list, and a cache of what each pod's
// ADD was given and returned, on disk under berthd's root. DEL runs from
// that cache, so a pod is torn down with the config it was set up with,
// after a berthd crash or a config change alike; the cache goes only when
// DEL succeeded, so no pod is forgotten while its address is allocated.
#pragma once

#include "cni_config.hpp"
#include "fd.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace berth::cri::net {

struct CniSettings {
    std::string conf_dir;
    std::vector<std::string> bin_dirs;
    std::chrono::seconds plugin_timeout{60};
    std::string cache_dir;   // one file per pod
};

// What a pod's ADD is given.
struct PodNetwork {
    std::string pod_id;
    std::string netns;                         // the pinned network namespace
    std::string name, namespace_, uid;         // the pod's metadata, for CNI_ARGS
    std::map<std::string, std::string> caps;   // runtimeConfig values (JSON) by capability
};

class CniNetwork {
public:
    explicit CniNetwork(CniSettings s);

    // The network pods get now; null, with the reason, when none is
    // configured. Reloaded when the config dir changed (inotify).
    std::shared_ptr<const NetworkList> current(std::string* why = nullptr);

    // ADD through the list; the pod's IPs, IPv4 first. On failure what was
    // added is deleted again (the error says if that failed too, and the
    // cache then stays for a later teardown()).
    std::vector<std::string> setup(const NetworkList& list, const PodNetwork& pod);

    // DEL from the pod's cache, retried; a pod without one has nothing to
    // tear down. Error(EIO) with the plugin's message after the retries.
    void teardown(const std::string& pod_id);
    bool has_state(const std::string& pod_id) const;

    // CHECK from the cache: nullopt when there is nothing to check (no
    // cache, cniVersion before 0.4.0, or disableCheck); else "" for a
    // healthy network or the plugin's error.
    std::optional<std::string> check(const std::string& pod_id);

private:
    std::string cache_path(const std::string& pod_id) const;
    void reload_locked();

    CniSettings s_;
    std::mutex mu_;
    UniqueFd watch_;          // inotify on conf_dir; none while the dir is missing
    bool loaded_ = false;
    std::shared_ptr<const NetworkList> current_;
    std::string why_;
};

// CNI_ARGS for a pod, as kubelet's dockershim and containerd pass them.
std::string k8s_args(const PodNetwork& pod);

} // namespace berth::cri::net
