// The container's cgroup behind one interface. The host may be cgroup v1,
// v1 hybrid (v1 controllers plus a cgroup2 mount) or pure v2, and the driver
// cgroupfs (berth makes the dirs) or systemd (a transient unit, with
// --systemd-cgroup); callers do not know which.
#pragma once

#include <sys/types.h>

#include "config.hpp"
#include "error.hpp"
#include "fd.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace berth::cgroup {

// One mounted hierarchy.
struct Hierarchy {
    std::string mountpoint;               // /sys/fs/cgroup/cpu
    std::string name;                     // dir name in a container's /sys/fs/cgroup: "cpu", "systemd", "unified"
    std::vector<std::string> controllers; // {"cpu"}, {"name=systemd"}, {} for cgroup2
    bool v2 = false;
    std::string own_path;                 // this process's cgroup in it, from /proc/self/cgroup
};

// Every cgroup hierarchy mounted on the host (first mount of each).
std::vector<Hierarchy> host_hierarchies();
// True when the host is pure cgroup v2.
bool unified_mode(const std::vector<Hierarchy>& hs);

// What `berth events` reports (runc's stats fields).
struct MemoryUsage {
    uint64_t usage = 0, max = 0, limit = 0, failcnt = 0;
};

struct Stats {
    uint64_t cpu_total_ns = 0, cpu_user_ns = 0, cpu_kernel_ns = 0;
    std::vector<uint64_t> cpu_percpu_ns;
    uint64_t cpu_periods = 0, cpu_throttled_periods = 0, cpu_throttled_ns = 0;
    MemoryUsage memory, swap, kernel, kernel_tcp;
    std::map<std::string, uint64_t> memory_raw;   // memory.stat
    uint64_t pids_current = 0, pids_limit = 0;    // 0 limit: none
    uint64_t oom_kills = 0;                       // processes killed by the OOM killer
};

// Who owns the container's cgroup.
enum class Driver { cgroupfs, systemd };
const char* driver_name(Driver d);   // "cgroupfs", "systemd"

class Manager {
public:
    virtual ~Manager() = default;
    // Create the cgroup in every hierarchy; records the dirs it made.
    virtual void create() = 0;
    // Placing a new init is on the container start hot path, so it happens
    // in up to two cheap steps rather than by writing its pid (which on a
    // quiet host waits out an RCU grace period, 7-20 ms, per burst):
    //  - birth_fd(): a directory fd for clone3(CLONE_INTO_CGROUP), covering
    //    the cgroup2 hierarchy if the host has one; invalid otherwise;
    //  - enter_self(): run by the single-threaded init itself to join the
    //    remaining (v1) hierarchies: a task moving only itself skips the
    //    kernel's global threadgroup lock.
    // add() is the general path: move pid into every hierarchy, except the
    // cgroup2 one when the pid was born into it.
    virtual UniqueFd birth_fd() const = 0;
    virtual void enter_self() const = 0;
    // (The systemd driver's add(0) on a new slice unit starts the slice
    // with no process in it.)
    virtual void add(pid_t pid, bool born_into = false) = 0;
    // True when a new init can only be placed by add() from the parent, and
    // must be before it starts its setup: its cgroup exists only from then
    // (systemd starts a scope unit for a live pid).
    virtual bool parent_places_init() const { return false; }
    // Apply linux.resources (at create, and for `update` with only the
    // fields given). Errors name the field; a resource the host's cgroups
    // cannot apply is an error, never skipped.
    virtual void set(const spec::Resources& r) = 0;
    // Freeze or thaw every process, returning once the kernel says done.
    virtual void freeze(bool frozen) = 0;
    // Usage counters; a controller the host lacks leaves its fields zero.
    virtual Stats stats() const = 0;
    // Every pid in the cgroup.
    virtual std::vector<pid_t> pids() const = 0;
    // True when frozen (paused).
    virtual bool frozen() const = 0;
    // Why a process placed in the cgroup now would stop at once: "" when
    // not frozen, else which file says it is frozen or freezing (v1
    // freezer.state FROZEN/FREEZING; cgroup2 cgroup.freeze, or an ancestor's
    // freeze in cgroup.events), for create to refuse instead of hanging.
    virtual std::string frozen_reason() const { return frozen() ? "frozen" : ""; }
    // Remove the dirs create() made, deepest first. Waits briefly for the
    // kernel to release a cgroup whose last task just exited.
    virtual void destroy() = 0;
    // The container's dir in each hierarchy (name, path), for its /sys/fs/cgroup.
    virtual std::vector<std::pair<Hierarchy, std::string>> dirs() const = 0;
    // exec --cgroup: a manager that places processes (birth_fd, enter_self,
    // add) in existing sub-cgroups of this one. Keys as runc's: "" for every
    // hierarchy, or a v1 controller ("memory", "name=systemd") for its own;
    // values relative to the container's cgroup. Throws naming the argument
    // for a path that leaves the cgroup or does not exist, or a controller
    // the host lacks (cgroup v2: only "").
    virtual std::unique_ptr<Manager> sub(const std::map<std::string, std::string>& paths) const {
        (void)paths;
        throw Error(ENOTSUP, "exec --cgroup: not supported by this cgroup driver");
    }

    // cgroupsPath as resolved ("/berth/c1") and the dirs created for it, for
    // state.json so `delete` removes exactly what `create` made.
    virtual const std::string& path() const = 0;
    virtual const std::vector<std::string>& created() const = 0;
    // For state.json too: the driver, and the systemd unit ("" for cgroupfs).
    virtual Driver driver() const { return Driver::cgroupfs; }
    virtual std::string unit() const { return {}; }
};

// The cgroups path used for a container: cgroupsPath from the config, or
// "/berth/<id>" when absent.
std::string container_path(const std::string& cgroups_path, const std::string& id);

// A manager for `path` (absolute: from each hierarchy's root; relative: from
// this process's own cgroup). `created` restores what an earlier create() made.
// An empty path means no cgroup (a rootless container without limits): every
// operation is then a no-op. With Driver::systemd, path is the "slice:prefix:
// name" that path() gave when the container was created, its unit exists,
// and systemd is reached only when an operation needs it.
std::unique_ptr<Manager> open(const std::string& path, std::vector<std::string> created = {},
                              Driver driver = Driver::cgroupfs);
// The manager for a new container `id`, from its config's cgroupsPath (""
// for the driver's default). The systemd driver connects to systemd here,
// so a host without it fails before anything is made.
std::unique_ptr<Manager> open_new(const std::string& cgroups_path, const std::string& id, Driver driver);
// The same over given hierarchies (tests use a fake cgroupfs tree).
std::unique_ptr<Manager> open_in(std::vector<Hierarchy> hs, const std::string& path,
                                 std::vector<std::string> created = {});

} // namespace berth::cgroup
