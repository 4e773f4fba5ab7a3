// ExecSync: one Pod.ExecSync call to the pod's shim, which runs the
// command through libberth and answers with its output and exit code: the
// liveness-probe path, with no FIFO, no second round trip and no berth
// binary exec'd.
#include "runtime_ops.hpp"

#include "config.hpp"
#include "error.hpp"
#include "file_util.hpp"
#include "ttrpc_client.hpp"

namespace berth::cri {

namespace {

// kubelet's cap on each stream (CVE-2022-1708).
constexpr uint32_t max_output = 16u << 20;

} // namespace

void exec_sync(Daemon& d, grpc::ServerContext& ctx, const runtime::v1::ExecSyncRequest& req,
               runtime::v1::ExecSyncResponse& resp) {
    if (req.cmd_size() == 0) throw Error(EINVAL, "cmd: required");
    if (req.timeout() < 0) throw Error(EINVAL, "timeout: must not be negative");
    std::string id = d.pods.resolve_container(req.container_id());
    auto rec = d.pods.container(id);
    if (!rec || rec->creating()) throw Error(ENOENT, "container " + req.container_id() + ": not found");
    if (rec->state() != runtime::v1::CONTAINER_RUNNING)
        throw Error(EBUSY, "container " + id + ": is " + std::string(runtime::v1::ContainerState_Name(rec->state())) +
                               ", not running");
    // The container's own process settings (user, env, cwd, capabilities,
    // no_new_privileges, LSM labels), with the command's args.
    auto cfg = spec::parse_config(read_file(d.bundle_dir(rec->pod_id(), id) + "/config.json"));
    if (!cfg.process) throw Error(EIO, "container " + id + ": its bundle has no process");
    spec::Process p = *cfg.process;
    p.args.assign(req.cmd().begin(), req.cmd().end());
    p.terminal = false;
    p.consoleSize.reset();
    berth::shim::v1::ExecSyncRequest r;
    r.set_id(id);
    r.set_process(spec::to_json(p));
    r.set_timeout_ms(static_cast<uint32_t>(std::min<int64_t>(req.timeout() * 1000, UINT32_MAX)));
    r.set_max_output(max_output);
    // The call's own bound: the command's timeout plus the shim's grace,
    // or the client's deadline.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(ctx.deadline() - std::chrono::system_clock::now());
    std::chrono::milliseconds bound = req.timeout() > 0 ? std::chrono::milliseconds(req.timeout() * 1000 + 5000)
                                                        : std::chrono::milliseconds(0);
    if (left.count() > 0 && left < std::chrono::hours(24 * 365) && (bound.count() == 0 || left < bound)) bound = left;
    auto out = pod_shim(d, rec->pod_id()).exec_sync(r, bound);
    if (out.timed_out())
        throw Error(ETIMEDOUT, "command \"" + req.cmd(0) + "\" in container " + id + " timed out after " +
                                   std::to_string(req.timeout()) + " s");
    resp.set_stdout(out.stdout());
    resp.set_stderr(out.stderr());
    resp.set_exit_code(out.exit_code());
}

} // namespace berth::cri
