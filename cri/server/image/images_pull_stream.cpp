// berth.v1.Images.Pull: CRI's PullImage (image_pull.cpp) run on a thread of
// its own while this one sends snapshots of the layers' progress, at most
// ten a second, and the image id last. A client that goes away cancels the
// pull.
#include "images_v1.hpp"

#include "error.hpp"
#include "image_ops.hpp"
#include "image_pull.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace berth::cri {

void pull_image_stream(Daemon& d, grpc::ServerContext& ctx, const runtime::v1::PullImageRequest& req,
                       grpc::ServerWriter<berth::v1::PullProgress>& out) {
    PullRequest r = cri_pull_request(ctx, req);
    std::mutex m;
    std::condition_variable cv;
    berth::v1::PullProgress state;
    bool changed = false, done = false;
    std::atomic<bool> gone{false};
    r.cancelled = [&ctx, &gone] { return gone.load() || ctx.IsCancelled(); };
    r.progress = [&](const PullEvent& e) {
        std::lock_guard g(m);
        switch (e.kind) {
        case PullEvent::Kind::layers:
            state.clear_layers();
            for (const auto& l : *e.layers) {
                auto* p = state.add_layers();
                p->set_digest(l.digest);
                p->set_size(l.size);
            }
            break;
        case PullEvent::Kind::fetched:
            if (e.layer < static_cast<size_t>(state.layers_size()))
                state.mutable_layers(static_cast<int>(e.layer))->set_fetched(static_cast<int64_t>(e.bytes));
            break;
        case PullEvent::Kind::unpacked:
            if (e.layer < static_cast<size_t>(state.layers_size()))
                state.mutable_layers(static_cast<int>(e.layer))->set_unpacked(true);
            break;
        }
        changed = true;
    };

    std::string id;
    std::exception_ptr error;
    std::thread puller([&] {
        try {
            id = pull_image(d, r).id;
        } catch (...) {
            error = std::current_exception();
        }
        std::lock_guard g(m);
        done = true;
        cv.notify_all();
    });
    for (bool finished = false; !finished;) {
        berth::v1::PullProgress snapshot;
        {
            std::unique_lock g(m);
            cv.wait_for(g, std::chrono::milliseconds(100), [&] { return done; });
            finished = done;
            if (!changed || finished) continue;   // the last state goes with the id
            snapshot = state;
            changed = false;
        }
        if (!gone && !out.Write(snapshot)) gone = true;
    }
    puller.join();
    if (error) std::rethrow_exception(error);
    state.set_image_ref(id);
    if (!out.Write(state)) throw Error(ECANCELED, "Pull: the client went away");
}

} // namespace berth::cri
