// What every RPC of berthd works on: the configuration and the stores.
// One per process, made by main() and handed to the gRPC services.
#pragma once

#include "daemon_config.hpp"
#include "cni_network.hpp"
#include "container_events.hpp"
#include "content_store.hpp"
#include "execution_queue.hpp"
#include "image_store.hpp"
#include "layer_store.hpp"
#include "peers.hpp"
#include "pod_store.hpp"
#include "registry.hpp"

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

namespace berth::stream {
class StreamServer;
}

namespace berth::cri {

class Daemon {
public:
    explicit Daemon(Config cfg);

    const Config cfg;
    image::ContentStore content;
    image::LayerStore layers;
    image::ImageStore images;
    std::shared_ptr<image::TokenCache> tokens;

    PodStore pods;
    ExecutionQueue queue;   // berth.v1.Executions' Runs waiting for room under a quota
    ContainerEvents events;
    net::CniNetwork network;   // pod networks; its cache under ROOT/cni
    Peers peers;   // the callers of the socket's connections
    stream::StreamServer* streams = nullptr;   // exec/attach/port-forward URLs; main() owns it

    // The node's pod CIDRs kubelet sends with UpdateRuntimeConfig: CNI's
    // ipRanges capability.
    std::vector<std::string> pod_cidrs() const;
    void set_pod_cidrs(std::vector<std::string> cidrs);

    // The execution configurations in force: the config's at start, then
    // each good set a SIGHUP loads. A caller keeps the set it got for the
    // whole of its request, so a reload never changes one half way.
    std::shared_ptr<const ExecConfigs> exec_configs() const;
    void set_exec_configs(ExecConfigs configs);

    std::string rootfs_root() const { return cfg.root + "/rootfs"; }
    // STATE/pods/ID: the pod's shim's cwd (address, log), its namespace
    // pins (ns/), /dev/shm (shm/), hostname/hosts/resolv.conf, and one
    // bundle per container (containers/CID/config.json).
    std::string pod_dir(const std::string& id) const { return cfg.state + "/pods/" + id; }
    std::string bundle_dir(const std::string& pod, const std::string& id) const {
        return pod_dir(pod) + "/containers/" + id;
    }
    // BERTH_SHIM_ROOT of this berthd's shims (their sockets, and libberth's
    // container state under berthd/).
    std::string shim_root() const { return cfg.state + "/shim"; }
    const std::string& shim_binary() const { return shim_binary_; }
    // The pod shim of a runtime handler (its own, else the [runtime] one);
    // the [runtime] one for a handler no longer configured.
    std::string shim_binary(const std::string& handler) const;
    // A runtime handler by name ("" is the default); Error(EINVAL) naming
    // an unknown one.
    const Config::Handler& handler(const std::string& name) const;

    // Pulls hold this shared while their blobs and layers are not yet named
    // by an image record; garbage collection needs it exclusively. GC asked
    // for while pulls run is done when the last of them ends.
    class PullGuard {
    public:
        explicit PullGuard(Daemon& d);
        ~PullGuard();

    private:
        Daemon& d_;
        std::shared_lock<std::shared_mutex> lock_;
    };
    // Collect garbage now, or once the pulls in progress end.
    void request_gc();

private:
    void collect_garbage_locked();
    std::string shim_binary_;
    mutable std::mutex cidr_mu_;
    std::vector<std::string> pod_cidrs_;
    mutable std::mutex configs_mu_;
    std::shared_ptr<const ExecConfigs> configs_;
    std::shared_mutex pulls_;
    std::mutex gc_mu_;
    bool gc_pending_ = false;
};

} // namespace berth::cri
