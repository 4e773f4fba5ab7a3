// Exec (streaming): the RPC checks the request and hands out a URL of the
// streaming server; when the client comes, the command runs through the
// pod's shim (Task.Exec with FIFOs for its stdio, as containerd's CRI runs
// execs), joined to the client's streams by cri/stream.
#include "runtime_ops.hpp"

#include "config.hpp"
#include "error.hpp"
#include "file_util.hpp"
#include "log.hpp"
#include "stream_server.hpp"
#include "ttrpc_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>

namespace berth::cri {

namespace {

// A command run in a container for a streaming client.
class ShimExec final : public stream::CommandProcess {
public:
    ShimExec(Daemon& d, ContainerRecord rec, stream::ExecRequest req)
        : d_(d), rec_(std::move(rec)), req_(std::move(req)), shim_(pod_shim(d, rec_.pod_id())) {
        exec_id_ = "stream-" + stream::random_token().substr(0, 16);
        for (char& c : exec_id_)
            if (c == '_') c = 'x';
        dir_ = d_.cfg.state + "/streams";
    }

    ~ShimExec() override {
        if (started_) {
            if (!exited_.load()) {
                try {
                    shim_.kill(rec_.id(), SIGKILL, false, exec_id_);
                } catch (const std::exception&) {
                }
            }
            if (waiter_.joinable()) waiter_.join();
            try {
                shim_.remove(rec_.id(), exec_id_);
            } catch (const std::exception& e) {
                log::write(LogLevel::debug, "exec " + exec_id_ + ": delete: " + e.what());
            }
        }
        for (const auto& p : fifos_) ::unlink(p.c_str());
    }

    void start(std::optional<stream::TerminalSize> size) override {
        auto cfg = spec::parse_config(read_file(d_.bundle_dir(rec_.pod_id(), rec_.id()) + "/config.json"));
        if (!cfg.process) throw Error(EIO, "container " + rec_.id() + ": its bundle has no process");
        spec::Process p = *cfg.process;
        p.args = req_.cmd;
        p.terminal = req_.tty;
        p.consoleSize.reset();
        if (req_.tty && size && size->width && size->height) p.consoleSize = spec::ConsoleSize{size->height, size->width};
        std::filesystem::create_directories(dir_);
        berth::task::ExecProcessRequest r;
        r.set_id(rec_.id());
        r.set_exec_id(exec_id_);
        r.set_terminal(req_.tty);
        if (req_.stdin) {
            in_ = fifo("0", O_RDWR);
            r.set_stdin(fifos_.back());
        }
        if (req_.stdout) {
            out_ = fifo("1", O_RDONLY);
            r.set_stdout(fifos_.back());
        }
        if (req_.stderr && !req_.tty) {
            err_ = fifo("2", O_RDONLY);
            r.set_stderr(fifos_.back());
        }
        r.mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Process");
        r.mutable_spec()->set_value(spec::to_json(p));
        make_pipe(exit_r_, exit_w_);
        shim_.exec(r);
        started_ = true;
        shim_.start(rec_.id(), exec_id_);
        // The shim holds its ends now; the names can go.
        for (const auto& f : fifos_) ::unlink(f.c_str());
        fifos_.clear();
        waiter_ = std::thread([this] {
            int code = 255;
            for (;;) {
                try {
                    code = static_cast<int>(PodShim(shim_.address()).wait(rec_.id(), std::chrono::hours(24), exec_id_).exit_status());
                    break;
                } catch (const Error& e) {
                    if (e.err() == ETIMEDOUT) continue;
                    log::write(LogLevel::debug, "exec " + exec_id_ + ": wait: " + e.what());
                    break;
                }
            }
            code_ = code;
            exited_ = true;
            exit_w_.reset();   // exit_r_ reads EOF: readable
        });
    }

    std::vector<std::pair<int, uint8_t>> outputs() const override {
        std::vector<std::pair<int, uint8_t>> o;
        if (out_) o.emplace_back(out_.get(), stream::channel::stdout_);
        if (err_) o.emplace_back(err_.get(), stream::channel::stderr_);
        return o;
    }

