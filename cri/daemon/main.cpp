// berthd: a Kubernetes CRI v1 server on a unix socket. This part serves the
// ImageService (pulls into berth's own image store) and Version; pods and
// containers come with the RuntimeService (issue 14).
//
// berthd is multi-threaded (gRPC's) and never forks into namespaces: the
// namespace work belongs to the per-pod berth-shim it will spawn.
#include "berth_config.h"
#include "daemon_config.hpp"
#include "daemon.hpp"
#include "idle_memory.hpp"
#include "error.hpp"
#include "exit_watcher.hpp"
#include "fd.hpp"
#include "file_util.hpp"
#include "grpc_services.hpp"
#include "grpc_v1alpha2.hpp"
#include "runtime_ops.hpp"
#include "stream_server.hpp"
#include "log.hpp"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>

#include <fcntl.h>
#include <sys/file.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <unordered_map>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace berth;
using namespace berth::cri;

namespace {

void mkdirs(const std::string& path, mode_t mode) {
    for (size_t i = 1; i <= path.size(); ++i) {
        if (i != path.size() && path[i] != '/') continue;
        std::string p = path.substr(0, i);
        if (::mkdir(p.c_str(), mode) < 0 && errno != EEXIST) throw_errno("create " + p);
    }
}

// A socket at path that answers: another berthd (or something else) owns it.
bool live_socket(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return live;
}

void prepare_socket_path(const std::string& path) {
    if (path.size() >= sizeof(sockaddr_un::sun_path))
        throw Error(ENAMETOOLONG, "listen " + path + ": longer than a unix socket path may be (107 bytes)");
    mkdirs(path.substr(0, path.rfind('/')), 0711);
    struct stat st;
    if (::lstat(path.c_str(), &st) < 0) return;
    if (!S_ISSOCK(st.st_mode)) throw Error(EEXIST, "listen " + path + ": exists and is not a socket");
    if (live_socket(path)) throw Error(EADDRINUSE, "listen " + path + ": another server is listening there");
    ::unlink(path.c_str());   // stale, from a berthd that died
}

void set_socket_owner(const std::string& path, const std::string& group) {
    if (group.empty()) return;
    struct group* g = ::getgrnam(group.c_str());
    if (!g) throw Error(EINVAL, "socket_group: no group \"" + group + "\"");
    if (::chown(path.c_str(), 0, g->gr_gid) < 0) throw_errno("chown " + path + " to group " + group);
}

// systemd socket activation (contrib/systemd/berthd.socket): the listening
// socket is fd 3 when LISTEN_PID is ours. -1 when not activated.
int activated_socket() {
    const char* pid = std::getenv("LISTEN_PID");
    const char* fds = std::getenv("LISTEN_FDS");
    if (!pid || !fds || std::atol(pid) != ::getpid()) return -1;
    if (std::atoi(fds) != 1) throw Error(EINVAL, "socket activation: expected 1 socket (LISTEN_FDS=" + std::string(fds) + ")");
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
        throw Error(EINVAL, "socket activation: fd 3 is not a stream socket");
    ::fcntl(3, F_SETFD, FD_CLOEXEC);
    return 3;
}

// Tell systemd (Type=notify) we serve; nothing without NOTIFY_SOCKET.
void notify_ready() {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path) return;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    if (a.sun_path[0] == '@') a.sun_path[0] = '\0';   // abstract
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    const char msg[] = "READY=1";
    ::sendto(fd, msg, sizeof msg - 1, 0, reinterpret_cast<sockaddr*>(&a),
             static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(path)));
    ::close(fd);
}

// Every connection on berthd's socket (its own, or the one systemd passed)
// is accepted here: its caller's credentials are read (Peers), then gRPC
// gets it by fd. gRPC can't listen on an fd it did not bind, and would not
// tell who is calling if it did.
class Acceptor {
public:
    Acceptor(int listen_fd, grpc::Server* server, Peers& peers) : fd_(listen_fd), server_(server), peers_(peers) {
        thread_ = std::thread([this] { loop(); });
    }
    ~Acceptor() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
    }

