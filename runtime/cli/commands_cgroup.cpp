// update, pause, resume, ps: the commands that act on a container's cgroup.
#include "commands.hpp"
#include "config.hpp"
#include "error.hpp"
#include "file_util.hpp"
#include "json.hpp"
#include "strings.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace berth::cli {

namespace {

// "512m", "1G", "1024", "-1": bytes, with runc's binary suffixes.
int64_t parse_bytes(const std::string& flag, const std::string& s) {
    if (s == "-1") return -1;
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s.c_str(), &end);
    std::string unit(end);
    for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!unit.empty() && unit.back() == 'b') unit.pop_back();
    if (!unit.empty() && unit.back() == 'i') unit.pop_back();
    double mul = unit.empty() ? 1 : unit == "k" ? 1024.0 : unit == "m" ? 1048576.0 : unit == "g" ? 1073741824.0
                                 : unit == "t" ? 1099511627776.0 : -1;
    if (s.empty() || end == s.c_str() || errno || mul < 0 || v < 0)
        throw Error(EINVAL, "--" + flag + ": invalid size \"" + s + "\"");
    return static_cast<int64_t>(v * mul);
}

int64_t parse_int(const std::string& flag, const std::string& s) {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end || errno) throw Error(EINVAL, "--" + flag + ": invalid number \"" + s + "\"");
    return v;
}

uint64_t parse_uint(const std::string& flag, const std::string& s) {
    int64_t v = parse_int(flag, s);
    if (v < 0) throw Error(EINVAL, "--" + flag + ": must not be negative");
    return static_cast<uint64_t>(v);
}

const std::vector<Flag> update_flags = {
    {"resources", 'r', true, "a LinuxResources JSON file, or - for stdin", "FILE"},
    {"memory", 0, true, "memory limit (bytes, or with k/m/g)"},
    {"memory-reservation", 0, true, "memory soft limit"},
    {"memory-swap", 0, true, "memory plus swap limit"},
    {"kernel-memory", 0, true, "kernel memory limit (cgroup v1)"},
    {"kernel-memory-tcp", 0, true, "kernel TCP buffer limit (cgroup v1)"},
    {"cpu-share", 0, true, "CPU shares (relative weight)"},
    {"cpu-period", 0, true, "CFS period in microseconds"},
    {"cpu-quota", 0, true, "CFS quota in microseconds per period"},
    {"cpu-burst", 0, true, "CFS burst in microseconds"},
    {"cpu-rt-period", 0, true, "realtime period in microseconds"},
    {"cpu-rt-runtime", 0, true, "realtime runtime in microseconds"},
    {"cpu-idle", 0, true, "1 for SCHED_IDLE"},
    {"cpuset-cpus", 0, true, "CPUs allowed (0-3,5)"},
    {"cpuset-mems", 0, true, "memory nodes allowed"},
    {"pids-limit", 0, true, "maximum number of processes"},
    {"blkio-weight", 0, true, "block IO weight (10-1000)"},
    {"l3-cache-schema", 0, true, "Intel RDT (not supported)"},
    {"mem-bw-schema", 0, true, "Intel RDT (not supported)"},
};

