// berth.v1.Executions Get, Wait and List: an execution's state from its
// pod and workload records (the caller's own; root and admin_group: all).
#include "executions.hpp"

#include "error.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

namespace berth::cri {

void get_execution(Daemon& d, const Caller& caller, const std::string& id, berth::v1::Execution& out) {
    if (auto q = find_queued(d, caller, id)) return fill_queued(d, *q, out);
    fill_execution(d, find_execution(d, caller, id), out);
}

void wait_execution(Daemon& d, grpc::ServerContext& ctx, const Caller& caller, const std::string& id,
                    berth::v1::Execution& out) {
    // Through its time in the queue: it ends there (canceled, or it could
    // not start), or leaves it as a pod of the same id.
    for (auto pause = std::chrono::milliseconds(100);; pause = std::min(pause * 2, std::chrono::milliseconds(500))) {
        auto q = find_queued(d, caller, id);
        if (!q) break;
        if (q->state() != "queued") return fill_queued(d, *q, out);
        if (ctx.IsCancelled()) throw Error(ECANCELED, "Wait: the call was cancelled");
        if (ctx.deadline() < std::chrono::system_clock::now() + pause)
            throw Error(ETIMEDOUT, "execution " + q->id() + " is still queued");
        std::this_thread::sleep_for(pause);
    }
    PodRecord p = find_execution(d, caller, id);
    // The exit watcher records exits within its sweep; asking the shim
    // each round (workload_of refreshes) notices one sooner.
    for (auto pause = std::chrono::milliseconds(20);; pause = std::min(pause * 2, std::chrono::milliseconds(250))) {
        out.Clear();
        fill_execution(d, p, out);
        if (out.state() == "exited") return;
        if (ctx.IsCancelled()) throw Error(ECANCELED, "Wait: the call was cancelled");
        if (ctx.deadline() < std::chrono::system_clock::now() + pause)
            throw Error(ETIMEDOUT, "execution " + p.id() + " is still running");
        std::this_thread::sleep_for(pause);
        auto again = d.pods.pod(p.id());
        if (!again) throw Error(ENOENT, "execution " + p.id() + ": removed while waited for");
        p = std::move(*again);
    }
}

void list_executions(Daemon& d, const Caller& caller, const berth::v1::ListRequest& req, berth::v1::ListResponse& resp) {
    std::vector<berth::v1::Execution> all;
    std::set<std::string> queued;
    for (const auto& q : visible_queued(d, caller)) {
        fill_queued(d, q, all.emplace_back());
        queued.insert(q.id());
    }
    // A pod whose queue record is still there is being started: the
    // record speaks for it until the start is done.
    for (const auto& p : d.pods.pods())
        if (is_execution(p) && may_see(d, caller, p) && !queued.count(p.id())) fill_execution(d, p, all.emplace_back());
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.created_at() > b.created_at(); });
    for (auto& e : all)
        if (req.all() || e.state() != "exited") *resp.add_executions() = std::move(e);
}

} // namespace berth::cri
