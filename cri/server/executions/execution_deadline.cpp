// An execution config's max_runtime: a workload running longer is killed
// (SIGKILL, at once) and its record says DeadlineExceeded. The exit
// watcher asks every second, so the limit holds within about a second.
#include "executions.hpp"

#include "error.hpp"
#include "log.hpp"
#include "runtime_ops.hpp"

namespace berth::cri {

void enforce_execution_deadlines(Daemon& d) {
    auto configs = d.exec_configs();
    const int64_t now = now_ns();
    for (const auto& p : d.pods.pods()) {
        if (!is_execution(p) || p.state() != runtime::v1::SANDBOX_READY) continue;
        auto l = p.config().labels().find(exec_labels::kConfig);
        if (l == p.config().labels().end()) continue;
        auto cfg = configs->find(l->second);
        if (cfg == configs->end() || cfg->second.max_runtime.count() == 0) continue;
        const int64_t limit_ns = cfg->second.max_runtime.count() * 1000000000LL;
        for (auto& c : d.pods.containers(p.id())) {
            if (c.config().metadata().name() != kWorkloadName || c.state() != runtime::v1::CONTAINER_RUNNING) continue;
            if (c.started_at() == 0 || now - c.started_at() < limit_ns) continue;
            try {
                runtime::v1::StopContainerRequest s;
                s.set_container_id(c.id());
                s.set_timeout(0);
                stop_container(d, s);
                auto lock = d.pods.locks(c.id());
                std::unique_lock g(lock->mu);
                for (auto& again : d.pods.containers(p.id()))
                    if (again.id() == c.id()) {
                        again.set_reason("DeadlineExceeded");
                        d.pods.put(again);
                    }
                log::info("execution " + p.id() + " killed: it ran past its config's max_runtime (" +
                          std::to_string(cfg->second.max_runtime.count()) + "s)");
            } catch (const Error& e) {
                log::warn("execution " + p.id() + ": max_runtime: " + e.what());
            }
        }
    }
}

} // namespace berth::cri
