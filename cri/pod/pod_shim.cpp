#include "pod_shim.hpp"
#include "spawn.hpp"
#include <sys/socket.h>

#include "error.hpp"
#include "fd.hpp"
#include "file_util.hpp"
#include "ttrpc.pb.h"
#include "ttrpc_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

namespace berth::cri {

namespace {

constexpr const char* task_service = "containerd.task.v2.Task";
constexpr const char* pod_service = "berth.shim.v1.Pod";
constexpr std::chrono::milliseconds call_timeout{10000};

int64_t mono_ms() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

template <class Msg>
Msg parse(const std::string& s, const char* what) {
    Msg m;
    if (!m.ParseFromString(s)) throw Error(EPROTO, std::string("shim: bad ") + what + " answer");
    return m;
}

} // namespace

namespace {

struct RunResult {
    int status = 0;
    std::string output;   // stdout (and stderr unless split)
    std::string err;
};

// Run the shim binary with args in cwd, stdin /dev/null, and collect what
// it prints until it exits (its daemon, if it makes one, closes its copy
// of our pipe first). posix_spawn: vfork-like, safe in a threaded process.
RunResult run_shim(const ShimSpawn& s, std::vector<std::string> args, const std::string& cwd,
                   std::chrono::milliseconds timeout, bool split_stderr) {
    UniqueFd out_r, out_w, err_r, err_w;
    make_pipe(out_r, out_w);
    if (split_stderr) make_pipe(err_r, err_w);
    args.insert(args.begin(), s.binary);
    // The shim starts with no blocked signals and default handlers, whatever
    // berthd's threads had (spawn_process).
    SpawnOptions o;
    o.dev_null = {0};
    o.dup2s = {{out_w.get(), 1}, {split_stderr ? err_w.get() : out_w.get(), 2}};
    o.cwd = cwd;
    pid_t pid = spawn_process(s.binary, args,
                              {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "BERTH_SHIM_ROOT=" + s.shim_root},
                              o, "run the pod's shim " + s.binary);
    out_w.reset();
    err_w.reset();

    RunResult res;
    int64_t deadline = mono_ms() + timeout.count();
    bool out_open = true, err_open = split_stderr;
    while (out_open || err_open) {
        int left = static_cast<int>(std::max<int64_t>(0, deadline - mono_ms()));
        pollfd p[2] = {{out_open ? out_r.get() : -1, POLLIN, 0}, {err_open ? err_r.get() : -1, POLLIN, 0}};
        int n = ::poll(p, 2, left);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            throw Error(ETIMEDOUT, s.binary + " " + args.back() + ": no answer in " + std::to_string(timeout.count()) +
                                       " ms");
        }
        for (int i = 0; i < 2; ++i) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            ssize_t r = ::read(p[i].fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                (i == 0 ? out_open : err_open) = false;
                continue;
            }
            (i == 0 ? res.output : res.err).append(buf, static_cast<size_t>(r));
        }
    }
    while (::waitpid(pid, &res.status, 0) < 0 && errno == EINTR) {
    }
    return res;
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

} // namespace

std::string spawn_pod_shim(const ShimSpawn& s, std::chrono::milliseconds timeout) {
    std::vector<std::string> args = {"-pod", "-namespace", "berthd", "-id", s.pod_id};
    if (s.debug) args.push_back("-debug");
    args.push_back("start");
    // `start` prints the address and exits once its daemon listens.
    auto r = run_shim(s, args, s.pod_dir, timeout, false);
    std::string out = trimmed(r.output);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 || out.rfind("unix://", 0) != 0)
        throw Error(EIO, "start the pod's shim " + s.binary + ": " + (out.empty() ? "failed" : out));
    return out;
}

berth::task::DeleteResponse shim_delete(const ShimSpawn& s, const std::string& id, const std::string& bundle,
                                        std::chrono::milliseconds timeout) {
    auto r = run_shim(s, {"-namespace", "berthd", "-id", id, "-bundle", bundle, "delete"}, "/", timeout, true);
    berth::task::DeleteResponse resp;
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 || !resp.ParseFromString(r.output))
        throw Error(EIO, "clean up container " + id + " after its shim: " + trimmed(r.err.empty() ? "failed" : r.err));
    return resp;
}

UniqueFd pod_port_connect(const std::string& shim_binary, const std::string& netns, uint16_t port,
                          std::chrono::milliseconds timeout) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) throw_errno("port-forward: socketpair");
    UniqueFd ours(sv[0]), theirs(sv[1]);
    std::string port_s = std::to_string(port);
    SpawnOptions o;
    o.dev_null = {0, 1, 2};
    o.dup2s = {{theirs.get(), 3}};
    pid_t pid = spawn_process(shim_binary, {shim_binary, "netns-connect", netns, port_s}, {}, o,
                              "port-forward: run " + shim_binary);
    theirs.reset();
    struct Reap {
        pid_t pid;
        ~Reap() {
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
            }
        }
    } reap{pid};
    pollfd p{ours.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
        throw Error(ETIMEDOUT, "port-forward: connect to port " + port_s + ": no answer");
    char buf[1024];
    msghdr m{};
    iovec iov{buf, sizeof buf};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    ssize_t n = ::recvmsg(ours.get(), &m, MSG_CMSG_CLOEXEC);
    if (n <= 0) throw Error(EIO, "port-forward: connect to port " + port_s + ": the helper said nothing");
    UniqueFd got;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
            got.reset(fd);
        }
    if (buf[0] != '0' || !got)
        throw Error(ECONNREFUSED, std::string(buf + 1, static_cast<size_t>(n - 1)));
    return got;
}