    bool read_output(int fd, size_t max, uint8_t& channel, std::string& data) override {
        char buf[64 * 1024];
        ssize_t r = ::read(fd, buf, std::min(max, sizeof buf));
        if (r > 0) {
            data.assign(buf, static_cast<size_t>(r));
            channel = fd == out_.get() ? stream::channel::stdout_ : stream::channel::stderr_;
            return true;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return true;
        return false;
    }

    int stdin_fd() const override { return in_ ? in_.get() : -1; }

    // Closing the FIFO's only writer: the shim reads what is still in it,
    // then sees its end and closes the process's stdin. (CloseIO would
    // close it at once, dropping what the FIFO still holds.)
    void close_stdin() override { in_.reset(); }

    void resize(stream::TerminalSize s) override {
        if (req_.tty && s.width && s.height) shim_.resize(rec_.id(), exec_id_, s.width, s.height);
    }

    int exit_fd() const override { return exit_r_.get(); }
    int exit_code() override { return code_.load(); }

    void abandon() override {
        try {
            shim_.kill(rec_.id(), SIGKILL, false, exec_id_);
        } catch (const std::exception& e) {
            log::write(LogLevel::debug, "exec " + exec_id_ + ": kill: " + e.what());
        }
    }

private:
    UniqueFd fifo(const std::string& n, int mode) {
        std::string path = dir_ + "/" + exec_id_ + "-" + n;
        if (::mkfifo(path.c_str(), 0600) < 0) throw_errno("mkfifo " + path);
        fifos_.push_back(path);
        UniqueFd fd(::open(path.c_str(), mode | O_NONBLOCK | O_CLOEXEC));
        if (!fd) throw_errno("open " + path);
        return fd;
    }

    Daemon& d_;
    ContainerRecord rec_;
    stream::ExecRequest req_;
    PodShim shim_;
    std::string exec_id_, dir_;
    std::vector<std::string> fifos_;
    UniqueFd in_, out_, err_, exit_r_, exit_w_;
    bool started_ = false;
    std::thread waiter_;
    std::atomic<bool> exited_{false};
    std::atomic<int> code_{0};
};

// A client attached to a container's own stdio: berth-shim connects to a
// SOCK_SEQPACKET socket of ours (Monitor.Attach) and sends the output as
// packets of a stream byte (1, 2) and data; packets back are stdin. The
// session ends when the container does (the shim closes the connection
// once its output is out), or when the client leaves (it just detaches).
class ShimAttach final : public stream::CommandProcess {
public:
    ShimAttach(Daemon& d, ContainerRecord rec, stream::AttachRequest req)
        : d_(d), rec_(std::move(rec)), req_(std::move(req)), shim_(pod_shim(d, rec_.pod_id())) {}

    ~ShimAttach() override {
        if (!path_.empty()) ::unlink(path_.c_str());
    }

    void start(std::optional<stream::TerminalSize> size) override {
        if (req_.stdin && !rec_.config().stdin())
            throw Error(EINVAL, "container " + rec_.id() + " was not created with stdin: nothing to attach stdin to");
        std::filesystem::create_directories(d_.cfg.state + "/streams");
        path_ = d_.cfg.state + "/streams/a-" + stream::random_token().substr(0, 12) + ".sock";
        UniqueFd l(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
        if (!l) throw_errno("attach socket");
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        if (path_.size() >= sizeof a.sun_path) throw Error(ENAMETOOLONG, "attach socket " + path_ + ": path too long");
        std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
        if (::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(l.get(), 1) < 0)
            throw_errno("attach socket " + path_);
        berth::shim::v1::AttachRequest r;
        r.set_id(rec_.id());
        r.set_socket(path_);
        r.set_stdin(req_.stdin);
        r.set_stdout(req_.stdout);
        r.set_stderr(req_.stderr);
        r.set_stdin_once(rec_.config().stdin_once());
        shim_.attach(r);   // the shim has connected when this returns
        pollfd p{l.get(), POLLIN, 0};
        if (::poll(&p, 1, 5000) != 1) throw Error(ETIMEDOUT, "container " + rec_.id() + ": the shim did not connect");
        conn_.reset(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!conn_) throw_errno("attach socket " + path_ + ": accept");
        ::unlink(path_.c_str());
        path_.clear();
        if (req_.tty && size) resize(*size);
    }

    // The connection is the output, and its end is the session's (the
    // shim closes it once the container has exited and its output is out).
    std::vector<std::pair<int, uint8_t>> outputs() const override { return {{conn_.get(), 0}}; }

    bool read_output(int fd, size_t max, uint8_t& channel, std::string& data) override {
        char buf[64 * 1024 + 1];
        ssize_t r = ::recv(fd, buf, std::min(max + 1, sizeof buf), 0);
        if (r > 1) {
            channel = static_cast<uint8_t>(buf[0]) == 2 ? stream::channel::stderr_ : stream::channel::stdout_;
            data.assign(buf + 1, static_cast<size_t>(r - 1));
            return true;
        }
        if (r == 1 || (r < 0 && (errno == EAGAIN || errno == EINTR))) return true;
        return false;
    }

    int stdin_fd() const override { return req_.stdin ? conn_.get() : -1; }
    void close_stdin() override { ::shutdown(conn_.get(), SHUT_WR); }

    void resize(stream::TerminalSize s) override {
        if (req_.tty && s.width && s.height) shim_.resize(rec_.id(), "", s.width, s.height);
    }

    // No exit of its own: the session ends with the output (kubelet then
    // reports Success).
    int exit_fd() const override { return -1; }
    int exit_code() override { return 0; }
    void abandon() override { ::shutdown(conn_.get(), SHUT_RDWR); }

private:
    Daemon& d_;
    ContainerRecord rec_;
    stream::AttachRequest req_;
    PodShim shim_;
    std::string path_;
    UniqueFd conn_;
};

ContainerRecord running_container(Daemon& d, const std::string& given) {
    std::string id = d.pods.resolve_container(given);
    auto rec = d.pods.container(id);
    if (!rec || rec->creating()) throw Error(ENOENT, "container " + given + ": not found");
    if (rec->state() != runtime::v1::CONTAINER_RUNNING)
        throw Error(EBUSY, "container " + id + ": is " + std::string(runtime::v1::ContainerState_Name(rec->state())) +
                               ", not running");
    return *rec;
}

class DaemonStreams final : public stream::StreamBackend {
public:
    explicit DaemonStreams(Daemon& d) : d_(d) {}

