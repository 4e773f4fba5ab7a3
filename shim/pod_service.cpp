#include "pod_service.hpp"

#include "error.hpp"
#include "log.hpp"
#include "pod.pb.h"
#include "pod_init.hpp"
#include "procfs.hpp"
#include "rpc_error.hpp"
#include "task_service.hpp"
#include "ttrpc.pb.h"

#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

namespace berth::shim {

namespace pod = berth::shim::v1;
using berth::ttrpc::Code;

namespace {

// The pin file each namespace gets under DIR, with its clone flag.
struct NsKind {
    const char* oci;
    const char* file;
    int flag;
};
constexpr NsKind ns_kinds[] = {
    {"network", "net", CLONE_NEWNET},
    {"ipc", "ipc", CLONE_NEWIPC},
    {"uts", "uts", CLONE_NEWUTS},
    {"pid", "pid", CLONE_NEWPID},
};

const NsKind* ns_kind(const std::string& oci) {
    for (const auto& k : ns_kinds)
        if (oci == k.oci) return &k;
    return nullptr;
}

// A sysctl key in dot form (kubernetes allows "net/ipv4/ip_forward" too,
// and, in dot form, '/' for a dot inside a name: "net.ipv4.conf.eth0/1.rp_filter").
std::string swap_separators(std::string s) {
    for (char& c : s) c = c == '.' ? '/' : c == '/' ? '.' : c;
    return s;
}

// The namespace a sysctl belongs to (runc's and the kernel's list), or
// nullptr when it is not namespaced.
const char* sysctl_namespace(const std::string& key) {
    static const std::set<std::string> ipc = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
                                              "kernel.sem",    "kernel.shmall", "kernel.shmmax",
                                              "kernel.shmmni", "kernel.shm_rmid_forced"};
    if (key.rfind("net.", 0) == 0) return "network";
    if (ipc.count(key) || key.rfind("fs.mqueue.", 0) == 0) return "ipc";
    if (key == "kernel.hostname" || key == "kernel.domainname") return "uts";
    return nullptr;
}

// /proc/sys/PATH for a key; throws RpcError for a malformed one.
std::string sysctl_path(const std::string& key, std::string& dotted) {
    size_t sep = key.find_first_of("./");
    dotted = sep != std::string::npos && key[sep] == '/' ? swap_separators(key) : key;
    std::string rel = swap_separators(dotted);
    std::stringstream ss(rel);
    std::string part;
    size_t parts = 0;
    while (std::getline(ss, part, '/')) {
        if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string::npos)
            fail(berth::ttrpc::invalid_argument, "sysctls: key \"" + key + "\" is malformed");
        ++parts;
    }
    if (parts < 2 || rel.back() == '/') fail(berth::ttrpc::invalid_argument, "sysctls: key \"" + key + "\" is malformed");
    return "sys/" + rel;
}

uint32_t wait_code(int ws) {
    if (WIFEXITED(ws)) return static_cast<uint32_t>(WEXITSTATUS(ws));
    if (WIFSIGNALED(ws)) return 128u + static_cast<uint32_t>(WTERMSIG(ws));
    return 255;
}

template <class Msg>
Msg parse(const std::string& payload) {
    Msg m;
    if (!m.ParseFromString(payload)) fail(berth::ttrpc::invalid_argument, "malformed request");
    return m;
}

// mountinfo's octal escapes (\040 for a space).
std::string unescape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// The root field of the topmost mount at path (an absolute, resolved
// path), if something is mounted there.
std::optional<std::string> mount_root_at(const std::string& path) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    std::optional<std::string> root;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string id, parent, dev, r, mp;
        if (!(ls >> id >> parent >> dev >> r >> mp)) continue;
        if (unescape(mp) == path) root = unescape(r);
    }
    return root;
}

// Detach everything mounted at path (a pin may have been mounted twice).
void detach_all(const std::string& path) {
    for (int i = 0; i < 16; ++i)
        if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) < 0) return;
}

// DIR's own mount: a bind of a directory (root is not "/"), ours.
bool dir_self_bound(const std::string& real_dir) {
    auto root = mount_root_at(real_dir);
    return root && *root != "/";
}

std::string real_dir(const std::string& dir) {
    if (dir.empty() || dir[0] != '/') fail(berth::ttrpc::invalid_argument, "dir: \"" + dir + "\" is not an absolute path");
    char buf[PATH_MAX];
    if (!::realpath(dir.c_str(), buf)) throw_errno("dir " + dir);
    struct stat st;
    if (::stat(buf, &st) < 0) throw_errno("dir " + dir);
    if (!S_ISDIR(st.st_mode)) fail(berth::ttrpc::invalid_argument, "dir: " + dir + " is not a directory");
    return buf;
}

