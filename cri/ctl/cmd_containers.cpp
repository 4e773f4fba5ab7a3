// berthctl's container verbs, as crictl's: create, start, stop, rm, ps,
// inspect, update, run.
#include "config_file.hpp"
#include "ctl.hpp"

#include "error.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <glob.h>
#include <unistd.h>

namespace berth::ctl {

namespace v1 = runtime::v1;

namespace {

std::string container_state(v1::ContainerState s) {
    switch (s) {
    case v1::CONTAINER_CREATED: return "Created";
    case v1::CONTAINER_RUNNING: return "Running";
    case v1::CONTAINER_EXITED: return "Exited";
    default: return "Unknown";
    }
}

std::string label_or_unknown(const google::protobuf::Map<std::string, std::string>& l, const char* key) {
    auto it = l.find(key);
    return it == l.end() ? "unknown" : it->second;
}

void pull_for(Client& c, const Args& a, const std::string& image, const v1::PodSandboxConfig* pod) {
    v1::PullImageRequest req;
    req.mutable_image()->set_image(image);
    if (pod) *req.mutable_sandbox_config() = *pod;
    if (a.has("creds")) {
        std::string cr = a.get("creds");
        auto colon = cr.find(':');
        req.mutable_auth()->set_username(cr.substr(0, colon));
        if (colon != std::string::npos) req.mutable_auth()->set_password(cr.substr(colon + 1));
    }
    if (a.has("auth")) req.mutable_auth()->set_auth(a.get("auth"));
    v1::PullImageResponse resp;
    auto ctx = c.context(std::chrono::milliseconds(int_flag(a, "pull-timeout", 0) * 1000));
    Client::check(c.images().PullImage(ctx.get(), req, &resp), ("pulling image \"" + image + "\": PullImage").c_str());
}

// crictl: create pulls only with --with-pull; run pulls unless --no-pull.
std::string create_container(Client& c, const Args& a, const std::string& pod_id, bool pull_default) {
    if (a.has("no-pull") && a.has("with-pull")) throw Error(EINVAL, "conflict: no-pull and with-pull are both set");
    v1::CreateContainerRequest req;
    *req.mutable_config() = load_container_config(a.pos[pod_id.empty() ? 0 : 1]);
    *req.mutable_sandbox_config() = load_pod_config(a.pos[pod_id.empty() ? 1 : 2]);
    auto* cfg = req.mutable_config();
    if (cfg->image().user_specified_image().empty()) cfg->mutable_image()->set_user_specified_image(cfg->image().image());
    if ((pull_default && !a.has("no-pull")) || a.has("with-pull")) {
        pull_for(c, a, cfg->image().image(), &req.sandbox_config());
        for (const auto& m : cfg->mounts())
            if (m.has_image() && !m.image().image().empty()) pull_for(c, a, m.image().image(), &req.sandbox_config());
    }
    req.set_pod_sandbox_id(pod_id);
    v1::CreateContainerResponse resp;
    auto ctx = c.context(c.timeout() * 2);
    Client::check(c.runtime().CreateContainer(ctx.get(), req, &resp), "creating container: CreateContainer");
    return resp.container_id();
}

int create(Client& c, const Args& a) {
    if (a.pos.size() != 3)
        throw Error(EINVAL, "create: usage: berthctl create [OPTIONS] POD-ID container-config.[json|yaml] pod-config.[json|yaml]");
    std::printf("%s\n", create_container(c, a, a.pos[0], false).c_str());
    return 0;
}

void start_one(Client& c, const std::string& id) {
    v1::StartContainerRequest req;
    req.set_container_id(id);
    v1::StartContainerResponse resp;
    auto ctx = c.context(c.timeout() * 2);
    Client::check(c.runtime().StartContainer(ctx.get(), req, &resp),
                  ("starting the container \"" + id + "\": StartContainer").c_str());
    std::printf("%s\n", id.c_str());
}

int start(Client& c, const Args& a) {
    if (a.pos.empty()) throw Error(EINVAL, "start: ID cannot be empty; usage: berthctl start CONTAINER-ID [CONTAINER-ID...]");
    return for_each_id(a.pos, [&](const std::string& id) { start_one(c, id); });
}

void stop_one(Client& c, const std::string& id, int64_t timeout) {
    v1::StopContainerRequest req;
    req.set_container_id(id);
    req.set_timeout(timeout);
    v1::StopContainerResponse resp;
    auto ctx = c.context(c.timeout() + std::chrono::seconds(timeout));
    Client::check(c.runtime().StopContainer(ctx.get(), req, &resp),
                  ("stopping the container \"" + id + "\": StopContainer").c_str());
    std::printf("%s\n", id.c_str());
}

int stop(Client& c, const Args& a) {
    int64_t timeout = int_flag(a, "timeout", 0);
    if (a.has("all") && !a.pos.empty()) throw Error(EINVAL, "cannot specify CONTAINER-ID(s) when using --all");
    std::vector<std::string> ids = a.pos;
    if (a.has("all")) {
        Args la;
        la.flags["state"] = {"running"};
        for (const auto& ct : list_containers(c, la)) ids.push_back(ct.id());
        if (ids.empty()) {
            std::printf("No running containers found.\n");
            return 0;
        }
    }
    if (ids.empty()) throw Error(EINVAL, "you must specify at least one CONTAINER-ID or use --all");
    return for_each_id(ids, [&](const std::string& id) { stop_one(c, id, timeout); });
}

int rm(Client& c, const Args& a) {
    std::vector<std::string> ids = a.pos;
    if (a.has("all")) {
        ids.clear();
        v1::ListContainersRequest lreq;
        v1::ListContainersResponse lresp;
        auto ctx = c.context();
        Client::check(c.runtime().ListContainers(ctx.get(), lreq, &lresp), "ListContainers");
        for (const auto& ct : lresp.containers()) ids.push_back(ct.id());
        if (ids.empty()) {
            std::fprintf(stderr, "No containers to remove\n");
            return 0;
        }
    }
    if (ids.empty()) throw Error(EINVAL, "rm: a container id is required; usage: berthctl rm [OPTIONS] CONTAINER-ID [CONTAINER-ID...]");
    return for_each_id(ids, [&](const std::string& id) {
        v1::ContainerStatusRequest sreq;
        sreq.set_container_id(id);
        v1::ContainerStatusResponse sresp;
        auto sctx = c.context();
        Client::check(c.runtime().ContainerStatus(sctx.get(), sreq, &sresp),
                      ("getting container status \"" + id + "\": ContainerStatus").c_str());
        if (sresp.status().state() == v1::CONTAINER_RUNNING) {
            if (!a.has("force")) throw Error(EBUSY, "container \"" + id + "\" is running, please stop it first");
            stop_one(c, id, 0);
        }
        v1::RemoveContainerRequest req;
        req.set_container_id(id);
        v1::RemoveContainerResponse resp;
        auto ctx = c.context();
        Client::check(c.runtime().RemoveContainer(ctx.get(), req, &resp),
                      ("removing container \"" + id + "\": RemoveContainer").c_str());
        // crictl removes the log and its rotations unless --keep-logs.
        const std::string& log = sresp.status().log_path();
        if (!a.has("keep-logs") && !log.empty()) {
            std::vector<std::string> files = {log};
            glob_t g{};
            if (glob((log + ".*").c_str(), 0, nullptr, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc; ++i) files.push_back(g.gl_pathv[i]);
            globfree(&g);
            for (const auto& f : files)
                if (unlink(f.c_str()) != 0 && errno != ENOENT)
                    std::fprintf(stderr, "berthctl: removing log file %s for container \"%s\": %s\n", f.c_str(), id.c_str(),
                                 std::strerror(errno));
        }
        std::printf("%s\n", id.c_str());
    });
}

// An image reference's id on the image service ("" when it has none).
std::string image_id(Client& c, const std::string& ref) {
    v1::ImageStatusRequest req;
    req.mutable_image()->set_image(ref);
    v1::ImageStatusResponse resp;
    auto ctx = c.context();
    Client::check(c.images().ImageStatus(ctx.get(), req, &resp), "ImageStatus");
    return resp.has_image() ? resp.image().id() : "";
}

int ps(Client& c, const Args& a) {
    if (!a.pos.empty()) throw Error(EINVAL, "ps: takes no arguments; filter with --id, --name, --pod...");
    Format f = a.format();
    auto items = list_containers(c, a);
    if (f != Format::table) {
        v1::ListContainersResponse r;
        for (auto& ct : items) *r.add_containers() = ct;
        print_message(r, f);
        return 0;
    }
    if (a.has("quiet")) {
        for (const auto& ct : items) std::printf("%s\n", ct.id().c_str());
        return 0;
    }
    if (a.has("verbose")) {
        for (const auto& ct : items) {
            std::printf("ID: %s\nPodID: %s\nNamespace: %s\n", ct.id().c_str(), ct.pod_sandbox_id().c_str(),
                        label_or_unknown(ct.labels(), "io.kubernetes.pod.namespace").c_str());
            if (!ct.metadata().name().empty()) std::printf("Name: %s\n", ct.metadata().name().c_str());
            std::printf("Attempt: %u\nState: %s\nImage: %s\nCreated: %s ago\n", ct.metadata().attempt(),
                        container_state(ct.state()).c_str(), ct.image().image().c_str(),
                        human_duration_since(ct.created_at()).c_str());
            for (const auto* m : {&ct.labels(), &ct.annotations()}) {
                if (m->empty()) continue;
                std::printf(m == &ct.labels() ? "Labels:\n" : "Annotations:\n");
                std::map<std::string, std::string> sorted(m->begin(), m->end());
                for (const auto& [k, v] : sorted) std::printf("\t%s -> %s\n", k.c_str(), v.c_str());
            }
            std::printf("\n");
        }
        return 0;
    }
    bool no_trunc = a.has("no-trunc");
    std::vector<std::vector<std::string>> rows = {
        {"CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD", "NAMESPACE"}};
    for (const auto& ct : items) {
        std::string image = ct.image().image();
        if (a.has("resolve-image-path")) {
            v1::ImageStatusRequest req;
            req.mutable_image()->set_image(image);
            v1::ImageStatusResponse resp;
            auto ctx = c.context();
            Client::check(c.images().ImageStatus(ctx.get(), req, &resp), "ImageStatus");
            if (resp.image().repo_tags_size()) image = resp.image().repo_tags(0);
        } else if (!no_trunc && image.rfind("sha256:", 0) == 0) {
            image = truncate_id(image);
        }
        rows.push_back({no_trunc ? ct.id() : truncate_id(ct.id()), image, human_duration_since(ct.created_at()) + " ago",
                        container_state(ct.state()), ct.metadata().name(), std::to_string(ct.metadata().attempt()),
                        no_trunc ? ct.pod_sandbox_id() : truncate_id(ct.pod_sandbox_id()),
                        label_or_unknown(ct.labels(), "io.kubernetes.pod.name"),
                        label_or_unknown(ct.labels(), "io.kubernetes.pod.namespace")});
    }
    print_table(rows);
    return 0;
}

int inspect(Client& c, const Args& a) {
    std::vector<std::string> ids = a.pos;
    if (ids.empty()) {
        for (const auto& ct : list_containers(c, a)) ids.push_back(ct.id());
        if (ids.empty())
            throw Error(EINVAL, "inspect: no IDs provided or nothing found per filter; usage: berthctl inspect CONTAINER-ID...");
    }
    Format f = a.format(Format::json);
    bool verbose = !a.has("quiet");
    std::vector<v1::ContainerStatusResponse> resps;
    for (const auto& id : ids) {
        v1::ContainerStatusRequest req;
        req.set_container_id(id);
        req.set_verbose(verbose);
        v1::ContainerStatusResponse resp;
        auto ctx = c.context();
        Client::check(c.runtime().ContainerStatus(ctx.get(), req, &resp),
                      ("getting the status of container \"" + id + "\": ContainerStatus").c_str());
        resps.push_back(std::move(resp));
    }
    if (f == Format::table) {
        for (const auto& r : resps) {
            const auto& s = r.status();
            std::printf("ID: %s\n", s.id().c_str());
            if (!s.metadata().name().empty()) std::printf("Name: %s\n", s.metadata().name().c_str());
            if (s.metadata().attempt()) std::printf("Attempt: %u\n", s.metadata().attempt());
            std::printf("State: %s\nCreated: %s ago\n", v1::ContainerState_Name(s.state()).c_str(),
                        human_duration_since(s.created_at()).c_str());
            if (s.state() != v1::CONTAINER_CREATED)
                std::printf("Started: %s ago\n", human_duration_since(s.started_at()).c_str());
            if (s.state() == v1::CONTAINER_EXITED) {
                if (s.finished_at() > 0) std::printf("Finished: %s ago\n", human_duration_since(s.finished_at()).c_str());
                std::printf("Exit Code: %d\n", s.exit_code());
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
    for (const auto& r : resps) {
        const auto& s = r.status();
        bool started = s.state() != v1::CONTAINER_CREATED;
        bool finished = s.state() == v1::CONTAINER_EXITED || (s.state() == v1::CONTAINER_UNKNOWN && s.finished_at() > 0);
        statuses.push_back(json_with_times(s, {{"createdAt", s.created_at()},
                                               {"startedAt", started ? s.started_at() : 0},
                                               {"finishedAt", finished ? s.finished_at() : 0}}));
    }
    std::vector<std::pair<std::string, const google::protobuf::Map<std::string, std::string>*>> items;
    for (size_t i = 0; i < resps.size(); ++i) items.push_back({statuses[i], &resps[i].info()});
    std::string doc = status_document(items);
    std::string out = f == Format::yaml ? json_to_yaml(doc) : doc + "\n";
    std::fputs(out.c_str(), stdout);
    return 0;
}

int update(Client& c, const Args& a) {
    if (a.pos.empty()) throw Error(EINVAL, "update: ID cannot be empty; usage: berthctl update [OPTIONS] CONTAINER-ID...");
    v1::UpdateContainerResourcesRequest req;
    auto* l = req.mutable_linux();
    l->set_cpu_period(int_flag(a, "cpu-period", 0));
    l->set_cpu_quota(int_flag(a, "cpu-quota", 0));
    l->set_cpu_shares(int_flag(a, "cpu-share", 0));
    l->set_memory_limit_in_bytes(int_flag(a, "memory", 0));
    l->set_oom_score_adj(int_flag(a, "oom-score-adj", 0));
    l->set_cpuset_cpus(a.get("cpuset-cpus"));
    l->set_cpuset_mems(a.get("cpuset-mems"));
    return for_each_id(a.pos, [&](const std::string& id) {
        req.set_container_id(id);
        v1::UpdateContainerResourcesResponse resp;
        auto ctx = c.context();
        Client::check(c.runtime().UpdateContainerResources(ctx.get(), req, &resp),
                      ("updating container resources for \"" + id + "\": UpdateContainerResources").c_str());
        std::printf("%s\n", id.c_str());
    });
}

int run(Client& c, const Args& a) {
    if (a.has("config")) return run_execution(c, a);
    if (a.pos.size() != 2)
        throw Error(EINVAL, "run: usage: berthctl run [OPTIONS] container-config.[json|yaml] pod-config.[json|yaml], "
                            "or berthctl run --config NAME [OPTIONS] [--] COMMAND [ARG...]");
    v1::RunPodSandboxRequest preq;
    *preq.mutable_config() = load_pod_config(a.pos[1]);
    load_container_config(a.pos[0]);   // a bad container config fails before the pod runs
    preq.set_runtime_handler(a.get("runtime"));
    v1::RunPodSandboxResponse presp;
    auto pctx = c.context(c.timeout() * 2);
    Client::check(c.runtime().RunPodSandbox(pctx.get(), preq, &presp), "run pod sandbox: RunPodSandbox");
    Args ca = a;
    ca.pos.insert(ca.pos.begin(), presp.pod_sandbox_id());
    std::string id = create_container(c, ca, presp.pod_sandbox_id(), true);
    start_one(c, id);
    return 0;
}

// Several hosts: a workload goes to the one with the most room; a pod
// and container need the one host they are made on.
int run_on_hosts(const Global& g, const Args& a) {
    if (!a.has("config"))
        throw Error(EINVAL, "run: a pod and container need one host, and " + std::to_string(g.hosts.size()) +
                                " are given (" + g.hosts_from + "); name one with --host (run --config NAME takes several)");
    return dispatch_run(g, a);
}

} // namespace

std::vector<v1::Container> list_containers(Client& c, const Args& a) {
    v1::ListContainersRequest req;
    auto* filter = req.mutable_filter();
    if (a.has("id")) filter->set_id(a.get("id"));
    if (a.has("pod")) filter->set_pod_sandbox_id(a.get("pod"));
    if (a.has("state")) {
        std::string s = a.get("state");
        std::transform(s.begin(), s.end(), s.begin(), ::tolower);
        v1::ContainerState st = s == "created" ? v1::CONTAINER_CREATED
                                : s == "running" ? v1::CONTAINER_RUNNING
                                : s == "exited"  ? v1::CONTAINER_EXITED
                                : s == "unknown" ? v1::CONTAINER_UNKNOWN
                                                 : throw Error(EINVAL, "--state should be one of created, running, exited or unknown, not \"" + a.get("state") + "\"");
        filter->mutable_state()->set_state(st);
    } else if (!a.has("all")) {
        filter->mutable_state()->set_state(v1::CONTAINER_RUNNING);
    }
    if (a.has("latest") || int_flag(a, "last", 0) > 0) filter->clear_state();   // crictl: every state
    for (const auto& [k, v] : parse_labels(a)) (*filter->mutable_label_selector())[k] = v;
    v1::ListContainersResponse resp;
    auto ctx = c.context();
    Client::check(c.runtime().ListContainers(ctx.get(), req, &resp), "listing containers: ListContainers");
    std::string want_image = a.has("image") ? image_id(c, a.get("image")) : "";
    if (a.has("image") && want_image.empty()) return {};   // crictl: an unknown image matches nothing
    std::vector<v1::Container> r;
    for (const auto& ct : resp.containers()) {
        if (!matches_regex(a.get("name"), ct.metadata().name())) continue;
        if (a.has("namespace") && !matches_regex(a.get("namespace"), label_or_unknown(ct.labels(), "io.kubernetes.pod.namespace")))
            continue;
        if (a.has("image") && image_id(c, ct.image().image()) != want_image) continue;
        r.push_back(ct);
    }
    std::stable_sort(r.begin(), r.end(), [](const auto& x, const auto& y) { return x.created_at() > y.created_at(); });
    size_t n = r.size();
    if (a.has("latest")) n = 1;
    if (int64_t last = int_flag(a, "last", 0); last > 0) n = static_cast<size_t>(last);
    if (n < r.size()) r.resize(n);
    return r;
}

std::vector<Verb> container_verbs() {
    const Flag output{"output", true, 'o', "output format: json, yaml or table"};
    const Flag name{"name", true, 0, "filter by container name regular expression pattern"};
    const Flag ns{"namespace", true, 0, "filter by pod namespace regular expression pattern"};
    const Flag pod{"pod", true, 'p', "filter by pod id"};
    const Flag image{"image", true, 0, "filter by container image"};
    const Flag state{"state", true, 's', "filter by container state: created, running, exited or unknown"};
    const Flag label{"label", true, 0, "filter by key=value label (repeatable)"};
    const Flag latest{"latest", false, 'l', "show the most recently created container (all states)"};
    const Flag last{"last", true, 'n', "show the last n recently created containers (all states; 0: unlimited)"};
    const Flag all{"all", false, 'a', "show all containers"};
    const std::vector<Flag> pull = {
        {"no-pull", false, 0, "do not pull the image"},
        {"with-pull", false, 0, "pull the image first"},
        {"creds", true, 0, "USERNAME[:PASSWORD] for the registry"},
        {"auth", true, 0, "base64 of USERNAME[:PASSWORD] for the registry"},
        {"pull-timeout", true, 0, "seconds a pull may take (0: no limit)"},
    };
    std::vector<Flag> run_flags = pull;
    run_flags.push_back({"runtime", true, 'r', "runtime handler to use (the server's RuntimeClass handlers)"});
    for (auto& f : execution_run_flags()) run_flags.push_back(f);
    return {
        {"create", "create [OPTIONS] POD-ID container-config.[json|yaml] pod-config.[json|yaml]", "Create a new container",
         pull, create, Operand::pod},
        {"start", "start CONTAINER-ID [CONTAINER-ID...]", "Start one or more created containers", {}, start,
         Operand::container},
        {"stop", "stop [OPTIONS] CONTAINER-ID [CONTAINER-ID...]", "Stop one or more running containers",
         {{"timeout", true, 't', "seconds to wait to kill the container after a graceful stop is requested"},
          {"all", false, 'a', "stop all running containers"}},
         stop, Operand::container},
        {"rm", "rm [OPTIONS] CONTAINER-ID [CONTAINER-ID...]", "Remove one or more containers",
         {{"force", false, 'f', "stop a running container first"},
          {"keep-logs", false, 'k', "keep the container's log file and its rotations"},
          {"all", false, 'a', "remove all containers"}},
         rm, Operand::container},
        {"ps", "ps [OPTIONS]", "List containers",
         {{"verbose", false, 'v', "show verbose information for containers"}, {"id", true, 0, "filter by container id"}, name,
          pod, image, state, label, {"quiet", false, 'q', "only display container IDs"}, output, all, latest, last,
          {"no-trunc", false, 0, "show output without truncating the ID"},
          {"resolve-image-path", false, 'r', "show the image's name instead of its id"}, ns},
         ps},
        {"inspect", "inspect [OPTIONS] CONTAINER-ID [CONTAINER-ID...]", "Display the status of one or more containers",
         {output, {"quiet", false, 'q', "do not show verbose information"}, name, ns, pod, image, state, label, latest, last,
          all},
         inspect, Operand::container},
        {"update", "update [OPTIONS] CONTAINER-ID [CONTAINER-ID...]", "Update one or more running containers",
         {{"cpu-period", true, 0, "CPU CFS period in usecs (0: the default)"},
          {"cpu-quota", true, 0, "CPU CFS hardcap limit in usecs per period"},
          {"cpu-share", true, 0, "CPU shares (relative weight)"},
          {"memory", true, 0, "memory limit in bytes"},
          {"cpuset-cpus", true, 0, "CPUs to use"},
          {"cpuset-mems", true, 0, "memory nodes to use"},
          {"oom-score-adj", true, 0, "OOM killer score adjustment"}},
         update, Operand::container},
        {"run", "run [OPTIONS] container-config.[json|yaml] pod-config.[json|yaml] | run --config NAME [OPTIONS] [--] COMMAND...",
         "Run a new container inside a new pod, or a workload under an execution configuration", run_flags, run,
         Operand::file, true, run_on_hosts},
    };
}

} // namespace berth::ctl
