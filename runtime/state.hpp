// Runtime state: ROOT/ID/state.json (written atomically) and ROOT/ID/exec.fifo,
// under one flock per container so concurrent commands serialise.
#pragma once

#include "cgroup.hpp"
#include "config.hpp"
#include "fd.hpp"

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace berth {

enum class Status { creating, created, running, paused, stopped };
const char* status_name(Status s);

struct ContainerState {
    std::string oci_version;
    std::string id;
    pid_t pid = 0;
    uint64_t pid_start = 0;      // /proc/PID/stat start time: tells a reused pid apart
    std::string bundle;
    std::string rootfs;
    std::string created;         // RFC 3339
    std::string owner;
    std::map<std::string, std::string> annotations;
    std::string cgroup_path;
    std::vector<std::string> cgroup_created;
    cgroup::Driver cgroup_driver = cgroup::Driver::cgroupfs;
    std::string cgroup_unit;     // the systemd unit, with the systemd driver
    bool own_pid_ns = true;      // false: processes may outlive init, kill the cgroup
    std::vector<spec::Hook> poststart, poststop;   // run by start and delete
};

// Throws Error(EINVAL) unless id is a valid container id.
void validate_id(const std::string& id);

class StateDir {
public:
    // Make ROOT/ID (and ROOT) and lock it. Throws if the id is taken.
    static StateDir create(const std::string& root, const std::string& id);
    // Open and lock an existing container's dir. Throws if unknown.
    static StateDir open(const std::string& root, const std::string& id, bool shared = false);

    const std::string& path() const { return path_; }
    std::string fifo_path() const { return path_ + "/exec.fifo"; }
    int fd() const { return dirfd_.get(); }
    bool fifo_exists() const;

    void save(const ContainerState& s) const;
    ContainerState load() const;
    // The config.json the container was created from, kept for exec (the
    // bundle may change or go away while the container runs). "" if absent.
    void save_config(const std::string& text) const;
    std::string load_config() const;
    // Remove the dir and all in it; the lock goes with the fd.
    void remove();

private:
    StateDir(std::string path, UniqueFd fd) : path_(std::move(path)), dirfd_(std::move(fd)) {}
    std::string path_;
    UniqueFd dirfd_;
};

// Ids of all containers under root (those with a state.json).
std::vector<std::string> list_ids(const std::string& root);

// The container's cgroup, through the driver it was created with.
std::unique_ptr<cgroup::Manager> open_cgroup(const ContainerState& s);

// The status implied by the saved state and what the kernel says now. `cg`
// (the container's cgroup, when the caller has it open) saves re-reading the
// host's cgroup mounts for the paused check.
Status current_status(const ContainerState& s, const StateDir& dir, const cgroup::Manager* cg = nullptr);

// The OCI state JSON (`berth state`), runc's field set.
std::string oci_state_json(const ContainerState& s, Status st, bool pretty = true);
// The runtime spec's state object exactly (ociVersion, id, status, pid,
// bundle, annotations), as runc gives it to a seccomp agent.
std::string spec_state_json(const ContainerState& s, Status st);

} // namespace berth