// ---------------------------------------------------------- the pin child
// What the child reports: 0 and the init's pid, or an errno and the step.
struct Report {
    int32_t err = 0;
    int32_t init_pid = 0;
    char what[512] = {};
};

struct PinPlan {
    int flags = 0;
    std::string names;   // for errors: "network,uts"
    bool net = false, pid = false;
    std::string hostname;
    std::vector<std::pair<std::string, std::string>> sysctls;   // (key, path under /proc)
    std::vector<std::string> values;
};

void loopback_up() {
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) throw_errno("bring up lo: socket");
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) < 0) throw_errno("bring up lo: SIOCGIFFLAGS");
    ifr.ifr_flags |= IFF_UP;
    if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) < 0) throw_errno("bring up lo: SIOCSIFFLAGS");
}

[[noreturn]] void pin_child(int sock, const PinPlan& plan, std::span<char> title) {
    Report r;
    pid_t init = 0;
    try {
        if (::unshare(plan.flags) < 0) throw_errno("unshare " + plan.names);
        if (!plan.hostname.empty() && ::sethostname(plan.hostname.data(), plan.hostname.size()) < 0)
            throw_errno("sethostname " + plan.hostname);
        // The CNI loopback plugin does the same; a pod without CNI (or
        // before its ADD) still has a working localhost.
        if (plan.net) loopback_up();
        for (size_t i = 0; i < plan.sysctls.size(); ++i)
            with_context("sysctl " + plan.sysctls[i].first, [&] { write_procfs(plan.sysctls[i].second, plan.values[i]); });
        if (plan.pid) init = start_pod_init(title);
    } catch (const std::exception& e) {
        auto* be = dynamic_cast<const Error*>(&e);
        r.err = be && be->err() ? be->err() : EIO;
        std::snprintf(r.what, sizeof r.what, "%s", e.what());
        if (init > 0) ::kill(init, SIGKILL);
        ::send(sock, &r, sizeof r, MSG_NOSIGNAL);
        _exit(1);
    }
    r.init_pid = init;
    if (::send(sock, &r, sizeof r, MSG_NOSIGNAL) != sizeof r) {
        if (init > 0) ::kill(init, SIGKILL);
        _exit(1);
    }
    // Alive (so /proc/SELF/ns/* stays valid) until the shim has mounted them.
    char b;
    while (::read(sock, &b, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
}

void reap_blocking(pid_t pid) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

// Undo of a PinNamespaces that failed part-way, newest first.
struct PinUndo {
    std::vector<std::string> mounted, created;
    std::string self_bind;
    pid_t init = 0;
    bool armed = true;
    ~PinUndo() {
        if (!armed) return;
        for (auto it = mounted.rbegin(); it != mounted.rend(); ++it) detach_all(*it);
        for (const auto& f : created) ::unlink(f.c_str());
        if (!self_bind.empty()) ::umount2(self_bind.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
        if (init > 0) {
            // Our child (CLONE_PARENT): nothing else of the pod runs in its
            // pid namespace yet, so it dies at once.
            ::kill(init, SIGKILL);
            reap_blocking(init);
        }
    }
};

} // namespace

PodService::PodService(EventLoop& loop, TaskService& tasks, std::span<char> title)
    : loop_(loop), tasks_(tasks), title_(title) {}

PodService::~PodService() {
    for (auto& [pid, x] : execs_) {
        if (x->out) loop_.remove(x->out.get());
        if (x->err) loop_.remove(x->err.get());
    }
}

std::string PodService::dispatch(const CallRef& call, const std::string& m, const std::string& payload,
                                 bool& deferred) {
    if (m == "PinNamespaces") return pin(payload);
    if (m == "UnpinNamespaces") return unpin(call, payload, deferred);
    if (m == "ExecSync") return exec_sync(call, payload, deferred);
    fail(berth::ttrpc::unimplemented, "berth.shim.v1.Pod/" + m + " not implemented");
}

std::string PodService::pin(const std::string& payload) {
    auto r = parse<pod::PinNamespacesRequest>(payload);
    const std::string dir = real_dir(r.dir());
    PinPlan plan;
    std::set<std::string> asked;
    for (const auto& n : r.namespaces()) {
        const NsKind* k = ns_kind(n);
        if (!k) fail(berth::ttrpc::invalid_argument, "namespaces: unknown namespace \"" + n + "\" (network, ipc, uts, pid)");
        if (!asked.insert(n).second) fail(berth::ttrpc::invalid_argument, "namespaces: \"" + n + "\" given twice");
        plan.flags |= k->flag;
        plan.names += (plan.names.empty() ? "" : ",") + n;
    }
    if (asked.empty()) fail(berth::ttrpc::invalid_argument, "namespaces: none given");
    plan.net = asked.count("network");
    plan.pid = asked.count("pid");
    if (!r.hostname().empty()) {
        if (!asked.count("uts")) fail(berth::ttrpc::invalid_argument, "hostname: needs the uts namespace");
        if (r.hostname().size() > HOST_NAME_MAX)
            fail(berth::ttrpc::invalid_argument, "hostname: longer than " + std::to_string(HOST_NAME_MAX) + " bytes");
        plan.hostname = r.hostname();
    }
    // In key order (the map's order on the wire is not defined).
    std::map<std::string, std::string> sysctls(r.sysctls().begin(), r.sysctls().end());
    for (const auto& [key, value] : sysctls) {
        std::string dotted;
        std::string path = sysctl_path(key, dotted);
        const char* ns = sysctl_namespace(dotted);
        if (!ns) fail(berth::ttrpc::invalid_argument, "sysctls: \"" + key + "\" is not a namespaced sysctl");
        if (!asked.count(ns))
            fail(berth::ttrpc::invalid_argument,
                 "sysctls: \"" + key + "\" belongs to the " + ns + " namespace, which this pod does not make");
        plan.sysctls.emplace_back(key, path);
        plan.values.push_back(value);
    }
    if (plan.pid && init_ > 0)
        fail(berth::ttrpc::already_exists, "namespaces: this shim already runs a pod init (pid " + std::to_string(init_) + ")");

    PinUndo undo;
    // The pins go under a private mount of DIR: a mount event under a
    // shared parent would reach its peers and slaves (other mount
    // namespaces, a container's rslave bind of the host), and copies there
    // would keep the namespaces alive; under a private DIR there is none.
    if (!dir_self_bound(dir)) {
        if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) < 0) throw_errno("bind mount " + dir + " on itself");
        undo.self_bind = dir;
    }
    if (::mount(nullptr, dir.c_str(), nullptr, MS_PRIVATE, nullptr) < 0) throw_errno("make " + dir + " private");

    int sp[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) throw_errno("socketpair");
    UniqueFd ours(sp[0]), theirs(sp[1]);
    pid_t child = ::fork();
    if (child < 0) throw_errno("fork");
    if (child == 0) {
        ours.reset();
        pin_child(theirs.get(), plan, title_);
    }
    theirs.reset();
    struct Child {
        pid_t pid;
        UniqueFd* sock;
        ~Child() {
            sock->reset();   // lets it exit
            reap_blocking(pid);
        }
    } child_guard{child, &ours};

    Report rep;
    pollfd p{ours.get(), POLLIN, 0};
    int pr;
    do {
        pr = ::poll(&p, 1, 30000);
    } while (pr < 0 && errno == EINTR);
    ssize_t n = pr > 0 ? ::recv(ours.get(), &rep, sizeof rep, 0) : -1;
    if (n != static_cast<ssize_t>(sizeof rep)) {
        ::kill(child, SIGKILL);
        throw Error(pr == 0 ? ETIMEDOUT : EIO, "pin namespaces: the child making them " +
                                                   std::string(pr == 0 ? "did not answer in 30 s" : "died"));
    }
    undo.init = rep.init_pid;
    if (rep.err != 0) {
        rep.what[sizeof rep.what - 1] = 0;
        throw Error(rep.err, std::string("pin namespaces: ") + rep.what);
    }

    pod::PinNamespacesResponse resp;
    for (const auto& k : ns_kinds) {
        if (!asked.count(k.oci)) continue;
        std::string target = dir + "/" + k.file;
        UniqueFd f(::open(target.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444));
        if (!f) throw_errno("pin " + std::string(k.oci) + ": create " + target);
        undo.created.push_back(target);
        pid_t owner = k.flag == CLONE_NEWPID ? rep.init_pid : child;
        std::string src = "/proc/" + std::to_string(owner) + "/ns/" + k.file;
        std::string onto = "/proc/self/fd/" + std::to_string(f.get());
        if (::mount(src.c_str(), onto.c_str(), nullptr, MS_BIND, nullptr) < 0)
            throw_errno("pin " + std::string(k.oci) + ": bind mount " + src + " on " + target);
        undo.mounted.push_back(target);
        (*resp.mutable_paths())[k.oci] = r.dir() + "/" + k.file;
    }
    undo.armed = false;
    pinned_.insert(dir);
    if (rep.init_pid > 0) {
        init_ = rep.init_pid;
        resp.set_init_pid(static_cast<uint32_t>(init_));
    }
    log_info("pinned " + std::to_string(resp.paths_size()) + " namespace(s) under " + dir +
             (init_ > 0 ? ", pod init pid " + std::to_string(init_) : ""));
    return resp.SerializeAsString();
}

