// GetContainerEvents' source: the lifecycle events of containers (created,
// started, stopped, deleted) as berthd makes or notices them, fanned out to
// every open stream (kubelet's evented PLEG). A subscriber that does not
// keep up loses the oldest events beyond its queue's bound, and kubelet's
// periodic relist makes up for them.
#pragma once

#include "api.pb.h"

#include <condition_variable>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace berth::cri {

class ContainerEvents {
public:
    static constexpr size_t queue_bound = 4096;

    class Subscription {
    public:
        // The next event, or nullopt after timeout.
        std::optional<runtime::v1::ContainerEventResponse> next(std::chrono::milliseconds timeout);

    private:
        friend class ContainerEvents;
        std::mutex mu_;
        std::condition_variable cv_;
        std::deque<runtime::v1::ContainerEventResponse> queue_;
    };

    std::shared_ptr<Subscription> subscribe();
    void publish(const runtime::v1::ContainerEventResponse& e);

private:
    std::mutex mu_;
    std::vector<std::weak_ptr<Subscription>> subs_;
};

} // namespace berth::cri
