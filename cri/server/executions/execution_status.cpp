// berth.v1.Executions Get, Wait and List: an execution's state from its
// pod and workload records (the caller's own; root and admin_group: all).
#include "executions.hpp"

#include "error.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

namespace berth::cri {

void get_execution(Daemon& d, const Caller& caller, const std::string& id, berth::v1::Execution& out) {
    fill_execution(d, find_execution(d, caller, id), out);
}

void wait_execution(Daemon& d, grpc::ServerContext& ctx, const Caller& caller, const std::string& id,
                    berth::v1::Execution& out) {
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
    auto pods = d.pods.pods();
    std::sort(pods.begin(), pods.end(), [](const PodRecord& a, const PodRecord& b) { return a.created_at() > b.created_at(); });
    for (const auto& p : pods) {
        if (!is_execution(p) || !may_see(d, caller, p)) continue;
        berth::v1::Execution e;
        fill_execution(d, p, e);
        if (!req.all() && e.state() == "exited") continue;
        *resp.add_executions() = std::move(e);
    }
}

} // namespace berth::cri