std::string PodService::unpin(const CallRef& call, const std::string& payload, bool& deferred) {
    auto r = parse<pod::UnpinNamespacesRequest>(payload);
    if (r.dir().empty() || r.dir()[0] != '/') fail(berth::ttrpc::invalid_argument, "dir: \"" + r.dir() + "\" is not an absolute path");
    char buf[PATH_MAX];
    if (!::realpath(r.dir().c_str(), buf)) {
        if (errno != ENOENT) throw_errno("dir " + r.dir());
    } else {
        std::string dir = buf;
        for (const auto& k : ns_kinds) {
            std::string p = dir + "/" + k.file;
            detach_all(p);
            if (::unlink(p.c_str()) < 0 && errno != ENOENT) throw_errno("remove pin " + p);
        }
        if (dir_self_bound(dir) && ::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL)
            throw_errno("unmount " + dir);
        pinned_.erase(dir);
    }
    if (init_ > 0) {
        // Answered once it is reaped: its exit waits until every process of
        // its pid namespace is reaped, by us among others.
        ::kill(init_, SIGKILL);
        unpin_waiters_.push_back(call);
        deferred = true;
        return {};
    }
    return berth::ttrpc::Empty().SerializeAsString();
}

void PodService::init_gone() {
    log_info("pod init " + std::to_string(init_) + " reaped");
    init_ = 0;
    berth::ttrpc::Response resp;
    resp.set_payload(berth::ttrpc::Empty().SerializeAsString());
    for (const auto& w : unpin_waiters_) server_->reply(w, resp);
    unpin_waiters_.clear();
}

