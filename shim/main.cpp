// berth-shim: containerd's shim v2 for berth (runtime io.containerd.berth.v2,
// installed as containerd-shim-berth-v2). containerd runs
//   containerd-shim-berth-v2 -namespace NS -address ADDR -publish-binary BIN -id ID start
// (cwd = the bundle; containerd 2.3+ adds BootstrapParams on stdin): we
// daemonize a server on a unix socket and print its address (as a
// BootstrapResult for 2.3+, bootstrap.hpp); containerd then drives it over
// ttrpc (task_service.hpp). After a crashed shim, `... -bundle DIR delete`
// cleans up and prints a DeleteResponse; `-info` prints a RuntimeInfo. One
// shim serves a whole pod when the CRI sandbox annotation groups its
// containers.
//
// berthd runs one shim per pod: `berth-shim -pod -namespace berthd -id POD
// start` (cwd = the pod's dir, no containerd: events go nowhere). It also
// serves berth.shim.v1.Pod (pod_service.hpp), and exits only on
// Task.Shutdown once no container is left and the pod's namespaces are
// unpinned, or on SIGTERM.
#include "berth_config.h"
#include "bootstrap.hpp"
#include "config.hpp"
#include "container.hpp"
#include "error.hpp"
#include "exe_guard.hpp"
#include "event_loop.hpp"
#include "idle_memory.hpp"
#include "file_util.hpp"
#include "log.hpp"
#include "netns_connect.hpp"
#include "pod_service.hpp"
#include "publisher.hpp"
#include "server.hpp"
#include "task.pb.h"
#include "task_service.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

using namespace berth;
using namespace berth::shim;

namespace {

struct Opts {
    std::string ns, address, publish_binary, id, bundle, socket;
    std::string ttrpc_address;   // containerd's, for events
    bool debug = false, version = false, info = false;
    bool pod = false;   // berthd's per-pod shim
    std::span<char> title;   // our argv area (the pod init renames itself there)
    std::string action;
};

// Go's flag syntax, as containerd passes it: -name value, -name=value,
// --name value; bool flags take no value. The first non-flag is the action.
Opts parse_args(int argc, char** argv) {
    Opts o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.size() < 2 || a[0] != '-') {
            o.action = a;
            break;
        }
        std::string name = a.substr(a[1] == '-' ? 2 : 1), value;
        bool has_value = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            has_value = true;
        }
        auto take = [&]() -> std::string {
            if (has_value) return value;
            if (i + 1 >= argc) throw Error(EINVAL, "flag -" + name + " needs a value");
            return argv[++i];
        };
        if (name == "debug") o.debug = true;
        else if (name == "pod") o.pod = true;
        else if (name == "v" || name == "version") o.version = true;
        else if (name == "info") o.info = true;
        else if (name == "namespace") o.ns = take();
        else if (name == "address") o.address = take();
        else if (name == "publish-binary") o.publish_binary = take();
        else if (name == "id") o.id = take();
        else if (name == "bundle") o.bundle = take();
        else if (name == "socket") o.socket = take();
        else if (name == "debug-socket") take();
        else throw Error(EINVAL, "unknown flag -" + name);
    }
    if (o.ns.empty()) {
        const char* e = std::getenv("NAMESPACE");
        o.ns = e ? e : "default";
    }
    if (const char* e = std::getenv("TTRPC_ADDRESS")) o.ttrpc_address = e;
    return o;
}

std::string base_dir() {
    const char* e = std::getenv("BERTH_SHIM_ROOT");
    return e && *e ? e : "/run/berth-shim";
}

std::string cwd() {
    char buf[PATH_MAX];
    if (!::getcwd(buf, sizeof buf)) throw_errno("getcwd");
    return buf;
}

void mkdirs(const std::string& path, mode_t mode) {
    std::string cur;
    for (size_t pos = 1; pos <= path.size(); ++pos) {
        if (pos == path.size() || path[pos] == '/') {
            cur = path.substr(0, pos);
            if (::mkdir(cur.c_str(), mode) < 0 && errno != EEXIST) throw_errno("mkdir " + cur);
        }
    }
}

// The socket of the shim serving `group` for this containerd and namespace.
std::string socket_path(const Opts& o, const std::string& group) {
    uint64_t h = 1469598103934665603ull;   // FNV-1a 64
    for (const std::string* s : {&o.address, &o.ns, &group}) {
        for (unsigned char c : *s + '\0') {
            h ^= c;
            h *= 1099511628211ull;
        }
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return base_dir() + "/s/" + hex;
}

sockaddr_un unix_addr(const std::string& path) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) throw Error(ENAMETOOLONG, "socket path " + path);
    std::memcpy(sa.sun_path, path.data(), path.size());
    return sa;
}

bool connectable(const std::string& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto sa = unix_addr(path);
    return fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
}

