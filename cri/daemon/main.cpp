// berthd: a Kubernetes CRI v1 server on a unix socket. This part serves the
// ImageService (pulls into berth's own image store) and Version; pods and
// containers come with the RuntimeService (issue 14).
//
// berthd is multi-threaded (gRPC's) and never forks into namespaces: the
// namespace work belongs to the per-pod berth-shim it will spawn.
#include "berth_config.h"
#include "config.hpp"
#include "daemon.hpp"
#include "error.hpp"
#include "grpc_services.hpp"
#include "log.hpp"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

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

int run(const Config& cfg) {
    log::set_level(cfg.log_level);
    mkdirs(cfg.root, 0711);
    mkdirs(cfg.state, 0711);
    prepare_socket_path(cfg.listen);

    // Signals go to sigwait() below, not to gRPC's threads.
    sigset_t sigs;
    sigemptyset(&sigs);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&sigs, s);
    ::pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    Daemon d(cfg);
    d.request_gc();   // what a crash left: ingests, half-unpacked layers
    ImageServiceV1 images(d);
    RuntimeServiceV1 runtime(d);

    grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + cfg.listen, grpc::InsecureServerCredentials());
    b.RegisterService(&images);
    b.RegisterService(&runtime);
    b.SetMaxReceiveMessageSize(16 << 20);
    // The socket is made 0660 from the start (no window with the umask's bits).
    mode_t old = ::umask(0117);
    std::unique_ptr<grpc::Server> server = b.BuildAndStart();
    ::umask(old);
    if (!server) throw Error(EADDRNOTAVAIL, "listen " + cfg.listen + ": gRPC could not serve on it");
    set_socket_owner(cfg.listen, cfg.socket_group);
    log::info(std::string("berthd ") + BERTH_VERSION + " serving CRI v1 on " + cfg.listen + " (root " + cfg.root +
              ", state " + cfg.state + ")");

    for (;;) {
        int sig = 0;
        if (::sigwait(&sigs, &sig) != 0) continue;
        if (sig == SIGHUP) {
            log::info("SIGHUP: nothing to reload");
            continue;
        }
        log::info(std::string("shutting down on ") + ::strsignal(sig));
        break;
    }
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server->Wait();
    ::unlink(cfg.listen.c_str());
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
