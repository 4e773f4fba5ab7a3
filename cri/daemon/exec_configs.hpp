// Execution configurations (issue 16): named recipes under which an
// execution manager runs workloads directly, without Kubernetes. Declared
// as [configs.NAME] tables in berthd.toml, or one file per config
// (NAME.toml, the same keys at its top level) in [executions] config_dir.
// Every key is checked at load and a bad one is refused naming the
// config, the key and the file; contrib/berthd.toml documents them all.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace toml {
inline namespace v3 {
class table;
}
} // namespace toml

namespace berth::cri {

// A workload's own limits, with Docker's run flags' meanings.
struct ExecResources {
    std::optional<int64_t> memory;        // --memory, bytes
    std::optional<int64_t> memory_swap;   // --memory-swap: memory plus swap, bytes; -1 unlimited swap
    std::optional<double> cpus;           // --cpus
    std::optional<uint64_t> cpu_shares;   // --cpu-shares (cgroup v1 shares; converted to a weight on v2)
    std::optional<uint64_t> cpu_weight;   // cgroup v2 cpu.weight, 1-10000 (converted to shares on v1)
    std::optional<int64_t> pids;          // --pids-limit
    std::string cpuset_cpus;              // --cpuset-cpus, "0-3,6"
    std::string cpuset_mems;              // --cpuset-mems
    std::map<std::string, int64_t> hugepages;   // page size ("2MB", "1GB") -> bytes
    std::optional<uint16_t> io_weight;    // --blkio-weight, 10-1000
};

// Aggregate caps: on all workloads of the config, or on each user's.
struct ExecQuota {
    std::optional<int64_t> memory;
    std::optional<double> cpus;
    std::optional<int64_t> pids;
    bool empty() const { return !memory && !cpus && !pids; }
};

struct ExecConfig {
    std::string name;
    std::string source;                   // the file it was read from
    std::string image;                    // the base image, pulled through the image service
    bool allow_image_override = false;    // Run may name another image
    struct Registry {
        std::string host;                 // pulls of this config use its credentials
        std::string username, password;
    } registry;
    ExecResources resources;
    std::string runtime;                  // a runtime handler ([runtime.handlers]); "": the default
    std::vector<std::string> groups;      // Unix groups allowed to use it; none: root only
    std::set<gid_t> gids;                 // the same, resolved at load
    ExecQuota quota;                      // all workloads of the config together
    ExecQuota per_user;                   // each user's workloads together
    bool queue = false;                   // wait (FIFO) instead of ResourceExhausted when it does not fit
    std::map<std::string, std::string> env;
    std::vector<std::string> mounts;      // host paths a Run may bind-mount (absolute)
    std::string network = "none";         // "none", "host", or the name of a CNI network
    std::chrono::seconds max_runtime{0};  // 0: none; then the workload is killed
};

using ExecConfigs = std::map<std::string, ExecConfig>;

// A group's gid by name; Error(EINVAL) "FILE: KEY: no such group" when
// the system has none.
gid_t resolve_group(const std::string& group, const std::string& file, const std::string& key);

// The configs declared by a [configs] table (its value: NAME -> table).
// `handlers` are the runtime handlers berthd knows ("" is the default).
// Throws Error(EINVAL) "FILE: configs.NAME.KEY: why".
ExecConfigs parse_exec_configs(const toml::table& configs, const std::string& file,
                               const std::set<std::string>& handlers);

// One config from a file of the config dir: NAME.toml, keys at the top.
ExecConfig parse_exec_config_file(const std::string& path, const std::set<std::string>& handlers);

// The [configs] of the main file plus every *.toml in dir ("": none),
// each name once. Throws the first error, naming its file.
ExecConfigs load_exec_configs(const ExecConfigs& from_main, const std::string& dir,
                              const std::set<std::string>& handlers);

} // namespace berth::cri
