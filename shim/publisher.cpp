#include "publisher.hpp"

#include "error.hpp"
#include "events.pb.h"
#include "log.hpp"
#include "ttrpc.hpp"
#include "ttrpc.pb.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <vector>

extern char** environ;

namespace berth::shim {

namespace {

constexpr int forward_timeout_ms = 5000;

UniqueFd dial(const std::string& address) {
    std::string path = address.rfind("unix://", 0) == 0 ? address.substr(7) : address;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) throw Error(ENAMETOOLONG, "ttrpc address " + path);
    std::memcpy(sa.sun_path, path.data(), path.size());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) throw_errno("connect " + path);
    return fd;
}

bool write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);   // SIGPIPE is blocked
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

} // namespace

Publisher::Publisher(std::string ttrpc_address, std::string publish_binary, std::string address, std::string ns)
    : ttrpc_address_(std::move(ttrpc_address)), publish_binary_(std::move(publish_binary)),
      address_(std::move(address)), ns_(std::move(ns)) {}

void Publisher::publish(const std::string& topic, const std::string& name,
                        const google::protobuf::MessageLite& event) {
    ttrpc::Any any;
    any.set_type_url("containerd.events." + name);
    any.set_value(event.SerializeAsString());
    log_debug("publish " + topic);
    if (ttrpc_address_.empty()) {
        if (!publish_binary_.empty()) run_binary(topic, any.SerializeAsString());
        return;
    }
    events::ForwardRequest fr;
    auto* env = fr.mutable_envelope();
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    env->mutable_timestamp()->set_seconds(ts.tv_sec);
    env->mutable_timestamp()->set_nanos(static_cast<int32_t>(ts.tv_nsec));
    env->set_namespace_(ns_);
    env->set_topic(topic);
    *env->mutable_event() = any;
    ttrpc::Request req;
    req.set_service("containerd.services.events.ttrpc.v1.Events");
    req.set_method("Forward");
    req.set_payload(fr.SerializeAsString());
    req.set_timeout_nano(int64_t(forward_timeout_ms) * 1000000);
    auto* md = req.add_metadata();
    md->set_key("containerd-namespace-ttrpc");
    md->set_value(ns_);
    std::string body = req.SerializeAsString();
    // One retry on a fresh connection (containerd may have restarted).
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            if (forward(body)) return;
        } catch (const Error& e) {
            log_error("publish " + topic + ": " + e.what());
        }
        conn_.reset();
    }
    log_error("publish " + topic + ": event dropped");
}

bool Publisher::forward(const std::string& body) {
    if (!conn_) conn_ = dial(ttrpc_address_);
    uint32_t stream = next_stream_;
    next_stream_ += 2;
    if (!write_all(conn_.get(), ttrpc::encode_frame(stream, ttrpc::MsgType::request, 0, body))) return false;
    ttrpc::FrameDecoder dec;
    for (;;) {
        pollfd p{conn_.get(), POLLIN, 0};
        int r = ::poll(&p, 1, forward_timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        char buf[4096];
        ssize_t n = ::read(conn_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        dec.feed(buf, static_cast<size_t>(n));
        while (auto f = dec.next()) {
            if (f->stream != stream) continue;
            ttrpc::Response resp;
            if (!resp.ParseFromString(f->payload)) throw Error(EPROTO, "bad ttrpc response");
            if (resp.has_status() && resp.status().code() != 0)
                throw Error(EIO, "containerd: " + resp.status().message());
            return true;
        }
    }
}

void Publisher::run_binary(const std::string& topic, const std::string& any) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) {
        log_error("publish: pipe: " + std::string(std::strerror(errno)));
        return;
    }
    UniqueFd r(p[0]), w(p[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, r.get(), 0);
    std::vector<std::string> args = {publish_binary_, "--address", address_, "publish", "--topic", topic,
                                     "--namespace", ns_};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The caller's mask is berth-shim's (signals blocked for its signalfd).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int rc = ::posix_spawn(&pid, publish_binary_.c_str(), &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        log_error("publish: spawn " + publish_binary_ + ": " + std::strerror(rc));
        return;
    }
    r.reset();
    write_all(w.get(), any);
    w.reset();
    // In order: the next event waits for this one.
    int st;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) log_error("publish " + topic + ": " + publish_binary_ + " failed");
}

} // namespace berth::shim