size_t PodService::output_cap(uint32_t max_output) {
    size_t cap = max_output ? max_output : default_max_output;
    constexpr size_t frame_share = (berth::ttrpc::max_berth_payload - 4096) / 2;
    return std::min(cap, frame_share);
}

std::string PodService::exec_sync(const CallRef& call, const std::string& payload, bool& deferred) {
    auto r = parse<pod::ExecSyncRequest>(payload);
    TaskService::Container* c = tasks_.find(r.id());
    if (!c) fail(berth::ttrpc::not_found, "container " + r.id() + ": not found");
    if (!c->init.started || c->init.reaped)
        fail(berth::ttrpc::failed_precondition,
             "container " + r.id() + " is not running (" + (c->init.reaped ? "stopped" : "created") + ")");
    spec::Process proc = spec::parse_process(r.process(), "process");
    proc.terminal = false;

    auto x = std::make_unique<SyncExec>();
    x->call = call;
    x->cap = output_cap(r.max_output());
    ChildStdio child;
    child.in.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!child.in) throw_errno("open /dev/null");
    int po[2], pe[2];
    if (::pipe2(po, O_CLOEXEC) < 0) throw_errno("pipe");
    x->out.reset(po[0]);
    child.out.reset(po[1]);
    if (::pipe2(pe, O_CLOEXEC) < 0) throw_errno("pipe");
    x->err.reset(pe[0]);
    child.err.reset(pe[1]);
    for (int fd : {x->out.get(), x->err.get()}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    pid_t pid = tasks_.spawn_exec(c->id, std::move(proc), child);
    child = ChildStdio();   // only the process holds the write ends now
    x->pid = pid;
    loop_.add(x->out.get(), EPOLLIN, [this, pid](uint32_t) {
        auto it = execs_.find(pid);
        if (it == execs_.end()) return;
        read_stream(*it->second, false);
        finish_if_done(pid);
    });
    loop_.add(x->err.get(), EPOLLIN, [this, pid](uint32_t) {
        auto it = execs_.find(pid);
        if (it == execs_.end()) return;
        read_stream(*it->second, true);
        finish_if_done(pid);
    });
    if (r.timeout_ms() > 0) {
        x->deadline = std::make_unique<Timer>(loop_, static_cast<int>(std::min<uint32_t>(r.timeout_ms(), INT_MAX)), [this, pid] {
            auto it = execs_.find(pid);
            if (it == execs_.end() || it->second->reaped) return;
            it->second->timed_out = true;
            // Still our unreaped child: the pid is its own.
            ::kill(pid, SIGKILL);
        });
    }
    execs_[pid] = std::move(x);
    deferred = true;
    return {};
}