bool PodShim::alive() const {
    try {
        ttrpc::dial_socket(address_, std::chrono::milliseconds(1000));
        return true;
    } catch (const Error&) {
        return false;
    }
}

std::string PodShim::call(const std::string& service, const std::string& method, const std::string& payload,
                          std::chrono::milliseconds timeout) {
    auto c = ttrpc::Client::dial(address_, std::chrono::milliseconds(2000));
    return c.call(service, method, payload, timeout);
}

berth::shim::v1::PinNamespacesResponse PodShim::pin(const berth::shim::v1::PinNamespacesRequest& r) {
    return parse<berth::shim::v1::PinNamespacesResponse>(
        call(pod_service, "PinNamespaces", r.SerializeAsString(), call_timeout), "PinNamespaces");
}

void PodShim::unpin(const std::string& dir) {
    berth::shim::v1::UnpinNamespacesRequest r;
    r.set_dir(dir);
    call(pod_service, "UnpinNamespaces", r.SerializeAsString(), call_timeout);
}

berth::shim::v1::ExecSyncResponse PodShim::exec_sync(const berth::shim::v1::ExecSyncRequest& r,
                                                     std::chrono::milliseconds timeout) {
    return parse<berth::shim::v1::ExecSyncResponse>(call(pod_service, "ExecSync", r.SerializeAsString(), timeout),
                                                    "ExecSync");
}

void PodShim::reopen_log(const std::string& id) {
    berth::shim::v1::ReopenLogRequest r;
    r.set_id(id);
    call("berth.shim.v1.Monitor", "ReopenLog", r.SerializeAsString(), call_timeout);
}

uint32_t PodShim::create(const berth::task::CreateTaskRequest& r) {
    return parse<berth::task::CreateTaskResponse>(call(task_service, "Create", r.SerializeAsString(), call_timeout),
                                                  "Create")
        .pid();
}

uint32_t PodShim::start(const std::string& id, const std::string& exec_id) {
    berth::task::StartRequest r;
    r.set_id(id);
    r.set_exec_id(exec_id);
    return parse<berth::task::StartResponse>(call(task_service, "Start", r.SerializeAsString(), call_timeout), "Start")
        .pid();
}

void PodShim::exec(const berth::task::ExecProcessRequest& r) {
    call(task_service, "Exec", r.SerializeAsString(), call_timeout);
}

void PodShim::resize(const std::string& id, const std::string& exec_id, uint32_t width, uint32_t height) {
    berth::task::ResizePtyRequest r;
    r.set_id(id);
    r.set_exec_id(exec_id);
    r.set_width(width);
    r.set_height(height);
    call(task_service, "ResizePty", r.SerializeAsString(), call_timeout);
}

void PodShim::attach(const berth::shim::v1::AttachRequest& r) {
    call("berth.shim.v1.Monitor", "Attach", r.SerializeAsString(), call_timeout);
}

void PodShim::kill(const std::string& id, int signal, bool all, const std::string& exec_id) {
    berth::task::KillRequest r;
    r.set_id(id);
    r.set_exec_id(exec_id);
    r.set_signal(static_cast<uint32_t>(signal));
    r.set_all(all);
    call(task_service, "Kill", r.SerializeAsString(), call_timeout);
}

berth::task::StateResponse PodShim::state(const std::string& id) {
    berth::task::StateRequest r;
    r.set_id(id);
    return parse<berth::task::StateResponse>(call(task_service, "State", r.SerializeAsString(), call_timeout),
                                             "State");
}

berth::task::WaitResponse PodShim::wait(const std::string& id, std::chrono::milliseconds timeout,
                                       const std::string& exec_id) {
    berth::task::WaitRequest r;
    r.set_id(id);
    r.set_exec_id(exec_id);
    try {
        return parse<berth::task::WaitResponse>(call(task_service, "Wait", r.SerializeAsString(), timeout), "Wait");
    } catch (const ttrpc::StatusError& e) {
        if (e.code() == ttrpc::StatusError::deadline_exceeded)
            throw Error(ETIMEDOUT, "container " + id + ": still running after " + std::to_string(timeout.count()) + " ms");
        throw;
    }
}

berth::task::DeleteResponse PodShim::remove(const std::string& id, const std::string& exec_id) {
    berth::task::DeleteRequest r;
    r.set_id(id);
    r.set_exec_id(exec_id);
    return parse<berth::task::DeleteResponse>(call(task_service, "Delete", r.SerializeAsString(), call_timeout),
                                              "Delete");
}

void PodShim::update(const std::string& id, const std::string& resources_json) {
    berth::task::UpdateTaskRequest r;
    r.set_id(id);
    r.mutable_resources()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/LinuxResources");
    r.mutable_resources()->set_value(resources_json);
    call(task_service, "Update", r.SerializeAsString(), call_timeout);
}

void PodShim::shutdown() {
    berth::task::ShutdownRequest r;
    call(task_service, "Shutdown", r.SerializeAsString(), call_timeout);
}

} // namespace berth::cri
