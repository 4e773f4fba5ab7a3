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
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
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
        (void)running_container(d_, r.container_id);
        throw Error(ENOTSUP, "attach is not served yet");
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