// Read what the pipe holds now; keep up to the cap, drop the rest; close
// it at EOF.
void PodService::read_stream(SyncExec& x, bool err) {
    UniqueFd& fd = err ? x.err : x.out;
    std::string& buf = err ? x.err_buf : x.out_buf;
    char chunk[65536];
    while (fd) {
        ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            loop_.remove(fd.get());
            fd.reset();
            return;
        }
        size_t keep = std::min(static_cast<size_t>(n), x.cap - std::min(x.cap, buf.size()));
        buf.append(chunk, keep);
    }
}

void PodService::finish_if_done(pid_t pid) {
    auto it = execs_.find(pid);
    if (it == execs_.end()) return;
    SyncExec& x = *it->second;
    if (x.reaped && !x.out && !x.err) answer(pid);
}

// How long output may still come after the exit: a pipe still open then is
// held by something the process left behind, which is not waited for.
constexpr int exec_drain_grace_ms = 100;

bool PodService::collected(pid_t pid, int ws) {
    if (pid == init_) {
        init_gone();
        return true;
    }
    auto it = execs_.find(pid);
    if (it == execs_.end()) return false;
    SyncExec& x = *it->second;
    x.reaped = true;
    x.exit_code = static_cast<int>(wait_code(ws));
    x.deadline.reset();
    // Everything it wrote is in the pipes now.
    read_stream(x, false);
    read_stream(x, true);
    if (!x.out && !x.err) {
        answer(pid);
        return true;
    }
    x.grace = std::make_unique<Timer>(loop_, exec_drain_grace_ms, [this, pid] {
        auto it = execs_.find(pid);
        if (it == execs_.end()) return;
        read_stream(*it->second, false);
        read_stream(*it->second, true);
        answer(pid);
    });
    return true;
}

void PodService::answer(pid_t pid) {
    auto it = execs_.find(pid);
    if (it == execs_.end()) return;
    std::unique_ptr<SyncExec> x = std::move(it->second);
    execs_.erase(it);
    for (UniqueFd* fd : {&x->out, &x->err})
        if (*fd) loop_.remove(fd->get());
    pod::ExecSyncResponse resp;
    resp.set_stdout(std::move(x->out_buf));
    resp.set_stderr(std::move(x->err_buf));
    resp.set_exit_code(x->exit_code);
    resp.set_timed_out(x->timed_out);
    berth::ttrpc::Response r;
    r.set_payload(resp.SerializeAsString());
    server_->reply(x->call, r);
    // (A grace Timer calling us is destroyed with x, after its handler has
    // moved itself out: Timer's contract.)
}

std::string PodService::busy() const {
    if (init_ > 0) return "the pod init (pid " + std::to_string(init_) + ") runs: UnpinNamespaces first";
    for (const auto& dir : pinned_) {
        for (const auto& k : ns_kinds) {
            std::string p = dir + "/" + k.file;
            if (mount_root_at(p)) return "namespaces are pinned under " + dir + ": UnpinNamespaces first";
        }
    }
    return {};
}

void PodService::teardown() {
    for (auto& [pid, x] : execs_) ::kill(pid, SIGKILL);
    if (init_ <= 0) return;
    ::kill(init_, SIGKILL);
    // Its exit waits until its pid namespace is empty, zombies included:
    // reap everything that ends meanwhile (the caller deleted the pod's
    // containers first), for up to 5 s.
    for (int i = 0; i < 1000 && init_ > 0; ++i) {
        int ws;
        pid_t p = ::waitpid(-1, &ws, WNOHANG);
        if (p == init_) {
            init_gone();
            break;
        }
        if (p > 0) continue;
        timespec ts{0, 5000000};
        ::nanosleep(&ts, nullptr);
    }
    if (init_ > 0) log_error("pod init " + std::to_string(init_) + " not reaped in 5 s");
}

} // namespace berth::shim