// The pod this container belongs to (containerd's CRI annotation): its
// containers share the sandbox's shim.
std::string group_of(const Opts& o, const std::string& bundle) {
    try {
        auto cfg = spec::parse_config(read_file(bundle + "/config.json"), "config.json");
        for (const char* key : {"io.kubernetes.cri.sandbox-id", "io.kubernetes.cri-o.SandboxID"}) {
            auto it = cfg.annotations.find(key);
            if (it != cfg.annotations.end() && !it->second.empty()) return it->second;
        }
    } catch (const Error&) {
    }
    return o.id;
}

void rmdir_if_empty(const std::string& p) { ::rmdir(p.c_str()); }

long monotonic_ms() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int serve(const Opts& o, UniqueFd listener, const std::string& sock) {
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPIPE}) sigaddset(&mask, s);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    sigset_t watched;
    sigemptyset(&watched);
    for (int s : {SIGCHLD, SIGTERM, SIGINT}) sigaddset(&watched, s);
    UniqueFd sfd(::signalfd(-1, &watched, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sfd) throw_errno("signalfd");
    // Orphans in a container without its own pid namespace come to us.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) throw_errno("become child subreaper");

    EventLoop loop;
    Publisher pub(loop, o.ttrpc_address, o.publish_binary, o.address, o.ns);
    RuntimeContext ctx;
    ctx.root = base_dir() + "/" + o.ns;
    TaskService svc(loop, ctx, o.ns, pub);
    PodService pod(loop, svc, o.title);
    if (o.pod) svc.set_pod(&pod);
    TtrpcServer server(loop, std::move(listener), [&](const CallRef& c, const berth::ttrpc::Request& r) {
        svc.handle(c, r);
    });
    svc.set_server(&server);
    pod.set_server(&server);
    loop.add(sfd.get(), EPOLLIN, [&](uint32_t) {
        signalfd_siginfo si;
        bool term = false;
        while (::read(sfd.get(), &si, sizeof si) == sizeof si)
            if (si.ssi_signo != SIGCHLD) term = true;
        svc.reap();
        if (term) {
            log_info("terminated: deleting what this shim owns");
            svc.teardown();
            loop.stop();
        }
    });
    log_info("serving on " + sock);
    // After each burst of work (the start-up included), once nothing has
    // happened for idle_release_ms, give back what the burst left resident.
    constexpr int idle_release_ms = 1000;
    // Nothing to serve and nobody connected: once the last container is
    // deleted, exit; a shim that never got one waits unused_grace_ms first
    // (a manager may probe, disconnect and come back to create), so one
    // whose manager died between start and Create does not live forever.
    constexpr long unused_grace_ms = 30000;
    long unused_since = -1;
    bool busy = true;
    while (!loop.stopped()) {
        int timeout = busy ? idle_release_ms : -1;
        if (unused_since >= 0) {
            long left = std::max(0L, unused_since + unused_grace_ms - monotonic_ms());
            timeout = timeout < 0 ? static_cast<int>(left) : std::min(timeout, static_cast<int>(left));
        }
        if (loop.run_once(timeout) > 0) {
            busy = true;
        } else if (busy) {
            release_idle_memory();
            busy = false;
        }
        if (o.pod) {
            // Only Shutdown or SIGTERM ends a pod's shim.
        } else if (server.connections() != 0 || !svc.empty()) {
            unused_since = -1;
        } else if (svc.served_containers()) {
            loop.stop();
        } else if (unused_since < 0) {
            unused_since = monotonic_ms();
        } else if (monotonic_ms() - unused_since >= unused_grace_ms) {
            log_info("no container created in " + std::to_string(unused_grace_ms / 1000) + " s: exiting");
            loop.stop();
        }
    }
    ::unlink(sock.c_str());
    rmdir_if_empty(ctx.root);
    rmdir_if_empty(base_dir() + "/s");
    rmdir_if_empty(base_dir());
    log_info("exiting");
    return 0;
}

// stdin of start and -info: containerd writes a few hundred bytes and
// closes it.
constexpr size_t max_input = 1 << 20;
constexpr int input_timeout_ms = 5000;

// containerd 2.3+ passes its parameters as BootstrapParams on stdin; what
// it sends wins over the flags and env (kept for older containerd).
void apply(Opts& o, const BootstrapParams& p) {
    if (!p.ttrpc_address.empty()) o.ttrpc_address = p.ttrpc_address;
    if (!p.grpc_address.empty()) o.address = p.grpc_address;
    if (!p.containerd_binary.empty()) o.publish_binary = p.containerd_binary;
    if (p.log_level < 0) o.debug = true;
}

void print_reply(bool modern, const std::string& address) {
    std::string out = start_reply(modern, address);
    std::fwrite(out.data(), 1, out.size(), stdout);
}

