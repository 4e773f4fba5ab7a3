// berth.v1.Executions' work (issue 16), one file per concern: each
// execution is a one-container pod made through the same code as CRI's
// (so its records, logs and recovery after a kill -9 of berthd are a
// pod's), in the namespace berth-executions, labelled with its config and
// the caller who started it. The service class is in grpc_services.hpp;
// the caller comes from Daemon::peers.
#pragma once

#include "berth.grpc.pb.h"
#include "daemon.hpp"

#include <grpcpp/server_context.h>
#include <grpcpp/support/sync_stream.h>

#include <map>
#include <mutex>
#include <optional>

namespace berth::cri {

namespace exec_labels {
inline constexpr const char* kExecution = "io.berth.execution";   // "true" on every execution's pod
inline constexpr const char* kConfig = "io.berth.execution.config";
inline constexpr const char* kUid = "io.berth.execution.uid";
inline constexpr const char* kUser = "io.berth.execution.user";
inline constexpr const char* kCreated = "io.berth.execution.created";   // ns: the Run, before any time queued
} // namespace exec_labels
inline constexpr const char* kExecutionNamespace = "berth-executions";
inline constexpr const char* kWorkloadName = "workload";

// Whether the caller may use the config: root, or a member of one of its
// groups.
bool may_use(const Caller& c, const ExecConfig& cfg);

void list_configs(const Daemon& d, const Caller& caller, berth::v1::ListConfigsResponse& resp);
void run_execution(Daemon& d, grpc::ServerContext& ctx, const Caller& caller, const berth::v1::RunRequest& req,
                   berth::v1::RunResponse& resp);
void get_execution(Daemon& d, const Caller& caller, const std::string& id, berth::v1::Execution& out);
void wait_execution(Daemon& d, grpc::ServerContext& ctx, const Caller& caller, const std::string& id,
                    berth::v1::Execution& out);
void list_executions(Daemon& d, const Caller& caller, const berth::v1::ListRequest& req, berth::v1::ListResponse& resp);
void cancel_execution(Daemon& d, const Caller& caller, const berth::v1::CancelRequest& req, berth::v1::Execution& out);
void remove_execution(Daemon& d, const Caller& caller, const std::string& id);
void execution_logs(Daemon& d, grpc::ServerContext& ctx, const Caller& caller, const berth::v1::LogsRequest& req,
                    grpc::ServerWriter<berth::v1::LogChunk>& out);
// The room the config has for the caller (execution_capacity.cpp); a
// config it may not use answers offered=false, as an unknown one.
void execution_capacity(Daemon& d, const Caller& caller, const berth::v1::CapacityRequest& req,
                        berth::v1::CapacityResponse& resp);

// Kills workloads past their config's max_runtime (the exit watcher's).
void enforce_execution_deadlines(Daemon& d);
// Starts the queued Runs that now fit, oldest first per config (the exit
// watcher's, each round).
void dispatch_queued_executions(Daemon& d);

// Makes and starts a workload: its cgroups, the pod `id` and its one
// container. Run's and the queue's; under admission_mutex().
void start_execution(Daemon& d, const ExecConfig& cfg, const Caller& caller, const berth::v1::RunRequest& req,
                     const std::string& image, const std::string& id, int64_t created_at);

// A Run's mounts (execution_mounts.cpp): check_mounts throws naming
// mounts[i] unless each host path lies under one of the config's mounts;
// stage_mounts binds each onto berthd's own staging point, returning the
// workload's CRI mounts; unstage_mounts undoes it (no-op when none).
void check_mounts(const ExecConfig& cfg, const berth::v1::RunRequest& req);
std::vector<runtime::v1::Mount> stage_mounts(const Daemon& d, const ExecConfig& cfg, const berth::v1::RunRequest& req,
                                             const std::string& id);
void unstage_mounts(const Daemon& d, const std::string& id);

// Queued Runs (execution_dispatch.cpp), seen as pods are: the caller's
// own, or all for sees_all. find_queued: nullopt when none matches (the
// id may be a pod's).
std::optional<QueuedRun> find_queued(Daemon& d, const Caller& caller, const std::string& id_or_prefix);
std::vector<QueuedRun> visible_queued(Daemon& d, const Caller& caller);
void fill_queued(Daemon& d, const QueuedRun& r, berth::v1::Execution& out);

// Cgroups (execution_cgroups.cpp). The workload's cgroup parent is
// <berthd's parent>/config-NAME/user-UID (or the same nesting of systemd
// slices); make_quota_cgroups makes the two with the config's caps.
bool systemd_driver(const Daemon& d, const ExecConfig& cfg);
// Docker's --cpus as a CFS quota over kCfsPeriod (a workload's own, and a
// quota's).
inline constexpr int64_t kCfsPeriod = 100000;
int64_t cfs_quota(double cpus);
std::string config_cgroup(const Daemon& d, const ExecConfig& cfg);
std::string execution_cgroup_parent(const Daemon& d, const ExecConfig& cfg, uid_t uid);
void make_quota_cgroups(const Daemon& d, const ExecConfig& cfg, uid_t uid);
// After an execution's pod is removed: its user's cgroup (an execution's
// cgroup parent), then its config's, once no pod is under them. Call with
// admission_mutex() held, so no Run makes a workload under them meanwhile.
void remove_unused_quota_cgroups(Daemon& d, const std::string& user_cgroup, bool systemd);

// Admission (execution_admission.cpp). Held while a workload is admitted
// and made, so two Runs cannot both take the last room under a quota.
std::mutex& admission_mutex();
struct QuotaUsage {
    int64_t config_reserved = 0, user_reserved = 0;   // memory, bytes
    int config_running = 0, user_running = 0;
};
// What a config's running workloads reserve, in all and by user: one look
// at each (its shim is asked), for as many users as need it.
struct ConfigUsage {
    int64_t reserved = 0;
    int running = 0;
    std::map<uid_t, std::pair<int64_t, int>> by_user;   // reserved, running
    QuotaUsage of(uid_t uid) const;
};
ConfigUsage config_usage(Daemon& d, const std::string& config);
inline QuotaUsage quota_usage(Daemon& d, const std::string& config, uid_t uid) { return config_usage(d, config).of(uid); }
// Whether admission has anything to weigh: the workload's own memory limit
// against a memory cap. Without both every Run fits, and nobody is asked.
bool weighs_memory(const ExecConfig& cfg);
// Every workload of a config reserves the same (its resources.memory), so
// when the config's cap is full no one fits, and when a user's is, none of
// that user's.
enum class Fit { yes, config_full, user_full };
Fit fits(const ExecConfig& cfg, const QuotaUsage& u);
// "" when the config's workload fits under its caps; otherwise what is
// used, what is left and what it needs.
std::string why_not_admitted(const ExecConfig& cfg, const QuotaUsage& u);
std::string size_text(int64_t bytes);   // "96m"

// Shared by the files above (execution_record.cpp).
// Root and the members of [executions] admin_group see, and may cancel and
// remove, every execution; others only their own.
bool sees_all(const Daemon& d, const Caller& caller);
// The execution's pod, when the caller may see it (sees_all, or its starter);
// Error(ENOENT) otherwise, so another user's ids are not revealed.
PodRecord find_execution(Daemon& d, const Caller& caller, const std::string& id_or_prefix);
bool is_execution(const PodRecord& p);
bool may_see(const Daemon& d, const Caller& caller, const PodRecord& p);
// Its workload container, brought up to date with its shim.
std::optional<ContainerRecord> workload_of(Daemon& d, const PodRecord& p);
void fill_execution(Daemon& d, const PodRecord& p, berth::v1::Execution& out);
// One audit line per decision on a config: who, which config, which
// execution, allowed or denied and why.
void audit(const Caller& caller, const std::string& config, const std::string& id, bool allowed, const std::string& why);

} // namespace berth::cri