    std::unique_ptr<stream::CommandProcess> exec(const stream::ExecRequest& r) override {
        return std::make_unique<ShimExec>(d_, running_container(d_, r.container_id), r);
    }

    std::unique_ptr<stream::CommandProcess> attach(const stream::AttachRequest& r) override {
        return std::make_unique<ShimAttach>(d_, running_container(d_, r.container_id), r);
    }

    UniqueFd port_connect(const stream::PortForwardRequest& r, uint16_t port) override {
        auto p = d_.pods.pod(r.pod_id);
        if (!p || p->state() != runtime::v1::SANDBOX_READY) throw Error(ENOENT, "pod " + r.pod_id + " is not ready");
        // A host-network pod's ports are the node's (berthd's namespace).
        auto it = p->ns_paths().find("network");
        std::string netns = it != p->ns_paths().end() ? it->second : "/proc/" + std::to_string(::getpid()) + "/ns/net";
        return pod_port_connect(d_.shim_binary(p->runtime_handler()), netns, port, std::chrono::seconds(10));
    }

private:
    Daemon& d_;
};

// kubelet's checks of a streaming request (pkg/kubelet/cri/streaming).
void check_streams(bool tty, bool in, bool out, bool err) {
    if (tty && err) throw Error(EINVAL, "tty and stderr cannot both be true");
    if (!in && !out && !err) throw Error(EINVAL, "one of stdin, stdout, or stderr must be set");
}

stream::StreamServer& server(Daemon& d) {
    if (!d.streams) throw Error(ENOTSUP, "the streaming server is not running");
    return *d.streams;
}

} // namespace

void attach(Daemon& d, const runtime::v1::AttachRequest& req, runtime::v1::AttachResponse& resp) {
    check_streams(req.tty(), req.stdin(), req.stdout(), req.stderr());
    auto rec = running_container(d, req.container_id());
    if (req.stdin() && !rec.config().stdin())
        throw Error(EINVAL, "stdin: container " + rec.id() + " was not created with stdin (config.stdin)");
    if (req.tty() != rec.config().tty())
        throw Error(EINVAL, std::string("tty: container ") + rec.id() + (rec.config().tty() ? " has" : " has no") + " terminal");
    stream::AttachRequest r;
    r.container_id = rec.id();
    r.tty = req.tty();
    r.stdin = req.stdin();
    r.stdout = req.stdout();
    r.stderr = req.stderr();
    resp.set_url(server(d).url_for(std::move(r)));
}

void port_forward(Daemon& d, const runtime::v1::PortForwardRequest& req, runtime::v1::PortForwardResponse& resp) {
    std::string id = d.pods.resolve_pod(req.pod_sandbox_id());
    auto p = d.pods.pod(id);
    if (!p) throw Error(ENOENT, "pod sandbox " + req.pod_sandbox_id() + ": not found");
    if (p->state() != runtime::v1::SANDBOX_READY) throw Error(EBUSY, "pod sandbox " + id + ": is not ready");
    stream::PortForwardRequest r;
    r.pod_id = id;
    for (int i = 0; i < req.port_size(); ++i) {
        if (req.port(i) < 1 || req.port(i) > 65535)
            throw Error(EINVAL, "port[" + std::to_string(i) + "]: " + std::to_string(req.port(i)) + " is not a port");
        r.ports.push_back(req.port(i));
    }
    resp.set_url(server(d).url_for(std::move(r)));
}

std::unique_ptr<stream::StreamBackend> make_stream_backend(Daemon& d) { return std::make_unique<DaemonStreams>(d); }

void exec(Daemon& d, const runtime::v1::ExecRequest& req, runtime::v1::ExecResponse& resp) {
    if (req.cmd_size() == 0) throw Error(EINVAL, "cmd: required");
    check_streams(req.tty(), req.stdin(), req.stdout(), req.stderr());
    auto rec = running_container(d, req.container_id());
    stream::ExecRequest r;
    r.container_id = rec.id();
    r.cmd.assign(req.cmd().begin(), req.cmd().end());
    r.tty = req.tty();
    r.stdin = req.stdin();
    r.stdout = req.stdout();
    r.stderr = req.stderr();
    resp.set_url(server(d).url_for(std::move(r)));
}

} // namespace berth::cri
