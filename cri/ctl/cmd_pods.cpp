// berthctl's pod verbs, as crictl's: runp, stopp, rmp, pods, inspectp.
#include "config_file.hpp"
#include "ctl.hpp"

#include "error.hpp"

#include <algorithm>
#include <cstdio>

namespace berth::ctl {

namespace v1 = runtime::v1;

namespace {

std::string pod_state(v1::PodSandboxState s) {
    return s == v1::SANDBOX_READY ? "Ready" : s == v1::SANDBOX_NOTREADY ? "NotReady" : "Unknown";
}

int runp(Client& c, const Args& a) {
    if (a.pos.size() != 1) throw Error(EINVAL, "runp: one pod config expected; usage: berthctl runp [OPTIONS] pod-config.[json|yaml]");
    v1::RunPodSandboxRequest req;
    *req.mutable_config() = load_pod_config(a.pos[0]);
    req.set_runtime_handler(a.get("runtime"));
    v1::RunPodSandboxResponse resp;
    // crictl gives RunPodSandbox twice the timeout: it sets up the network.
    auto ctx = c.context(c.timeout() * 2);
    Client::check(c.runtime().RunPodSandbox(ctx.get(), req, &resp), "run pod sandbox: RunPodSandbox");
    std::printf("%s\n", resp.pod_sandbox_id().c_str());
    return 0;
}

void stop_pod(Client& c, const std::string& id) {
    v1::StopPodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    v1::StopPodSandboxResponse resp;
    auto ctx = c.context();
    Client::check(c.runtime().StopPodSandbox(ctx.get(), req, &resp),
                  ("stopping the pod sandbox \"" + id + "\": StopPodSandbox").c_str());
    std::printf("Stopped sandbox %s\n", id.c_str());
}

int stopp(Client& c, const Args& a) {
    if (a.pos.empty()) throw Error(EINVAL, "stopp: a pod id is required; usage: berthctl stopp POD-ID [POD-ID...]");
    return for_each_id(a.pos, [&](const std::string& id) { stop_pod(c, id); });
}

int rmp(Client& c, const Args& a) {
    std::vector<std::string> ids = a.pos;
    if (a.has("all")) {
        ids.clear();
        v1::ListPodSandboxRequest lreq;
        v1::ListPodSandboxResponse lresp;
        auto ctx = c.context();
        Client::check(c.runtime().ListPodSandbox(ctx.get(), lreq, &lresp), "ListPodSandbox");
        for (const auto& p : lresp.items()) ids.push_back(p.id());
        if (ids.empty()) {
            std::fprintf(stderr, "No pods to remove\n");
            return 0;
        }
    }
    if (ids.empty()) throw Error(EINVAL, "rmp: a pod id is required; usage: berthctl rmp [OPTIONS] POD-ID [POD-ID...]");
    return for_each_id(ids, [&](const std::string& id) {
        v1::PodSandboxStatusRequest sreq;
        sreq.set_pod_sandbox_id(id);
        v1::PodSandboxStatusResponse sresp;
        auto sctx = c.context();
        Client::check(c.runtime().PodSandboxStatus(sctx.get(), sreq, &sresp),
                      ("getting sandbox status of pod \"" + id + "\": PodSandboxStatus").c_str());
        if (sresp.status().state() == v1::SANDBOX_READY) {
            if (!a.has("force")) throw Error(EBUSY, "pod sandbox \"" + id + "\" is running, please stop it first");
            stop_pod(c, id);
        }
        v1::RemovePodSandboxRequest req;
        req.set_pod_sandbox_id(id);
        v1::RemovePodSandboxResponse resp;
        auto ctx = c.context();
        Client::check(c.runtime().RemovePodSandbox(ctx.get(), req, &resp),
                      ("removing the pod sandbox \"" + id + "\": RemovePodSandbox").c_str());
        std::printf("Removed sandbox %s\n", id.c_str());
    });
}

int pods(Client& c, const Args& a) {
    Format f = a.format();
    auto items = list_pods(c, a);
    if (f != Format::table) {
        v1::ListPodSandboxResponse r;
        for (auto& p : items) *r.add_items() = p;
        print_message(r, f);
        return 0;
    }
    if (a.has("quiet")) {
        for (const auto& p : items) std::printf("%s\n", p.id().c_str());
        return 0;
    }
    if (a.has("verbose")) {
        for (const auto& p : items) {
            std::printf("ID: %s\n", p.id().c_str());
            if (!p.metadata().name().empty()) std::printf("Name: %s\n", p.metadata().name().c_str());
            if (!p.metadata().uid().empty()) std::printf("UID: %s\n", p.metadata().uid().c_str());
            if (!p.metadata().namespace_().empty()) std::printf("Namespace: %s\n", p.metadata().namespace_().c_str());
            if (p.metadata().attempt()) std::printf("Attempt: %u\n", p.metadata().attempt());
            std::printf("Status: %s\nCreated: %s\n", pod_state(p.state()).c_str(), rfc3339_nano(p.created_at()).c_str());
            for (const auto* m : {&p.labels(), &p.annotations()}) {
                if (m->empty()) continue;
                std::printf(m == &p.labels() ? "Labels:\n" : "Annotations:\n");
                std::map<std::string, std::string> sorted(m->begin(), m->end());
                for (const auto& [k, v] : sorted) std::printf("\t%s -> %s\n", k.c_str(), v.c_str());
            }
            std::printf("Runtime: %s\n\n", p.runtime_handler().empty() ? "(default)" : p.runtime_handler().c_str());
        }
        return 0;
    }
    bool no_trunc = a.has("no-trunc");
    std::vector<std::vector<std::string>> rows = {{"POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"}};
    for (const auto& p : items)
        rows.push_back({no_trunc ? p.id() : truncate_id(p.id()), human_duration_since(p.created_at()) + " ago",
                        pod_state(p.state()), p.metadata().name(), p.metadata().namespace_(),
                        std::to_string(p.metadata().attempt()),
                        p.runtime_handler().empty() ? "(default)" : p.runtime_handler()});
    print_table(rows);
    return 0;
}

int inspectp(Client& c, const Args& a) {
    std::vector<std::string> ids = a.pos;
    if (ids.empty()) {
        for (const auto& p : list_pods(c, a)) ids.push_back(p.id());
        if (ids.empty()) throw Error(EINVAL, "inspectp: no IDs provided or nothing found per filter; usage: berthctl inspectp POD-ID...");
    }
    Format f = a.format(Format::json);
    bool verbose = !a.has("quiet");
    std::vector<v1::PodSandboxStatusResponse> resps;
    for (const auto& id : ids) {
        v1::PodSandboxStatusRequest req;
        req.set_pod_sandbox_id(id);
        req.set_verbose(verbose);
        v1::PodSandboxStatusResponse resp;
        auto ctx = c.context();
        Client::check(c.runtime().PodSandboxStatus(ctx.get(), req, &resp),
                      ("getting the status of pod sandbox \"" + id + "\": PodSandboxStatus").c_str());
        resps.push_back(std::move(resp));
    }
    if (f == Format::table) {
        for (const auto& r : resps) {
            const auto& s = r.status();
            std::printf("ID: %s\n", s.id().c_str());
            if (!s.metadata().name().empty()) std::printf("Name: %s\n", s.metadata().name().c_str());
            if (!s.metadata().uid().empty()) std::printf("UID: %s\n", s.metadata().uid().c_str());
            if (!s.metadata().namespace_().empty()) std::printf("Namespace: %s\n", s.metadata().namespace_().c_str());
            std::printf("Attempt: %u\nStatus: %s\nCreated: %s\n", s.metadata().attempt(), v1::PodSandboxState_Name(s.state()).c_str(),
                        rfc3339_nano(s.created_at()).c_str());
            if (s.has_network()) {
                std::printf("IP Addresses: %s\n", s.network().ip().c_str());
                for (const auto& ip : s.network().additional_ips()) std::printf("Additional IP: %s\n", ip.ip().c_str());
            }
            for (const auto* m : {&s.labels(), &s.annotations()}) {
                if (m->empty()) continue;
                std::printf(m == &s.labels() ? "Labels:\n" : "Annotations:\n");
                std::map<std::string, std::string> sorted(m->begin(), m->end());
                for (const auto& [k, v] : sorted) std::printf("\t%s -> %s\n", k.c_str(), v.c_str());
            }
        }
        return 0;
    }
    std::vector<std::string> statuses;
    for (const auto& r : resps) statuses.push_back(json_with_times(r.status(), {{"createdAt", r.status().created_at()}}));
    std::vector<std::pair<std::string, const google::protobuf::Map<std::string, std::string>*>> items;
    for (size_t i = 0; i < resps.size(); ++i) items.push_back({statuses[i], &resps[i].info()});
    std::string doc = status_document(items);
    std::string out = f == Format::yaml ? json_to_yaml(doc) : doc + "\n";
    std::fputs(out.c_str(), stdout);
    return 0;
}

} // namespace

std::vector<v1::PodSandbox> list_pods(Client& c, const Args& a) {
    v1::ListPodSandboxRequest req;
    auto* filter = req.mutable_filter();
    if (a.has("id")) filter->set_id(a.get("id"));
    if (a.has("state")) {
        std::string s = a.get("state");
        std::transform(s.begin(), s.end(), s.begin(), ::tolower);
        if (s == "ready") filter->mutable_state()->set_state(v1::SANDBOX_READY);
        else if (s == "notready") filter->mutable_state()->set_state(v1::SANDBOX_NOTREADY);
        else throw Error(EINVAL, "--state should be ready or notready, not \"" + a.get("state") + "\"");
    }
    for (const auto& [k, v] : parse_labels(a)) (*filter->mutable_label_selector())[k] = v;
    v1::ListPodSandboxResponse resp;
    auto ctx = c.context();
    Client::check(c.runtime().ListPodSandbox(ctx.get(), req, &resp), "listing pod sandboxes: ListPodSandbox");
    std::vector<v1::PodSandbox> r;
    for (const auto& p : resp.items())
        if (matches_regex(a.get("name"), p.metadata().name()) && matches_regex(a.get("namespace"), p.metadata().namespace_()))
            r.push_back(p);
    std::stable_sort(r.begin(), r.end(), [](const auto& x, const auto& y) { return x.created_at() > y.created_at(); });
    size_t n = r.size();
    if (a.has("latest")) n = 1;
    if (int64_t last = int_flag(a, "last", 0); last > 0) n = static_cast<size_t>(last);
    if (n < r.size()) r.resize(n);
    return r;
}

std::vector<Verb> pod_verbs() {
    const Flag output{"output", true, 'o', "output format: json, yaml or table"};
    const Flag name{"name", true, 0, "filter by pod name regular expression pattern"};
    const Flag ns{"namespace", true, 0, "filter by pod namespace regular expression pattern"};
    const Flag state{"state", true, 's', "filter by pod state: ready or notready"};
    const Flag label{"label", true, 0, "filter by key=value label (repeatable)"};
    const Flag latest{"latest", false, 'l', "show the most recently created pod"};
    const Flag last{"last", true, 'n', "show the last n recently created pods (0: unlimited)"};
    return {
        {"runp", "runp [OPTIONS] pod-config.[json|yaml]", "Run a new pod",
         {{"runtime", true, 'r', "runtime handler to use (the server's RuntimeClass handlers)"}}, runp, Operand::file},
        {"stopp", "stopp POD-ID [POD-ID...]", "Stop one or more running pods", {}, stopp, Operand::pod},
        {"rmp", "rmp [OPTIONS] POD-ID [POD-ID...]", "Remove one or more pods",
         {{"force", false, 'f', "stop a running pod first"}, {"all", false, 'a', "remove all pods"}}, rmp, Operand::pod},
        {"pods", "pods [OPTIONS]", "List pods",
         {{"id", true, 0, "filter by pod id"}, name, ns, state, label,
          {"verbose", false, 'v', "show verbose info for pods"}, {"quiet", false, 'q', "list only pod IDs"}, output, latest,
          last, {"no-trunc", false, 0, "show output without truncating the ID"}},
         pods},
        {"inspectp", "inspectp [OPTIONS] POD-ID [POD-ID...]", "Display the status of one or more pods",
         {output, {"quiet", false, 'q', "do not show verbose information"}, name, ns, state, label, latest, last}, inspectp,
         Operand::pod},
    };
}

} // namespace berth::ctl
