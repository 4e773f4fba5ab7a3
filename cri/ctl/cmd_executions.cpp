// berthctl's verbs for berthd's own berth.v1.Executions (issue 16):
// workloads run directly under execution configurations. `configs` lists
// those the caller may use; `run` starts one and, unless detached, streams
// its output and exits with its exit code (Ctrl-C cancels it);
// `executions`, `wait`, `cancel` and `rm-execution` manage them.
#include "ctl.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

namespace berth::ctl {

namespace {

std::string cpus_text(double v) {
    if (v <= 0) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

std::string bytes_text(int64_t b) { return b > 0 ? human_size(static_cast<uint64_t>(b)) : "-"; }

// "4 CPUs, 4GB, 4096 pids" for a quota; "-" for none.
std::string quota_text(const berth::v1::ExecQuota& q) {
    std::string s;
    auto add = [&](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
    if (q.cpus() > 0) add(cpus_text(q.cpus()) + " CPUs");
    if (q.memory_bytes() > 0) add(bytes_text(q.memory_bytes()));
    if (q.pids() > 0) add(std::to_string(q.pids()) + " pids");
    return s.empty() ? "-" : s;
}

int configs(Client& c, const Args& a) {
    if (!a.pos.empty()) throw Error(EINVAL, "configs: takes no arguments");
    berth::v1::ListConfigsRequest req;
    berth::v1::ListConfigsResponse resp;
    auto ctx = c.context();
    Client::check(c.executions().ListConfigs(ctx.get(), req, &resp), "listing execution configs: ListConfigs");
    Format f = a.format();
    if (f != Format::table) {
        print_message(resp, f);
        return 0;
    }
    std::vector<std::vector<std::string>> rows = {
        {"NAME", "IMAGE", "CPUS", "MEMORY", "RUNTIME", "NETWORK", "GROUPS", "QUOTA", "PER USER"}};
    for (const auto& cfg : resp.configs()) {
        std::string groups;
        for (const auto& g : cfg.groups()) groups += (groups.empty() ? "" : ",") + g;
        rows.push_back({cfg.name(), cfg.image(), cpus_text(cfg.resources().cpus()), bytes_text(cfg.resources().memory_bytes()),
                        cfg.runtime_handler().empty() ? "-" : cfg.runtime_handler(), cfg.network(),
                        groups.empty() ? "-" : groups, quota_text(cfg.quota()), quota_text(cfg.per_user_quota())});
    }
    print_table(rows);
    return 0;
}

// Until it ends; no deadline of our own.
berth::v1::Execution wait_for(Client& c, const std::string& id) {
    berth::v1::ExecutionRef ref;
    ref.set_id(id);
    berth::v1::Execution e;
    auto ctx = c.context(std::chrono::milliseconds(0));
    Client::check(c.executions().Wait(ctx.get(), ref, &e), ("execution \"" + id + "\": Wait").c_str());
    return e;
}

// The execution's output to ours, stdout and stderr apart.
void stream_logs(Client& c, const std::string& id, bool follow) {
    berth::v1::LogsRequest req;
    req.set_id(id);
    req.set_follow(follow);
    auto ctx = c.context(std::chrono::milliseconds(0));
    auto reader = c.executions().Logs(ctx.get(), req);
    berth::v1::LogChunk chunk;
    while (reader->Read(&chunk)) {
        FILE* f = chunk.stderr() ? stderr : stdout;
        std::fwrite(chunk.data().data(), 1, chunk.data().size(), f);
        std::fflush(f);
    }
    Client::check(reader->Finish(), ("execution \"" + id + "\": Logs").c_str());
}

int exit_code_of(const berth::v1::Execution& e) {
    // -1: it never started (it ended in the queue).
    if (e.reason() == "Canceled" && (e.exit_code() == 0 || e.exit_code() == -1)) return 130;
    if (e.exit_code() == -1) {
        std::fprintf(stderr, "berthctl: execution %s did not start: %s\n", e.id().c_str(), e.message().c_str());
        return 125;   // as docker run, when the container could not be run
    }
    return e.exit_code();
}

// Ctrl-C and SIGTERM while a run is followed: the handler only writes a
// byte; a thread of ours turns it into a Cancel.
int g_cancel_fd = -1;
void on_interrupt(int) {
    int saved = errno;
    char b = 1;
    [[maybe_unused]] ssize_t n = ::write(g_cancel_fd, &b, 1);
    errno = saved;
}

berth::v1::RunRequest run_request(const Args& a) {
    if (!a.has("config")) throw Error(EINVAL, "run: --config NAME is required (berthctl configs lists yours)");
    berth::v1::RunRequest req;
    req.set_config(a.get("config"));
    req.set_image(a.get("image"));
    req.set_working_dir(a.get("workdir"));
    for (const auto& p : a.pos) req.add_command(p);
    if (auto it = a.flags.find("env"); it != a.flags.end())
        for (const auto& kv : it->second) {
            auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) throw Error(EINVAL, "--env: KEY=VALUE expected, got \"" + kv + "\"");
            (*req.mutable_env())[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
    for (const auto& [k, v] : parse_labels(a)) (*req.mutable_labels())[k] = v;
    if (auto it = a.flags.find("mount"); it != a.flags.end())
        for (const auto& spec : it->second) {
            // HOST:CTR or HOST:CTR:ro (Docker's -v, absolute paths only)
            auto c1 = spec.find(':');
            auto c2 = c1 == std::string::npos ? std::string::npos : spec.find(':', c1 + 1);
            std::string opt = c2 == std::string::npos ? "" : spec.substr(c2 + 1);
            if (c1 == std::string::npos || c1 == 0 || c1 + 1 == spec.size() || (c2 != std::string::npos && opt != "ro" && opt != "rw"))
                throw Error(EINVAL, "--mount: HOST-PATH:CONTAINER-PATH[:ro] expected, got \"" + spec + "\"");
            auto* m = req.add_mounts();
            m->set_host_path(spec.substr(0, c1));
            m->set_container_path(spec.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1));
            m->set_readonly(opt == "ro");
        }
    return req;
}

// After Run: the id (detached), or the output, Ctrl-C and the exit code.
int follow_run(Client& c, const berth::v1::RunResponse& resp, const std::string& config, const Args& a) {
    const std::string& id = resp.id();
    auto say_queued = [&] {
        if (resp.queued())
            std::fprintf(stderr, "berthctl: execution %s queued (place %d): waiting for room under config \"%s\"'s quota\n",
                         id.c_str(), resp.queue_position(), config.c_str());
    };
    if (a.has("detach")) {
        say_queued();
        std::printf("%s\n", id.c_str());
        return 0;
    }
    if (a.has("verbose")) std::fprintf(stderr, "berthctl: execution %s\n", id.c_str());

    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw_errno("pipe");
    UniqueFd cancel_r(p[0]), cancel_w(p[1]);
    g_cancel_fd = cancel_w.get();
    struct sigaction sa{}, old_int{}, old_term{};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int);
    ::sigaction(SIGTERM, &sa, &old_term);
    say_queued();   // once Ctrl-C would cancel it
    std::atomic<bool> canceled{false};
    std::thread canceller([&] {
        char b;
        if (::read(cancel_r.get(), &b, 1) != 1 || b != 1) return;   // 0: the run ended
        canceled = true;
        std::fprintf(stderr, "berthctl: canceling execution %s\n", id.c_str());
        berth::v1::CancelRequest cr;
        cr.set_id(id);
        berth::v1::Execution e;
        auto cctx = c.context(std::chrono::seconds(60));
        grpc::Status st = c.executions().Cancel(cctx.get(), cr, &e);
        if (!st.ok()) std::fprintf(stderr, "berthctl: Cancel: %s\n", st.error_message().c_str());
    });
    int rc = 0;
    try {
        stream_logs(c, id, true);
        rc = exit_code_of(wait_for(c, id));
    } catch (...) {
        char b = 0;
        [[maybe_unused]] ssize_t n = ::write(cancel_w.get(), &b, 1);
        canceller.join();
        ::sigaction(SIGINT, &old_int, nullptr);
        ::sigaction(SIGTERM, &old_term, nullptr);
        throw;
    }
    char b = 0;
    [[maybe_unused]] ssize_t n = ::write(cancel_w.get(), &b, 1);
    canceller.join();
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    g_cancel_fd = -1;
    if (a.has("rm")) {
        berth::v1::ExecutionRef ref;
        ref.set_id(id);
        berth::v1::RemoveResponse rr;
        auto rctx = c.context();
        Client::check(c.executions().Remove(rctx.get(), ref, &rr), ("execution \"" + id + "\": Remove").c_str());
    }
    return rc;
}

int run_workload(Client& c, const Args& a) {
    berth::v1::RunRequest req = run_request(a);
    berth::v1::RunResponse resp;
    // A pull may come first: no deadline but the user's.
    auto ctx = c.context(std::chrono::milliseconds(0));
    Client::check(c.executions().Run(ctx.get(), req, &resp), ("running under config \"" + req.config() + "\": Run").c_str());
    return follow_run(c, resp, req.config(), a);
}

std::string ns_time(int64_t ns) { return ns > 0 ? human_duration_since(ns) + " ago" : "-"; }

const std::vector<std::string> kExecutionColumns = {"EXECUTION ID", "CONFIG", "USER", "STATE", "EXIT", "REASON", "CREATED", "COMMAND"};

std::vector<std::string> execution_row(const berth::v1::Execution& e) {
    std::string cmd;
    for (const auto& w : e.command()) cmd += (cmd.empty() ? "" : " ") + w;
    return {truncate_id(e.id()), e.config(), e.user(), e.state(),
            e.state() == "exited" ? std::to_string(e.exit_code()) : "-", e.reason().empty() ? "-" : e.reason(),
            ns_time(e.created_at()), cmd.size() > 40 ? cmd.substr(0, 37) + "..." : cmd};
}

berth::v1::ListResponse list(Client& c, const Args& a) {
    berth::v1::ListRequest req;
    req.set_all(a.has("all"));
    berth::v1::ListResponse resp;
    auto ctx = c.context();
    Client::check(c.executions().List(ctx.get(), req, &resp), "listing executions: List");
    return resp;
}

int executions(Client& c, const Args& a) {
    berth::v1::ListResponse resp = list(c, a);
    Format f = a.format();
    if (f != Format::table) {
        print_message(resp, f);
        return 0;
    }
    if (a.has("quiet")) {
        for (const auto& e : resp.executions()) std::printf("%s\n", e.id().c_str());
        return 0;
    }
    std::vector<std::vector<std::string>> rows = {kExecutionColumns};
    for (const auto& e : resp.executions()) rows.push_back(execution_row(e));
    print_table(rows);
    return 0;
}

// With several hosts: each one's, a HOST column first (ids are a host's
// own). A host that fails is reported after the others' rows, and the
// exit status is 1.
int executions_across(const Global& g, const Args& a) {
    if (a.format() != Format::table)
        throw Error(EINVAL, "executions: -o json and yaml take one host; name it with --host");
    std::vector<std::vector<std::string>> rows = {{"HOST"}};
    rows[0].insert(rows[0].end(), kExecutionColumns.begin(), kExecutionColumns.end());
    std::vector<std::string> failures;
    for (const auto& h : g.hosts) {
        try {
            Client c(for_host(g, h));
            const berth::v1::ListResponse resp = list(c, a);
            for (const auto& e : resp.executions()) {
                if (a.has("quiet")) {
                    std::printf("%s\n", e.id().c_str());
                    continue;
                }
                rows.push_back({h.url});
                auto r = execution_row(e);
                rows.back().insert(rows.back().end(), r.begin(), r.end());
            }
        } catch (const Error& e) {
            failures.push_back(h.url + ": " + e.what());
        }
    }
    if (!a.has("quiet")) print_table(rows);
    for (const auto& f : failures) std::fprintf(stderr, "berthctl: %s\n", f.c_str());
    return failures.empty() ? 0 : 1;
}

int wait_verb(Client& c, const Args& a) {
    if (a.pos.size() != 1) throw Error(EINVAL, "wait: usage: berthctl wait EXECUTION-ID");
    auto e = wait_for(c, a.pos[0]);
    std::printf("%d\n", e.exit_code());
    return 0;
}

int cancel(Client& c, const Args& a) {
    if (a.pos.empty()) throw Error(EINVAL, "cancel: usage: berthctl cancel [--grace SECONDS] EXECUTION-ID...");
    int64_t grace = int_flag(a, "grace", 0);
    return for_each_id(a.pos, [&](const std::string& id) {
        berth::v1::CancelRequest req;
        req.set_id(id);
        req.set_grace_seconds(grace);
        berth::v1::Execution e;
        auto ctx = c.context(std::chrono::seconds(grace + 60));
        Client::check(c.executions().Cancel(ctx.get(), req, &e), ("execution \"" + id + "\": Cancel").c_str());
        std::printf("%s\n", e.id().c_str());
    });
}

int remove(Client& c, const Args& a) {
    if (a.pos.empty()) throw Error(EINVAL, "rm-execution: usage: berthctl rm-execution EXECUTION-ID...");
    return for_each_id(a.pos, [&](const std::string& id) {
        berth::v1::ExecutionRef ref;
        ref.set_id(id);
        berth::v1::RemoveResponse r;
        auto ctx = c.context(std::chrono::seconds(60));
        Client::check(c.executions().Remove(ctx.get(), ref, &r), ("execution \"" + id + "\": Remove").c_str());
        std::printf("%s\n", id.c_str());
    });
}

} // namespace

// berthctl logs on an id that is no container of the CRI's: an execution's.
int execution_logs(Client& c, const std::string& id, bool follow) {
    stream_logs(c, id, follow);
    return 0;
}

int run_execution(Client& c, const Args& a) { return run_workload(c, a); }
berth::v1::RunRequest execution_run_request(const Args& a) { return run_request(a); }
int follow_execution(Client& c, const berth::v1::RunResponse& resp, const std::string& config, const Args& a) {
    return follow_run(c, resp, config, a);
}

std::vector<Flag> execution_run_flags() {
    return {{"config", true, 0, "run COMMAND under this execution configuration (berthd; berthctl configs)"},
            {"image", true, 0, "with --config: another image, where the config allows it"},
            {"env", true, 'e', "with --config: KEY=VALUE for the workload; repeatable"},
            {"workdir", true, 'w', "with --config: the workload's working directory"},
            {"label", true, 'l', "with --config: KEY=VALUE label; repeatable"},
            {"mount", true, 0, "with --config: HOST-PATH:CONTAINER-PATH[:ro], a host path under one of the config's mounts; repeatable"},
            {"detach", false, 'd', "with --config: print the execution's id and return at once"},
            {"rm", false, 0, "with --config: remove the execution once it ended"},
            {"verbose", false, 'v', "with --config: say which execution runs (several hosts: on which host, and why)"}};
}

std::vector<Verb> execution_verbs() {
    return {
        {"configs", "configs [OPTIONS]", "List the execution configurations you may use (berthd)",
         {{"output", true, 'o', "table (default), json or yaml"}}, configs},
        {"executions", "executions [OPTIONS]", "List your executions (berthd; root: everyone's; with several hosts, each one's)",
         {{"all", false, 'a', "ended ones too"}, {"quiet", false, 'q', "ids only"},
          {"output", true, 'o', "table (default), json or yaml (one host)"}},
         executions, Operand::none, false, executions_across},
        {"wait", "wait EXECUTION-ID", "Wait for an execution to end and print its exit code (berthd)", {}, wait_verb},
        {"cancel", "cancel [OPTIONS] EXECUTION-ID...", "Cancel executions: SIGTERM, then SIGKILL (berthd)",
         {{"grace", true, 0, "seconds before SIGKILL (default 10)"}}, cancel},
        {"rm-execution", "rm-execution EXECUTION-ID...", "Remove ended executions and their logs (berthd)", {}, remove},
    };
}

} // namespace berth::ctl