private:
    void loop() {
        while (!stop_) {
            int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);   // gRPC reads it non-blocking
            if (c < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                if (!stop_) log::error(std::string("accept on berthd's socket: ") + std::strerror(errno));
                return;
            }
            try {
                peers_.add(c);
            } catch (const Error& e) {
                log::warn(std::string("a connection without credentials, closed: ") + e.what());
                ::close(c);
                continue;
            }
            grpc::AddInsecureChannelFromFd(server_, c);
        }
    }
    int fd_;
    grpc::Server* server_;
    Peers& peers_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// berthd's own socket at path, mode 0660 from the start (no window with
// the umask's bits).
UniqueFd listen_unix(const std::string& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("listen " + path + ": socket");
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    mode_t old = ::umask(0117);
    int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    int err = errno;
    ::umask(old);
    if (rc < 0) throw Error(err, "listen " + path + ": bind");
    if (::listen(fd.get(), 128) < 0) throw_errno("listen " + path);
    return fd;
}

// One berthd per root: a second one would share records, layers and pod
// shims with the first and undo its work. The lock is held for the
// process's life (the fd is inherited by nothing: O_CLOEXEC).
UniqueFd lock_root(const std::string& root) {
    std::string path = root + "/berthd.lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) throw_errno("open " + path);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK) throw_errno("lock " + path);
        std::string holder;
        char buf[32] = {};
        if (::pread(fd.get(), buf, sizeof buf - 1, 0) > 0) holder = " (pid " + std::string(buf) + ")";
        while (!holder.empty() && (holder.back() == '\n')) holder.pop_back();
        throw Error(EBUSY, "root " + root + ": another berthd uses it" + holder + "; give each berthd its own --root");
    }
    std::string pid = std::to_string(::getpid());
    if (::ftruncate(fd.get(), 0) == 0) (void)!::pwrite(fd.get(), pid.data(), pid.size(), 0);
    return fd;
}

std::string config_names(const ExecConfigs& c) {
    if (c.empty()) return "none";
    std::string s;
    for (const auto& [name, _] : c) s += (s.empty() ? "" : ", ") + name;
    return s;
}

