// libberth: the container lifecycle. The berth CLI is a thin front end over
// these calls; berth-shim links them directly.
#pragma once

#include "log.hpp"
#include "cdi_devices.hpp"
#include "cgroup.hpp"
#include "config.hpp"
#include "state.hpp"

#include <signal.h>

#include <map>
#include <string>
#include <vector>

namespace berth {

struct RuntimeContext {
    std::string root = "/run/berth";   // state root (--root)
    const Logger* log = nullptr;
    // Who owns a new container's cgroup (--systemd-cgroup); an existing
    // container keeps the driver its state.json names.
    cgroup::Driver cgroup_driver = cgroup::Driver::cgroupfs;
    // Where CDI specs live and which devices create injects by default
    // (--cdi-spec-dir, --cdi-config, the berth-gpu entry point).
    cdi::Settings cdi;
};

struct CreateOptions {
    std::string bundle = ".";
    std::string pid_file;
    std::string console_socket;
    int console_fd = -1;               // instead of console_socket: an already connected socket
    bool no_pivot = false;
    bool no_new_keyring = false;
    unsigned preserve_fds = 0;
};

// Create a container whose init waits on exec.fifo. On failure nothing is
// left behind: no state dir, cgroup, mount or process.
// `sigmask` is the mask the init restores (the caller may have blocked signals).
// Returns the init's host pid.
pid_t create_container(const RuntimeContext& ctx, const std::string& id, const CreateOptions& opts,
                      const sigset_t* sigmask = nullptr);
void start_container(const RuntimeContext& ctx, const std::string& id);
// create + start; in the foreground, wait, forward signals, delete (unless
// keep) and return the container's exit status (128+N for signal N).
int run_container(const RuntimeContext& ctx, const std::string& id, const CreateOptions& opts, bool detach,
                  bool keep);
struct ExecOptions {
    spec::Process process;             // complete: see exec_base_process
    std::string console_socket;
    int console_fd = -1;               // instead of console_socket: an already connected socket
    std::string pid_file;
    bool detach = false;
    bool ignore_paused = false;
    unsigned preserve_fds = 0;
    // exec --cgroup: existing sub-cgroups of the container's to run in
    // ("" key: every hierarchy; else a v1 controller), see cgroup::Manager::sub.
    std::map<std::string, std::string> sub_cgroups;
    // For a caller that owns its signal mask (berth-shim blocks the signals
    // it reads from a signalfd): the mask the process starts with. Null: the
    // caller's mask.
    const sigset_t* sigmask = nullptr;
    // Detached: set to the process's host pid (the caller's child, which
    // the caller then reaps).
    pid_t* pid_out = nullptr;
};
// The process `exec` starts from when given no process.json: the
// container's own config.json process (runc's rule), for flags to amend.
spec::Process exec_base_process(const RuntimeContext& ctx, const std::string& id);
// Run a process in a created, running (or, with ignore_paused, paused)
// container: in its namespaces and cgroup, with its seccomp filter and the
// process's capabilities, user and rlimits. In the foreground, wait
// (forwarding signals, relaying a terminal with no console socket) and
// return its exit status; detached, return 0 once it has exec'd.
int exec_container(const RuntimeContext& ctx, const std::string& id, const ExecOptions& opts);
void kill_container(const RuntimeContext& ctx, const std::string& id, int sig, bool all);
// Apply resources to a running (or created, or paused) container's cgroup.
void update_container(const RuntimeContext& ctx, const std::string& id, const spec::Resources& r);
void pause_container(const RuntimeContext& ctx, const std::string& id);
void resume_container(const RuntimeContext& ctx, const std::string& id);
// The container's cgroup stats. Throws if it is stopped, unless `stopped`
// is given: then a stopped container's cgroup (kept until delete) is still
// read, and *stopped says so.
cgroup::Stats container_stats(const RuntimeContext& ctx, const std::string& id, bool* stopped = nullptr);
// Host pids of every process in the container's cgroup.
std::vector<pid_t> container_pids(const RuntimeContext& ctx, const std::string& id);
void delete_container(const RuntimeContext& ctx, const std::string& id, bool force);

struct ContainerInfo {
    ContainerState state;
    Status status;
};
ContainerInfo container_info(const RuntimeContext& ctx, const std::string& id);
std::vector<ContainerInfo> list_containers(const RuntimeContext& ctx);

// `berth features` JSON.
std::string features_json();

// Signal name ("KILL", "SIGKILL") or number -> number. Throws on unknown.
int parse_signal(const std::string& s);

} // namespace berth
