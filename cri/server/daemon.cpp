#include "daemon.hpp"

#include "gc.hpp"
#include "log.hpp"
#include "rootfs.hpp"

namespace berth::cri {

Daemon::Daemon(Config c)
    : cfg(std::move(c)), content(cfg.root + "/content"), layers(cfg.root + "/layers"), images(cfg.root + "/images"),
      tokens(image::make_token_cache()) {}

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
