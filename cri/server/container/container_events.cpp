#include "container_events.hpp"

#include <algorithm>

namespace berth::cri {

std::optional<runtime::v1::ContainerEventResponse> ContainerEvents::Subscription::next(std::chrono::milliseconds timeout) {
    std::unique_lock l(mu_);
    if (!cv_.wait_for(l, timeout, [&] { return !queue_.empty(); })) return std::nullopt;
    auto e = std::move(queue_.front());
    queue_.pop_front();
    return e;
}

std::shared_ptr<ContainerEvents::Subscription> ContainerEvents::subscribe() {
    auto s = std::make_shared<Subscription>();
    std::lock_guard l(mu_);
    subs_.push_back(s);
    return s;
}

void ContainerEvents::publish(const runtime::v1::ContainerEventResponse& e) {
    std::lock_guard l(mu_);
    subs_.erase(std::remove_if(subs_.begin(), subs_.end(), [](const auto& w) { return w.expired(); }), subs_.end());
    for (const auto& w : subs_) {
        auto s = w.lock();
        if (!s) continue;
        {
            std::lock_guard sl(s->mu_);
            if (s->queue_.size() >= queue_bound) s->queue_.pop_front();
            s->queue_.push_back(e);
        }
        s->cv_.notify_one();
    }
}

} // namespace berth::cri
