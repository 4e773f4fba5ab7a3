#include "daemon.hpp"

#include "gc.hpp"
#include "log.hpp"
#include "rootfs.hpp"

#include <climits>
#include <cstdlib>
#include <unistd.h>
#include "error.hpp"

namespace berth::cri {

namespace {

bool executable(const std::string& p) { return ::access(p.c_str(), X_OK) == 0; }

// The configured shim; else berth-shim beside berthd (an install puts both
// in one prefix; a build tree has shim/ next to cri/daemon/), else on PATH.
std::string find_shim(const std::string& configured) {
    if (!configured.empty()) return configured;
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        std::string self(buf, static_cast<size_t>(n));
        std::string dir = self.substr(0, self.rfind('/'));
        for (const std::string& c : {dir + "/berth-shim", dir + "/../bin/berth-shim", dir + "/../../shim/berth-shim"})
            if (executable(c)) return c;
    }
    if (const char* path = std::getenv("PATH")) {
        std::string p = path;
        for (size_t start = 0; start <= p.size();) {
            size_t end = p.find(':', start);
            if (end == std::string::npos) end = p.size();
            std::string c = p.substr(start, end - start) + "/berth-shim";
            if (end > start && executable(c)) return c;
            start = end + 1;
        }
    }
    return "berth-shim";   // reported when a pod is run
}

} // namespace

Daemon::Daemon(Config c)
    : cfg(std::move(c)), content(cfg.root + "/content"), layers(cfg.root + "/layers"), images(cfg.root + "/images"),
      tokens(image::make_token_cache()), pods(cfg.root + "/pods"),
      queue(cfg.root + "/executions/queue"),
      network(net::CniSettings{cfg.cni.conf_dir, cfg.cni.bin_dirs, cfg.cni.plugin_timeout, cfg.root + "/cni"}),
      shim_binary_(find_shim(cfg.runtime.shim)), configs_(std::make_shared<const ExecConfigs>(cfg.configs)) {}

std::shared_ptr<const ExecConfigs> Daemon::exec_configs() const {
    std::lock_guard g(configs_mu_);
    return configs_;
}

void Daemon::set_exec_configs(ExecConfigs configs) {
    auto next = std::make_shared<const ExecConfigs>(std::move(configs));
    std::lock_guard g(configs_mu_);
    configs_ = std::move(next);
}

std::vector<std::string> Daemon::pod_cidrs() const {
    std::lock_guard g(cidr_mu_);
    return pod_cidrs_;
}

void Daemon::set_pod_cidrs(std::vector<std::string> cidrs) {
    std::lock_guard g(cidr_mu_);
    pod_cidrs_ = std::move(cidrs);
}

std::string Daemon::shim_binary(const std::string& handler) const {
    auto it = cfg.runtime.handlers.find(handler);
    return it != cfg.runtime.handlers.end() && !it->second.shim.empty() ? it->second.shim : shim_binary_;
}

const Config::Handler& Daemon::handler(const std::string& name) const {
    static const Config::Handler default_handler;
    auto it = cfg.runtime.handlers.find(name);
    if (it != cfg.runtime.handlers.end()) return it->second;
    if (name.empty()) return default_handler;
    throw Error(EINVAL, "runtime_handler: unknown runtime handler \"" + name + "\" (configure it as [runtime.handlers." +
                            name + "] in " + cfg.config_file + ")");
}

Daemon::PullGuard::PullGuard(Daemon& d) : d_(d), lock_(d.pulls_) {}

Daemon::PullGuard::~PullGuard() {
    lock_.unlock();
    bool run = false;
    {
        std::lock_guard g(d_.gc_mu_);
        run = d_.gc_pending_;
    }
    if (run) d_.request_gc();
}

void Daemon::request_gc() {
    std::unique_lock<std::shared_mutex> excl(pulls_, std::try_to_lock);
    std::lock_guard g(gc_mu_);
    if (!excl.owns_lock()) {
        gc_pending_ = true;   // the last pull to end runs it
        return;
    }
    gc_pending_ = false;
    collect_garbage_locked();
}

void Daemon::collect_garbage_locked() {
    try {
        auto r = image::collect_garbage(images, content, layers, image::rootfs_leases(rootfs_root()));
        if (r.blobs || r.layers)
            log::info("garbage collection: removed " + std::to_string(r.blobs) + " blob(s) and " +
                      std::to_string(r.layers) + " layer(s), " + std::to_string(r.bytes) + " bytes");
    } catch (const std::exception& e) {
        log::error(std::string("garbage collection: ") + e.what());
    }
}

} // namespace berth::cri