// A plain fork, so the daemon inherits what apply() learnt from stdin.
int do_start(Opts o) {
    if (o.id.empty()) throw Error(EINVAL, "start: -id is required");
    auto params = parse_bootstrap(read_input(STDIN_FILENO, max_input, input_timeout_ms), o.id, o.ns);
    if (params) apply(o, *params);
    std::string bundle = cwd();
    std::string sock = socket_path(o, o.pod ? o.id : group_of(o, bundle));
    std::string address = "unix://" + sock;
    mkdirs(base_dir() + "/s", 0711);
    if (connectable(sock)) {
        // The pod's shim already runs: this container joins it.
        write_file_atomic(bundle + "/address", address, 0600);
        print_reply(params.has_value(), address);
        return 0;
    }
    ::unlink(sock.c_str());   // stale, from a shim that died
    UniqueFd l(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!l) throw_errno("socket");
    auto sa = unix_addr(sock);
    if (::bind(l.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) throw_errno("bind " + sock);
    ::chmod(sock.c_str(), 0600);
    if (::listen(l.get(), 64) < 0) throw_errno("listen " + sock);

    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) {
        // The daemon: containerd waits for EOF on start's stdout, so our
        // stdio goes to /dev/null before anything else.
        int null = ::open("/dev/null", O_RDWR);
        for (int i = 0; i < 3; ++i) ::dup2(null, i);
        if (null > 2) ::close(null);
        ::setsid();
        UniqueFd logfd(::open((bundle + "/log").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        set_log_fd(logfd.get(), o.debug);
        if (::chdir("/") < 0) _exit(1);
        int rc = 1;
        try {
            rc = serve(o, std::move(l), sock);
        } catch (const std::exception& e) {
            log_error(e.what());
            ::unlink(sock.c_str());
        }
        _exit(rc);
    }
    write_file_atomic(bundle + "/address", address, 0600);
    print_reply(params.has_value(), address);
    return 0;
}

int do_delete(const Opts& o) {
    if (o.id.empty()) throw Error(EINVAL, "delete: -id is required");
    std::string bundle = o.bundle.empty() ? cwd() : o.bundle;
    RuntimeContext ctx;
    ctx.root = base_dir() + "/" + o.ns;
    try {
        delete_container(ctx, o.id, true);
    } catch (const Error& e) {
        std::fprintf(stderr, "berth-shim: delete %s: %s\n", o.id.c_str(), e.what());
    }
    unmount_rootfs(bundle + "/rootfs");
    auto rec = read_exit_record(exit_record_path(bundle));
    berth::task::DeleteResponse r;
    timespec at;
    ::clock_gettime(CLOCK_REALTIME, &at);
    r.set_exit_status(rec ? rec->status : 128 + SIGKILL);
    r.set_pid(rec ? static_cast<uint32_t>(rec->pid) : 0);
    if (rec) at = rec->at;
    r.mutable_exited_at()->set_seconds(at.tv_sec);
    r.mutable_exited_at()->set_nanos(static_cast<int32_t>(at.tv_nsec));
    std::string out = r.SerializeAsString();
    std::fwrite(out.data(), 1, out.size(), stdout);
    // The dead shim's socket, unless the pod's shim still serves on it.
    std::string sock = socket_path(o, group_of(o, bundle));
    if (!connectable(sock)) ::unlink(sock.c_str());
    rmdir_if_empty(ctx.root);
    rmdir_if_empty(base_dir() + "/s");
    rmdir_if_empty(base_dir());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    // berthd's port-forward connect: before anything else of the shim's.
    if (argc == 4 && std::strcmp(argv[1], "netns-connect") == 0) return berth::shim::netns_connect(argv[2], argv[3]);
    try {
        Opts o = parse_args(argc, argv);
        if (argc > 0) o.title = std::span<char>(argv[0], argv[argc - 1] + std::strlen(argv[argc - 1]) + 1);
        if (o.version) {
            std::printf("berth-shim (containerd-shim-berth-v2) version %s\n", BERTH_VERSION);
            return 0;
        }
        if (o.info) {
            // containerd's introspection: RuntimeInfo, given optional runtime options.
            std::string out = runtime_info(read_input(STDIN_FILENO, max_input, input_timeout_ms), BERTH_VERSION,
                                           features_json());
            std::fwrite(out.data(), 1, out.size(), stdout);
            return 0;
        }
        if (o.action == "start") {
            // The daemon clones every container process of its pod: it runs
            // from a protected binary (exe_guard.hpp). Before stdin is read,
            // as the re-executed start reads it again.
            berth::ensure_protected_exe(argv);
            berth::restore_process_name(argv[0]);
            return do_start(o);
        }
        if (o.action == "delete") return do_delete(o);
        throw Error(EINVAL, o.action.empty() ? "no action: use start or delete (containerd runs this)"
                                             : "unknown action " + o.action);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "berth-shim: %s\n", e.what());
        return 1;
    }
}