int run(const Config& cfg) {
    set_malloc_thresholds();   // before any thread starts
    log::set_level(cfg.log_level);
    mkdirs(cfg.root, 0711);
    UniqueFd root_lock = lock_root(cfg.root);
    mkdirs(cfg.state, 0711);
    int activated = activated_socket();
    UniqueFd own_socket;
    if (activated < 0) {
        prepare_socket_path(cfg.listen);
        own_socket = listen_unix(cfg.listen);
        set_socket_owner(cfg.listen, cfg.socket_group);
    }
    const int listen_fd = activated >= 0 ? activated : own_socket.get();

    // Signals go to sigwait() below, not to gRPC's threads.
    sigset_t sigs;
    sigemptyset(&sigs);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&sigs, s);
    ::pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    Daemon d(cfg);
    recover_pods(d);  // what a killed berthd left half done, and dead shims
    d.request_gc();   // what a crash left: ingests, half-unpacked layers
    ImageServiceV1 images(d);
    RuntimeServiceV1 runtime(d);
    ImageServiceV1alpha2 images_v1alpha2(images);
    RuntimeServiceV1alpha2 runtime_v1alpha2(runtime);
    ImagesV1 berth_images(d);   // berth.v1: load, save, pull with progress
    ExecutionsV1 executions(d); // berth.v1: workloads under execution configurations
    int tls_port = 0;
    auto stream_backend = make_stream_backend(d);
    stream::StreamServer streams(cfg.stream.address, *stream_backend);
    d.streams = &streams;

    grpc::ServerBuilder b;   // the unix socket's connections come from Acceptor
    if (!cfg.tls.address.empty()) {
        // TCP with mutual TLS: the handshake itself refuses a client without
        // a certificate the CA signed (or with an expired one).
        std::unordered_map<std::string, Caller> clients;
        for (const auto& [cn, cl] : cfg.tls.clients) clients.emplace(cn, tls_caller(cn, cl.user, cl.groups));
        d.peers.set_tls_clients(std::move(clients));
        grpc::SslServerCredentialsOptions o(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
        o.pem_root_certs = read_file(cfg.tls.ca);
        grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
        pair.private_key = read_file(cfg.tls.key);
        pair.cert_chain = read_file(cfg.tls.cert);
        o.pem_key_cert_pairs.push_back(std::move(pair));
        b.AddListeningPort(cfg.tls.address, grpc::SslServerCredentials(o), &tls_port);
    }
    b.RegisterService(&images);
    b.RegisterService(&runtime);
    b.RegisterService(&images_v1alpha2);
    b.RegisterService(&runtime_v1alpha2);
    b.RegisterService(&berth_images);
    b.RegisterService(&executions);
    b.SetMaxReceiveMessageSize(16 << 20);
    std::unique_ptr<grpc::Server> server = b.BuildAndStart();
    if (!server) throw Error(EADDRNOTAVAIL, "listen " + cfg.listen + ": gRPC could not start");
    if (!cfg.tls.address.empty() && tls_port == 0)
        throw Error(EADDRNOTAVAIL, "tls.address " + cfg.tls.address + ": could not listen there");
    auto acceptor = std::make_unique<Acceptor>(listen_fd, server.get(), d.peers);
    log::info(std::string("berthd ") + BERTH_VERSION + " serving CRI v1 and v1alpha2 on " +
              (activated >= 0 ? "the socket systemd passed (" + cfg.listen + ")" : cfg.listen) + " (root " +
              cfg.root + ", state " + cfg.state + "); streaming on " + streams.base_url() +
              (cfg.tls.address.empty() ? "" : "; mutual TLS on " + cfg.tls.address));
    if (!cfg.configs.empty()) log::info("execution configs: " + config_names(cfg.configs));
    notify_ready();
    ExitWatcher exits(d, d.cfg.runtime.exit_sweep_interval);
    // Start-up's pages go back now; what requests brought in goes back at
    // each kIdleRelease without a signal, when berthd holds 1 MiB more than
    // it did after start-up (a busy berthd pays a few minor faults for it).
    constexpr struct timespec kIdleRelease = {10, 0};
    release_idle_memory();
    const long released_rss = resident_pages();

    for (;;) {
        int sig = ::sigtimedwait(&sigs, nullptr, &kIdleRelease);
        if (sig < 0) {
            if (errno == EAGAIN && resident_pages() > released_rss + (1 << 20) / ::sysconf(_SC_PAGESIZE)) {   // 1 MiB more
                release_idle_memory();
            }
            continue;
        }
        if (sig == SIGHUP) {
            // Only the execution configurations reload; running workloads
            // keep what they started with.
            try {
                ExecConfigs next = reload_exec_configs(d.cfg);
                log::info("SIGHUP: execution configs reloaded: " + config_names(next));
                d.set_exec_configs(std::move(next));
            } catch (const Error& e) {
                log::error(std::string("SIGHUP: execution configs not reloaded, the last good set stays (") +
                           config_names(*d.exec_configs()) + "): " + e.what());
            }
            continue;
        }
        log::info(std::string("shutting down on ") + ::strsignal(sig));
        break;
    }
    acceptor.reset();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server->Wait();
    if (activated < 0) ::unlink(cfg.listen.c_str());   // systemd owns an activated socket
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        bool help = false, version = false;
        auto flags = parse_flags(argc, argv, help, version);
        if (help) {
            std::fputs(usage().c_str(), stdout);
            return 0;
        }
        if (version) {
            std::printf("berthd version %s\nCRI API v1\n", BERTH_VERSION);
            return 0;
        }
        return run(load_config(flags));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "berthd: %s\n", e.what());
        return 1;
    }
}