int cmd_update(const RuntimeContext& ctx, const Parsed& p) {
    spec::Resources r;
    if (p.has("resources")) {
        std::string file = p.get("resources");
        std::string text;
        if (file == "-") {
            char buf[4096];
            ssize_t n;
            while ((n = ::read(0, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
        } else {
            text = read_file(file);
        }
        r = spec::parse_resources(text, file == "-" ? "stdin" : file);
    }
    auto mem = [&]() -> spec::Memory& { if (!r.memory) r.memory.emplace(); return *r.memory; };
    auto cpu = [&]() -> spec::Cpu& { if (!r.cpu) r.cpu.emplace(); return *r.cpu; };
    if (p.has("memory")) mem().limit = parse_bytes("memory", p.get("memory"));
    if (p.has("memory-reservation")) mem().reservation = parse_bytes("memory-reservation", p.get("memory-reservation"));
    if (p.has("memory-swap")) mem().swap = parse_bytes("memory-swap", p.get("memory-swap"));
    if (p.has("kernel-memory")) mem().kernel = parse_bytes("kernel-memory", p.get("kernel-memory"));
    if (p.has("kernel-memory-tcp")) mem().kernelTCP = parse_bytes("kernel-memory-tcp", p.get("kernel-memory-tcp"));
    if (p.has("cpu-share")) cpu().shares = parse_uint("cpu-share", p.get("cpu-share"));
    if (p.has("cpu-period")) cpu().period = parse_uint("cpu-period", p.get("cpu-period"));
    if (p.has("cpu-quota")) cpu().quota = parse_int("cpu-quota", p.get("cpu-quota"));
    if (p.has("cpu-burst")) cpu().burst = parse_uint("cpu-burst", p.get("cpu-burst"));
    if (p.has("cpu-rt-period")) cpu().realtimePeriod = parse_uint("cpu-rt-period", p.get("cpu-rt-period"));
    if (p.has("cpu-rt-runtime")) cpu().realtimeRuntime = parse_int("cpu-rt-runtime", p.get("cpu-rt-runtime"));
    if (p.has("cpu-idle")) cpu().idle = parse_int("cpu-idle", p.get("cpu-idle"));
    if (p.has("cpuset-cpus")) cpu().cpus = p.get("cpuset-cpus");
    if (p.has("cpuset-mems")) cpu().mems = p.get("cpuset-mems");
    if (p.has("pids-limit")) r.pids = spec::Pids{parse_int("pids-limit", p.get("pids-limit"))};
    if (p.has("blkio-weight")) {
        uint64_t w = parse_uint("blkio-weight", p.get("blkio-weight"));
        if (w < 10 || w > 1000) throw Error(EINVAL, "--blkio-weight: must be 10-1000");
        r.blockIO.emplace();
        r.blockIO->weight = static_cast<uint16_t>(w);
    }
    if (p.has("l3-cache-schema") || p.has("mem-bw-schema"))
        throw Error(ENOTSUP, "Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported");
    update_container(ctx, p.args[0], r);
    return 0;
}

int cmd_pause(const RuntimeContext& ctx, const Parsed& p) {
    pause_container(ctx, p.args[0]);
    return 0;
}

int cmd_resume(const RuntimeContext& ctx, const Parsed& p) {
    resume_container(ctx, p.args[0]);
    return 0;
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// runc's ps: `ps ARGS` (default -ef), keeping the header and the lines whose
// PID column is one of the container's.
int cmd_ps(const RuntimeContext& ctx, const Parsed& p) {
    auto pids = container_pids(ctx, p.args[0]);
    std::string format = p.get("format", "table");
    if (format == "json") {
        json::Writer w;
        w.begin_array();
        for (pid_t pid : pids) w.int64(pid);
        w.end_array();
        print(w.str() + "\n");
        return 0;
    }
    if (format != "table") throw Error(EINVAL, "--format: unknown format \"" + format + "\" (table or json)");
    std::string cmd = "ps";
    if (p.args.size() == 1) cmd += " -ef";
    for (size_t i = 1; i < p.args.size(); ++i) cmd += " " + shell_quote(p.args[i]);
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) throw_errno("run " + cmd);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    int rc = ::pclose(f);
    if (rc != 0) throw Error(EINVAL, "ps: `" + cmd + "` failed");
    auto lines = split(out, '\n');
    if (lines.empty()) return 0;
    auto header = split_ws(lines[0]);
    auto col = std::find(header.begin(), header.end(), "PID");
    if (col == header.end()) throw Error(EINVAL, "ps: no PID column in the output of `" + cmd + "`");
    size_t idx = static_cast<size_t>(col - header.begin());
    std::string result = lines[0] + "\n";
    for (size_t i = 1; i < lines.size(); ++i) {
        auto f2 = split_ws(lines[i]);
        if (f2.size() <= idx) continue;
        pid_t pid = static_cast<pid_t>(std::atoi(f2[idx].c_str()));
        if (std::find(pids.begin(), pids.end(), pid) != pids.end()) result += lines[i] + "\n";
    }
    print(result);
    return 0;
}

void write_usage(json::Writer& w, const char* key, const cgroup::MemoryUsage& m) {
    w.key(key).begin_object().kv("limit", m.limit).kv("usage", m.usage).kv("max", m.max).kv("failcnt", m.failcnt).end_object();
}

// runc's event JSON: {"type":"stats","id":...,"data":{cpu, memory, pids, ...}}.
std::string stats_event(const std::string& id, const cgroup::Stats& s) {
    json::Writer w;
    w.begin_object().kv("type", "stats").kv("id", id).key("data").begin_object();
    w.key("cpu").begin_object();
    w.key("usage").begin_object().kv("total", s.cpu_total_ns).key("percpu").begin_array();
    for (auto v : s.cpu_percpu_ns) w.uint64(v);
    w.end_array().kv("kernel", s.cpu_kernel_ns).kv("user", s.cpu_user_ns).end_object();
    w.key("throttling").begin_object()
        .kv("periods", s.cpu_periods)
        .kv("throttledPeriods", s.cpu_throttled_periods)
        .kv("throttledTime", s.cpu_throttled_ns)
        .end_object();
    w.end_object();
    w.key("memory").begin_object();
    write_usage(w, "usage", s.memory);
    write_usage(w, "swap", s.swap);
    write_usage(w, "kernel", s.kernel);
    write_usage(w, "kernelTCP", s.kernel_tcp);
    w.key("raw").begin_object();
    for (const auto& [k, v] : s.memory_raw) w.kv(k, v);
    w.end_object().end_object();
    w.key("pids").begin_object().kv("current", s.pids_current).kv("limit", s.pids_limit).end_object();
    w.end_object().end_object();
    return w.str();
}

// "5s", "100ms", "1m", "2" (seconds) -> milliseconds.
int parse_interval(const std::string& s) {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    std::string unit(end);
    double ms = unit == "ms" ? v : unit == "s" || unit.empty() ? v * 1000 : unit == "m" ? v * 60000 : -1;
    if (s.empty() || end == s.c_str() || ms <= 0) throw Error(EINVAL, "--interval: invalid duration \"" + s + "\"");
    return static_cast<int>(ms);
}

// One stats snapshot (--stats), or a stream: stats every interval and an
// "oom" event whenever the OOM killer strikes, until the container stops.
int cmd_events(const RuntimeContext& ctx, const Parsed& p) {
    const auto& id = p.args[0];
    if (p.flag("stats")) {
        print(stats_event(id, container_stats(ctx, id)) + "\n");
        return 0;
    }
    int interval = parse_interval(p.get("interval", "5s"));
    constexpr int tick = 100;   // how often the OOM counter is read
    uint64_t ooms = container_stats(ctx, id).oom_kills;
    for (int waited = interval;; waited += tick) {
        cgroup::Stats s;
        bool stopped = false;
        try {
            s = container_stats(ctx, id, &stopped);
        } catch (const Error& e) {
            if (e.err() == ENOENT) return 0;   // deleted: the stream ends
            throw;
        }
        // Checked once more after the container stops: when the OOM killer
        // picks the init, the kill and the stop come together.
        if (s.oom_kills > ooms) {
            print("{\"type\":\"oom\",\"id\":\"" + id + "\"}\n");
            ooms = s.oom_kills;
        }
        if (stopped) return 0;
        if (waited >= interval) {
            print(stats_event(id, s) + "\n");
            waited = 0;
        }
        std::fflush(stdout);
        ::usleep(tick * 1000);
    }
}

} // namespace

extern const std::vector<Command> cgroup_commands = {
    {"events", "events [OPTIONS] ID", "Print the container's stats, once or as a stream with OOM events.",
     {{"stats", 0, false, "print one stats snapshot and exit"},
      {"interval", 0, true, "time between stats in the stream (default 5s)", "DURATION"}},
     cmd_events, 1, 1},
    {"update", "update [OPTIONS] ID", "Change a container's resource limits.", update_flags, cmd_update, 1, 1},
    {"pause", "pause ID", "Freeze every process of the container.", {}, cmd_pause, 1, 1},
    {"resume", "resume ID", "Thaw a paused container.", {}, cmd_resume, 1, 1},
    {"ps", "ps [OPTIONS] ID [PS ARGS...]", "List the container's processes.",
     {{"format", 'f', true, "table or json", "FORMAT"}}, cmd_ps, 1, SIZE_MAX, FlagOrder::leading, Operand::container,
     "Options go before ID: the arguments after it are ps(1)'s (default -ef)."},
};

} // namespace berth::cli
