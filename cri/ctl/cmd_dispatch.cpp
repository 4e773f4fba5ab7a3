// `run --config NAME` with several berthds (issue 16): every host is asked
// for the config's room (Capacity, in parallel, with a short deadline);
// those down, without the config for this caller, refusing it, or full are
// dropped; Run is tried on the rest, most room first, falling through to
// the next when a host turns out down or full. -v says which and why.
#include "ctl.hpp"

#include "dispatch_order.hpp"
#include "error.hpp"

#include <cstdio>
#include <thread>

namespace berth::ctl {

namespace {

using State = HostChoice::State;

// Run's codes after which another host may do better: the host is gone,
// its room went to someone else since Capacity, or it cannot run the
// config as set up there (its CNI network missing: FailedPrecondition; a
// quota under the systemd driver, or no Executions at all: Unimplemented).
// The rest (a bad env, an image the config does not allow) would fail
// the same everywhere.
bool try_next(grpc::StatusCode code) {
    using C = grpc::StatusCode;
    return code == C::UNAVAILABLE || code == C::RESOURCE_EXHAUSTED || code == C::DEADLINE_EXCEEDED ||
           code == C::FAILED_PRECONDITION || code == C::UNIMPLEMENTED;
}

void ask_capacity(Client& c, const std::string& config, std::chrono::milliseconds deadline, HostChoice& out) {
    berth::v1::CapacityRequest req;
    req.set_config(config);
    berth::v1::CapacityResponse resp;
    auto ctx = c.context(deadline);
    grpc::Status st = c.executions().Capacity(ctx.get(), req, &resp);
    if (!st.ok()) {
        out.why = st.error_message();
        switch (st.error_code()) {
        case grpc::StatusCode::UNIMPLEMENTED: out.state = State::unknown; break;
        case grpc::StatusCode::UNAVAILABLE:
        case grpc::StatusCode::DEADLINE_EXCEEDED: out.state = State::down; break;
        case grpc::StatusCode::PERMISSION_DENIED:
        case grpc::StatusCode::UNAUTHENTICATED: out.state = State::refused; break;
        default: out.state = State::failed; out.why = "Capacity: " + st.error_message(); break;
        }
        return;
    }
    if (!resp.offered()) {
        out.state = State::not_offered;
    } else if (!resp.fits()) {
        out.state = resp.queues() ? State::queues : State::full;
        out.why = resp.why_not();
        out.queued = resp.queued();
    } else {
        out.state = State::open;
        out.config = {resp.config().cap_bytes(), resp.config().left_bytes()};
        out.user = {resp.user().cap_bytes(), resp.user().left_bytes()};
    }
}

// "HOST: why; HOST: why" for every host but `except`.
std::string others(const std::vector<HostChoice>& hosts, const std::string& config, size_t except) {
    std::string s;
    for (size_t i = 0; i < hosts.size(); ++i)
        if (i != except) s += (s.empty() ? "" : "; ") + hosts[i].host + ": " + choice_text(hosts[i], config);
    return s;
}

} // namespace

int dispatch_run(const Global& g, const Args& a) {
    berth::v1::RunRequest req = execution_run_request(a);   // bad flags fail before any call
    const std::string& config = req.config();
    std::vector<HostChoice> hosts(g.hosts.size());
    std::vector<std::unique_ptr<Client>> clients(g.hosts.size());
    for (size_t i = 0; i < g.hosts.size(); ++i) {
        hosts[i].host = g.hosts[i].url;
        try {
            clients[i] = std::make_unique<Client>(for_host(g, g.hosts[i]));
        } catch (const Error& e) {   // this host's TLS files, say: the others may do
            hosts[i].state = State::failed;
            hosts[i].why = e.what();
        }
    }
    // A host that does not answer soon is taken for down; -t sets how soon.
    const auto deadline = g.timeout.count() > 0 ? g.timeout : std::chrono::milliseconds(2000);
    {
        std::vector<std::jthread> asking;
        for (size_t i = 0; i < hosts.size(); ++i)
            if (clients[i])
                asking.emplace_back([&, i] { ask_capacity(*clients[i], config, deadline, hosts[i]); });
    }   // joined here

    for (size_t i : dispatch_order(hosts)) {
        berth::v1::RunResponse resp;
        auto ctx = clients[i]->context(std::chrono::milliseconds(0));   // a pull may come first
        grpc::Status st = clients[i]->executions().Run(ctx.get(), req, &resp);
        if (!st.ok()) {
            if (!try_next(st.error_code()))
                Client::check(st, (hosts[i].host + ": running under config \"" + config + "\": Run").c_str());
            hosts[i].state = State::failed;
            hosts[i].why = "Run: " + st.error_message();
            continue;
        }
        if (a.has("verbose")) {
            std::string rest = others(hosts, config, i);
            std::fprintf(stderr, "berthctl: running on %s: %s%s\n", hosts[i].host.c_str(), choice_text(hosts[i], config).c_str(),
                         rest.empty() ? "" : (" (" + rest + ")").c_str());
        }
        return follow_execution(*clients[i], resp, req.config(), a);
    }
    throw Error(ENOSPC, "run --config " + config + ": no host can run it: " + others(hosts, config, hosts.size()));
}

} // namespace berth::ctl
