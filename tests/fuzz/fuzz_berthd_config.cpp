// libFuzzer target for berthd's TOML config: the input goes to
// parse_config_text (the entry point of the unit tests and of load_config),
// [configs.NAME] execution configurations included. What it accepts must
// hold the ranges the file documents (contrib/berthd.toml): a value that
// parses but is out of range (a duration gone negative through overflow, a
// memory_swap below memory) is a finding like a crash is.
// berth::Error is the expected way to reject an input; anything else (a
// sanitizer report, another exception, a broken invariant) is a finding.
// [executions] config_dir and admin_group read the host (a directory of
// *.toml, the group database) as berthd would; nothing is written.
#include "daemon_config.hpp"
#include "error.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace berth::cri;

namespace {

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "fuzz_berthd_config: %s\n", what.c_str());
    __builtin_trap();
}

constexpr int64_t kWeek = 86400 * 7;

void check_duration(std::chrono::seconds s, const std::string& key) {
    if (s.count() < 0 || s.count() > kWeek)
        finding(key + ": accepted duration " + std::to_string(s.count()) + "s outside 0 to 7 days");
}

bool absolute(const std::string& p) { return !p.empty() && p.front() == '/'; }

void check_parent(const std::string& parent, const std::string& driver, bool optional, const std::string& key) {
    if (optional && parent.empty()) return;
    bool ok = driver == "systemd" ? parent.ends_with(".slice") && parent.find('/') == std::string::npos
                                  : absolute(parent);
    if (!ok) finding(key + ": accepted cgroup parent \"" + parent + "\" for driver " + driver);
}

void check_quota(const ExecQuota& q, const std::string& key) {
    if (q.memory && *q.memory < 0) finding(key + ".memory negative");
    if (q.cpus && !(*q.cpus > 0 && *q.cpus <= 4096)) finding(key + ".cpus out of range");
    if (q.pids && (*q.pids < 1 || *q.pids > (1 << 22))) finding(key + ".pids out of range");
}

void check_exec_config(const std::string& name, const ExecConfig& c) {
    std::string key = "configs." + name;
    if (c.name != name) finding(key + ": name \"" + c.name + "\"");
    if (name.empty() || name.size() > 64) finding(key + ": bad name accepted");
    if (c.image.empty()) finding(key + ": no image accepted");
    if (c.network.empty()) finding(key + ": empty network accepted");
    check_duration(c.max_runtime, key + ".max_runtime");
    const auto& r = c.resources;
    if (r.memory && *r.memory < 6 * 1024 * 1024) finding(key + ".resources.memory under 6m accepted");
    if (r.memory_swap && *r.memory_swap != -1 && (!r.memory || *r.memory_swap < *r.memory))
        finding(key + ".resources.memory_swap below memory accepted");
    if (r.cpus && !(*r.cpus > 0 && *r.cpus <= 4096)) finding(key + ".resources.cpus out of range");
    if (r.cpu_shares && r.cpu_weight) finding(key + ": cpu_shares and cpu_weight both accepted");
    for (const auto& [size, bytes] : r.hugepages)
        if (bytes < 0) finding(key + ".resources.hugepages." + size + " negative");
    check_quota(c.quota, key + ".quota");
    check_quota(c.per_user, key + ".quota.per_user");
    if (c.quota.memory && r.memory && *r.memory > *c.quota.memory) finding(key + ": memory over the quota accepted");
    if (c.queue && !(c.quota.memory || c.per_user.memory)) finding(key + ": queue without a memory quota accepted");
    if (c.gids.size() > c.groups.size()) finding(key + ": more gids than groups");
    for (const auto& m : c.mounts)
        if (!absolute(m) || m.find("/../") != std::string::npos) finding(key + ": mount \"" + m + "\" accepted");
}

void check(const Config& c) {
    for (const auto* p : {&c.root, &c.state, &c.listen, &c.cni.conf_dir})
        if (!absolute(*p)) finding("accepted a relative path \"" + *p + "\"");
    if (c.images.max_concurrent_downloads < 1 || c.images.max_concurrent_downloads > 64)
        finding("images.max_concurrent_downloads out of range");
    if (c.images.max_manifest_bytes < 4096 || c.images.max_manifest_bytes > (64u << 20))
        finding("images.max_manifest_bytes out of range");
    check_duration(c.images.pull_timeout, "images.pull_timeout");
    const auto& r = c.runtime;
    check_duration(r.shim_start_timeout, "runtime.shim_start_timeout");
    check_duration(r.exit_sweep_interval, "runtime.exit_sweep_interval");
    if (r.exit_sweep_interval.count() < 1) finding("runtime.exit_sweep_interval under 1s accepted");
    if (r.cgroup_driver != "cgroupfs" && r.cgroup_driver != "systemd") finding("runtime.cgroup_driver accepted");
    check_parent(r.cgroup_parent, r.cgroup_driver, false, "runtime.cgroup_parent");
    for (const auto& [name, h] : r.handlers) {
        std::string key = "runtime.handlers." + name;
        check_duration(h.shim_start_timeout, key + ".shim_start_timeout");
        check_parent(h.cgroup_parent, h.cgroup_driver.empty() ? r.cgroup_driver : h.cgroup_driver, true,
                     key + ".cgroup_parent");
        for (const auto& d : h.cdi_devices)
            if (d.find('=') == std::string::npos) finding(key + ": CDI device \"" + d + "\" accepted");
    }
    for (const auto& d : c.cni.bin_dirs)
        if (!absolute(d)) finding("cni.bin_dirs: \"" + d + "\" accepted");
    check_duration(c.cni.plugin_timeout, "cni.plugin_timeout");
    if (c.cni.plugin_timeout.count() < 1) finding("cni.plugin_timeout under 1s accepted");
    if (c.cni.unconfigured != "loopback" && c.cni.unconfigured != "refuse") finding("cni.unconfigured accepted");
    if (c.stream.address.find(':') == std::string::npos) finding("stream.address without a port accepted");
    if (!c.tls.address.empty() && (c.tls.ca.empty() || c.tls.cert.empty() || c.tls.key.empty()))
        finding("tls.address without ca, cert and key accepted");
    for (const auto& [cn, cl] : c.tls.clients)
        if (cl.user.empty()) finding("tls.clients." + cn + " without a user accepted");
    if (!c.executions.admin_group.empty() && !c.executions.admin_gid) finding("admin_group unresolved");
    for (const auto& [name, ec] : c.configs) check_exec_config(name, ec);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    Config c;
    try {
        c = parse_config_text(text, "fuzz.toml");
    } catch (const berth::Error& e) {
        static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;   // why a seed is refused
        if (verbose) std::fprintf(stderr, "rejected: %s\n", e.what());
        return 0;
    }
    check(c);
    return 0;
}
