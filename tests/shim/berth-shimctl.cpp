// berth-shimctl: drives one berth-shim over ttrpc, one call per run, the
// way berthd will (no containerd), and prints the answer for shell tests.
//
//   berth-shimctl -a ADDRESS [-n NAMESPACE] [-T SECONDS] CMD ARGS...
//
// Errors: "berth-shimctl: METHOD: message (code N)" on stderr (N: the ttrpc
// status code, when the shim answered one), exit 1 (2 for usage).
#include "error.hpp"
#include "file_util.hpp"
#include "monitor.pb.h"
#include "pod.pb.h"
#include "task.pb.h"
#include "ttrpc.pb.h"
#include "ttrpc_client.hpp"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace berth;
namespace tt = berth::ttrpc;
namespace pb = berth::task;
using std::chrono::milliseconds;

namespace {

constexpr const char* task_service = "containerd.task.v2.Task";
constexpr const char* monitor_service = "berth.shim.v1.Monitor";
constexpr const char* pod_service = "berth.shim.v1.Pod";
// containerd's typeurl names for the OCI types it sends as JSON.
constexpr const char* process_type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process";
constexpr const char* resources_type_url = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";

const char* usage_text =
    "usage: berth-shimctl -a ADDRESS [-n NAMESPACE] [-T SECONDS] COMMAND ARGS...\n"
    "  create ID BUNDLE [--stdin U] [--stdout U] [--stderr U] [-t]   prints the pid\n"
    "  start ID [EXEC]                       prints the pid\n"
    "  exec ID EXEC PROCESS_JSON [--stdin U] [--stdout U] [--stderr U] [-t]\n"
    "  wait ID [EXEC]                        prints the exit status\n"
    "  state ID [EXEC]                       prints STATUS PID EXIT_STATUS\n"
    "  kill ID [EXEC] SIGNAL [--all]\n"
    "  delete ID [EXEC]                      prints the exit status\n"
    "  update ID RESOURCES_JSON\n"
    "  pause ID | resume ID\n"
    "  closeio ID [EXEC]\n"
    "  pids ID                               prints one pid a line\n"
    "  connect [ID]                          prints SHIM_PID TASK_PID VERSION\n"
    "  shutdown [ID] [--now]\n"
    "  reopen-log ID [EXEC]\n"
    "  attach ID [EXEC] [--stdin] [--stdin-once] [--stdout] [--stderr]\n"
    "pod (berth.shim.v1.Pod):\n"
    "  pin DIR NS[,NS...] [--hostname H] [--sysctl KEY=VALUE]...   prints NS PATH lines, then init PID\n"
    "  unpin DIR\n"
    "  execsync ID PROCESS_JSON [--timeout MS] [--max-output N] [--out FILE] [--err FILE]\n"
    "                                        prints EXIT_CODE TIMED_OUT(0|1) STDOUT_BYTES STDERR_BYTES\n"
    "  bench-exec ID PROCESS_JSON N          ExecSync, then Exec+Start+Wait+Delete over FIFOs, N times each:\n"
    "                                        prints MODE median_us p90_us min_us\n"
    "-T: seconds to wait for an answer (default 60; wait and attach: none).\n";

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr, "berth-shimctl: %s\n%s", why.c_str(), usage_text);
    std::exit(2);
}

// Thrown to report "METHOD: message".
struct Failure {
    std::string method, message;
    int32_t code = 0;   // the ttrpc status code, when the shim answered one
};

// A command's words: positionals, boolean flags, flags with a value.
struct Args {
    std::vector<std::string> pos;
    std::set<std::string> flags;
    std::map<std::string, std::string> values;
};

Args parse_args(const std::vector<std::string>& words, const std::set<std::string>& bool_flags,
                const std::set<std::string>& value_flags) {
    Args a;
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        if (w.size() > 1 && w[0] == '-') {
            if (bool_flags.count(w)) {
                a.flags.insert(w);
            } else if (value_flags.count(w)) {
                if (i + 1 >= words.size()) usage(w + " needs a value");
                a.values[w] = words[++i];
            } else {
                usage("unknown option " + w);
            }
        } else {
            a.pos.push_back(w);
        }
    }
    return a;
}

void want(const Args& a, size_t min, size_t max, const std::string& cmd) {
    if (a.pos.size() < min || a.pos.size() > max) usage(cmd + ": wrong number of arguments");
}

std::string opt(const Args& a, size_t i) { return i < a.pos.size() ? a.pos[i] : std::string(); }

std::string value(const Args& a, const std::string& flag) {
    auto it = a.values.find(flag);
    return it == a.values.end() ? std::string() : it->second;
}

int parse_signal(const std::string& s) {
    if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) return std::stoi(s);
    std::string name = s.rfind("SIG", 0) == 0 ? s.substr(3) : s;
    static const std::map<std::string, int> names = {
        {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
        {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"WINCH", SIGWINCH},
    };
    auto it = names.find(name);
    if (it == names.end()) usage("unknown signal " + s);
    return it->second;
}

std::string absolute(const std::string& path) {
    if (!path.empty() && path[0] == '/') return path;
    char buf[PATH_MAX];
    if (!::getcwd(buf, sizeof buf)) throw_errno("getcwd");
    return std::string(buf) + "/" + path;
}

const char* status_name(pb::Status s) {
    switch (s) {
    case pb::CREATED: return "created";
    case pb::RUNNING: return "running";
    case pb::STOPPED: return "stopped";
    case pb::PAUSED: return "paused";
    case pb::PAUSING: return "pausing";
    default: return "unknown";
    }
}

bool write_all(int fd, const char* p, size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

class Shim {
public:
    Shim(const std::string& address, std::string ns, milliseconds timeout) : ns_(std::move(ns)), timeout_(timeout) {
        try {
            client_.emplace(tt::Client::dial(address));
        } catch (const tt::StatusError& e) {
            throw Failure{"connect", e.what()};
        }
    }

    template <class Resp>
    Resp call(const char* service, const std::string& method, const google::protobuf::MessageLite& req,
              milliseconds timeout) {
        std::string out;
        try {
            out = client_->call(service, method, req.SerializeAsString(), timeout,
                                {{"containerd-namespace-ttrpc", ns_}});
        } catch (const tt::StatusError& e) {
            throw Failure{method, e.what(), e.code()};
        }
        Resp r;
        if (!r.ParseFromString(out)) throw Failure{method, "malformed response"};
        return r;
    }
    template <class Resp>
    Resp task(const std::string& method, const google::protobuf::MessageLite& req) {
        return call<Resp>(task_service, method, req, timeout_);
    }

    milliseconds timeout() const { return timeout_; }
    bool timeout_given = false;

private:
    std::string ns_;
    milliseconds timeout_;
    std::optional<tt::Client> client_;
};

// A temp dir (in $TMPDIR, else /tmp) holding the attach socket; removed
// once the shim has connected, or on the way out.
struct TempSocket {
    std::string dir, path;
    UniqueFd fd;
    TempSocket() {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/berth-shimctl.XXXXXX";
        if (!::mkdtemp(tmpl.data())) throw_errno("mkdtemp " + tmpl);
        dir = tmpl;
        path = dir + "/attach.sock";
        if (path.size() >= sizeof(sockaddr_un::sun_path)) throw Error(ENAMETOOLONG, "attach socket " + path);
        fd.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
        if (!fd) throw_errno("socket");
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, path.data(), path.size());
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) throw_errno("bind " + path);
        if (::listen(fd.get(), 1) < 0) throw_errno("listen " + path);
    }
    void remove() {
        if (dir.empty()) return;
        ::unlink(path.c_str());
        ::rmdir(dir.c_str());
        dir.clear();
    }
    ~TempSocket() { remove(); }
};

// The session: our stdin to the shim (if asked), its packets to our
// stdout/stderr, until the shim closes the connection.
int relay(int conn, bool send_stdin) {
    bool in_open = send_stdin, peer_reads = true;
    std::vector<char> buf(256 * 1024);
    for (;;) {
        pollfd p[2] = {{conn, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
        int n = ::poll(p, in_open ? 2 : 1, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("poll");
        if (p[0].revents) {
            iovec iov{buf.data(), buf.size()};
            msghdr mh{};
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            ssize_t r = ::recvmsg(conn, &mh, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0 && errno != ECONNRESET) throw_errno("recv from the shim");
            if (r <= 0) return 0;   // the shim closed the session
            if (mh.msg_flags & MSG_TRUNC)
                throw Error(EMSGSIZE, "a packet from the shim over " + std::to_string(buf.size()) + " bytes");
            int out = buf[0] == 2 ? STDERR_FILENO : buf[0] == 1 ? STDOUT_FILENO : -1;
            if (out < 0) throw Error(EPROTO, "packet for unknown stream " + std::to_string(int(buf[0])));
            if (!write_all(out, buf.data() + 1, static_cast<size_t>(r) - 1)) throw_errno("write output");
        }
        if (in_open && p[1].revents) {
            ssize_t r = ::read(STDIN_FILENO, buf.data(), 32 * 1024);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) throw_errno("read stdin");
            if (r == 0) {
                in_open = false;
                ::shutdown(conn, SHUT_WR);   // ends this session's input
                continue;
            }
            if (peer_reads && ::send(conn, buf.data(), static_cast<size_t>(r), MSG_NOSIGNAL) < 0) {
                if (errno != EPIPE && errno != ECONNRESET) throw_errno("send input");
                peer_reads = false;   // keep reading its output until it closes
            }
        }
    }
}

int attach(Shim& shim, const Args& a) {
    want(a, 1, 2, "attach");
    berth::shim::v1::AttachRequest req;
    req.set_id(a.pos[0]);
    req.set_exec_id(opt(a, 1));
    req.set_stdin(a.flags.count("--stdin"));
    req.set_stdin_once(a.flags.count("--stdin-once"));
    req.set_stdout(a.flags.count("--stdout"));
    req.set_stderr(a.flags.count("--stderr"));
    TempSocket sock;
    req.set_socket(sock.path);
    shim.call<tt::Empty>(monitor_service, "Attach", req, shim.timeout_given ? shim.timeout() : milliseconds(60000));
    // The shim connects while handling the call, or right after answering.
    pollfd p{sock.fd.get(), POLLIN, 0};
    int r;
    do {
        r = ::poll(&p, 1, 10000);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) throw Failure{"Attach", "the shim did not connect to " + sock.path};
    UniqueFd conn(::accept4(sock.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) throw_errno("accept");
    sock.remove();
    return relay(conn.get(), req.stdin());
}

void write_out(const std::string& path, const std::string& data) {
    if (path.empty()) return;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd || !write_all(fd.get(), data.data(), data.size())) throw_errno("write " + path);
}

int pin(Shim& shim, const std::vector<std::string>& words) {
    berth::shim::v1::PinNamespacesRequest req;
    std::vector<std::string> pos;
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        if (w == "--hostname" || w == "--sysctl") {
            if (i + 1 >= words.size()) usage(w + " needs a value");
            const std::string& v = words[++i];
            if (w == "--hostname") {
                req.set_hostname(v);
            } else {
                auto eq = v.find('=');
                if (eq == std::string::npos) usage("--sysctl wants KEY=VALUE");
                (*req.mutable_sysctls())[v.substr(0, eq)] = v.substr(eq + 1);
            }
        } else if (!w.empty() && w[0] == '-') {
            usage("unknown option " + w);
        } else {
            pos.push_back(w);
        }
    }
    if (pos.size() != 2) usage("pin: wrong number of arguments");
    req.set_dir(absolute(pos[0]));
    std::string list = pos[1] + ",";
    for (size_t at = 0, comma; (comma = list.find(',', at)) != std::string::npos; at = comma + 1)
        if (comma > at) req.add_namespaces(list.substr(at, comma - at));
    auto r = shim.call<berth::shim::v1::PinNamespacesResponse>(pod_service, "PinNamespaces", req, shim.timeout());
    std::map<std::string, std::string> paths(r.paths().begin(), r.paths().end());
    for (const auto& [ns, path] : paths) std::printf("%s %s\n", ns.c_str(), path.c_str());
    std::printf("init %u\n", r.init_pid());
    return 0;
}

long long now_us() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

void report(const char* mode, std::vector<long long> t) {
    std::sort(t.begin(), t.end());
    std::printf("%s %lld %lld %lld\n", mode, t[t.size() / 2], t[t.size() * 9 / 10], t[0]);
}

// ExecSync against what containerd's CRI plugin does per ExecSync: Exec
// with FIFOs it reads, Start, Wait, Delete (four calls).
int bench_exec(Shim& shim, const Args& a) {
    want(a, 3, 3, "bench-exec");
    const std::string id = a.pos[0], process = read_file(a.pos[1]);
    int n = std::stoi(a.pos[2]);
    if (n < 1) usage("bench-exec: N must be at least 1");
    std::vector<long long> sync, fifo;
    berth::shim::v1::ExecSyncRequest sr;
    sr.set_id(id);
    sr.set_process(process);
    sr.set_timeout_ms(10000);
    for (int i = 0; i < n; ++i) {
        long long t0 = now_us();
        auto r = shim.call<berth::shim::v1::ExecSyncResponse>(pod_service, "ExecSync", sr, shim.timeout());
        sync.push_back(now_us() - t0);
        if (r.exit_code() != 0) throw Failure{"ExecSync", "exit code " + std::to_string(r.exit_code())};
    }
    TempSocket dir;   // a private temp dir for the FIFOs
    for (int i = 0; i < n; ++i) {
        std::string out = dir.dir + "/out", err = dir.dir + "/err", eid = "bench-" + std::to_string(i);
        long long t0 = now_us();
        if (::mkfifo(out.c_str(), 0600) < 0 || ::mkfifo(err.c_str(), 0600) < 0) throw_errno("mkfifo");
        UniqueFd ro(::open(out.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)), re(::open(err.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        pb::ExecProcessRequest ex;
        ex.set_id(id);
        ex.set_exec_id(eid);
        ex.set_stdout(out);
        ex.set_stderr(err);
        ex.mutable_spec()->set_type_url(process_type_url);
        ex.mutable_spec()->set_value(process);
        shim.task<tt::Empty>("Exec", ex);
        pb::StartRequest st;
        st.set_id(id);
        st.set_exec_id(eid);
        shim.task<pb::StartResponse>("Start", st);
        pb::WaitRequest w;
        w.set_id(id);
        w.set_exec_id(eid);
        shim.task<pb::WaitResponse>("Wait", w);
        char buf[4096];
        while (::read(ro.get(), buf, sizeof buf) > 0) {
        }
        while (::read(re.get(), buf, sizeof buf) > 0) {
        }
        pb::DeleteRequest d;
        d.set_id(id);
        d.set_exec_id(eid);
        shim.task<pb::DeleteResponse>("Delete", d);
        fifo.push_back(now_us() - t0);
        ::unlink(out.c_str());
        ::unlink(err.c_str());
    }
    report("execsync", sync);
    report("exec+start+wait+delete", fifo);
    return 0;
}

int run(Shim& shim, const std::string& cmd, const std::vector<std::string>& words) {
    if (cmd == "pin") return pin(shim, words);
    if (cmd == "unpin") {
        Args a = parse_args(words, {}, {});
        want(a, 1, 1, cmd);
        berth::shim::v1::UnpinNamespacesRequest req;
        req.set_dir(absolute(a.pos[0]));
        shim.call<tt::Empty>(pod_service, "UnpinNamespaces", req, shim.timeout());
        return 0;
    }
    if (cmd == "execsync") {
        Args a = parse_args(words, {}, {"--timeout", "--max-output", "--out", "--err"});
        want(a, 2, 2, cmd);
        berth::shim::v1::ExecSyncRequest req;
        req.set_id(a.pos[0]);
        req.set_process(read_file(a.pos[1]));
        if (a.values.count("--timeout")) req.set_timeout_ms(static_cast<uint32_t>(std::stoul(value(a, "--timeout"))));
        if (a.values.count("--max-output")) req.set_max_output(static_cast<uint32_t>(std::stoul(value(a, "--max-output"))));
        auto r = shim.call<berth::shim::v1::ExecSyncResponse>(pod_service, "ExecSync", req, shim.timeout());
        write_out(value(a, "--out"), r.stdout());
        write_out(value(a, "--err"), r.stderr());
        std::printf("%d %d %zu %zu\n", r.exit_code(), r.timed_out() ? 1 : 0, r.stdout().size(), r.stderr().size());
        return 0;
    }
    if (cmd == "bench-exec") return bench_exec(shim, parse_args(words, {}, {}));
    if (cmd == "create" || cmd == "exec") {
        Args a = parse_args(words, {"-t"}, {"--stdin", "--stdout", "--stderr"});
        if (cmd == "create") {
            want(a, 2, 2, cmd);
            pb::CreateTaskRequest req;
            req.set_id(a.pos[0]);
            req.set_bundle(absolute(a.pos[1]));
            req.set_terminal(a.flags.count("-t"));
            req.set_stdin(value(a, "--stdin"));
            req.set_stdout(value(a, "--stdout"));
            req.set_stderr(value(a, "--stderr"));
            std::printf("%u\n", shim.task<pb::CreateTaskResponse>("Create", req).pid());
            return 0;
        }
        want(a, 3, 3, cmd);
        pb::ExecProcessRequest req;
        req.set_id(a.pos[0]);
        req.set_exec_id(a.pos[1]);
        req.set_terminal(a.flags.count("-t"));
        req.set_stdin(value(a, "--stdin"));
        req.set_stdout(value(a, "--stdout"));
        req.set_stderr(value(a, "--stderr"));
        req.mutable_spec()->set_type_url(process_type_url);
        req.mutable_spec()->set_value(read_file(a.pos[2]));
        shim.task<tt::Empty>("Exec", req);
        return 0;
    }
    if (cmd == "attach")
        return attach(shim, parse_args(words, {"--stdin", "--stdin-once", "--stdout", "--stderr"}, {}));

    if (cmd == "kill") {
        Args a = parse_args(words, {"--all"}, {});
        want(a, 2, 3, cmd);
        pb::KillRequest req;
        req.set_id(a.pos[0]);
        if (a.pos.size() == 3) req.set_exec_id(a.pos[1]);
        req.set_signal(static_cast<uint32_t>(parse_signal(a.pos.back())));
        req.set_all(a.flags.count("--all"));
        shim.task<tt::Empty>("Kill", req);
        return 0;
    }
    if (cmd == "shutdown") {
        Args a = parse_args(words, {"--now"}, {});
        want(a, 0, 1, cmd);
        pb::ShutdownRequest req;
        req.set_id(opt(a, 0));
        req.set_now(a.flags.count("--now"));
        shim.task<tt::Empty>("Shutdown", req);
        return 0;
    }
    if (cmd == "connect") {
        Args a = parse_args(words, {}, {});
        want(a, 0, 1, cmd);
        pb::ConnectRequest req;
        req.set_id(opt(a, 0));
        auto r = shim.task<pb::ConnectResponse>("Connect", req);
        std::printf("%u %u %s\n", r.shim_pid(), r.task_pid(), r.version().c_str());
        return 0;
    }
    if (cmd == "update") {
        Args a = parse_args(words, {}, {});
        want(a, 2, 2, cmd);
        pb::UpdateTaskRequest req;
        req.set_id(a.pos[0]);
        req.mutable_resources()->set_type_url(resources_type_url);
        req.mutable_resources()->set_value(read_file(a.pos[1]));
        shim.task<tt::Empty>("Update", req);
        return 0;
    }

    // The rest name a container and, for some, one of its execs.
    Args a = parse_args(words, {}, {});
    bool takes_exec = cmd != "pids" && cmd != "pause" && cmd != "resume";
    want(a, 1, takes_exec ? 2 : 1, cmd);
    const std::string id = a.pos[0], exec = opt(a, 1);
    if (cmd == "start") {
        pb::StartRequest req;
        req.set_id(id);
        req.set_exec_id(exec);
        std::printf("%u\n", shim.task<pb::StartResponse>("Start", req).pid());
    } else if (cmd == "wait") {
        pb::WaitRequest req;
        req.set_id(id);
        req.set_exec_id(exec);
        auto t = shim.timeout_given ? shim.timeout() : milliseconds(0);
        std::printf("%u\n", shim.call<pb::WaitResponse>(task_service, "Wait", req, t).exit_status());
    } else if (cmd == "state") {
        pb::StateRequest req;
        req.set_id(id);
        req.set_exec_id(exec);
        auto r = shim.task<pb::StateResponse>("State", req);
        std::printf("%s %u %u\n", status_name(r.status()), r.pid(), r.exit_status());
    } else if (cmd == "delete") {
        pb::DeleteRequest req;
        req.set_id(id);
        req.set_exec_id(exec);
        std::printf("%u\n", shim.task<pb::DeleteResponse>("Delete", req).exit_status());
    } else if (cmd == "closeio") {
        pb::CloseIORequest req;
        req.set_id(id);
        req.set_exec_id(exec);
        req.set_stdin(true);
        shim.task<tt::Empty>("CloseIO", req);
    } else if (cmd == "pids") {
        pb::PidsRequest req;
        req.set_id(id);
        auto r = shim.task<pb::PidsResponse>("Pids", req);
        for (const auto& p : r.processes()) std::printf("%u\n", p.pid());
    } else if (cmd == "pause" || cmd == "resume") {
        pb::PauseRequest req;   // the same shape as ResumeRequest
        req.set_id(id);
        shim.task<tt::Empty>(cmd == "pause" ? "Pause" : "Resume", req);
    } else if (cmd == "reopen-log") {
        berth::shim::v1::ReopenLogRequest req;
        req.set_id(id);
        req.set_exec_id(exec);
        shim.call<tt::Empty>(monitor_service, "ReopenLog", req, shim.timeout());
    } else {
        usage("unknown command " + cmd);
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    std::string address, ns = "default";
    long timeout_s = -1;
    int i = 1;
    for (; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::fputs(usage_text, stdout);
            return 0;
        }
        if (a.empty() || a[0] != '-') break;
        if (i + 1 >= argc) usage(a + " needs a value");
        if (a == "-a" || a == "--address") address = argv[++i];
        else if (a == "-n" || a == "--namespace") ns = argv[++i];
        else if (a == "-T" || a == "--timeout") timeout_s = std::strtol(argv[++i], nullptr, 10);
        else usage("unknown option " + a);
    }
    if (address.empty()) usage("-a ADDRESS is required");
    if (i >= argc) usage("no command");
    std::string cmd = argv[i];
    std::vector<std::string> words(argv + i + 1, argv + argc);
    // Output to a closed pipe fails a write instead of killing us.
    ::signal(SIGPIPE, SIG_IGN);
    try {
        Shim shim(address, ns, milliseconds(timeout_s > 0 ? timeout_s * 1000 : 60000));
        shim.timeout_given = timeout_s > 0;
        int rc = run(shim, cmd, words);
        if (std::fflush(stdout) != 0) throw_errno("write stdout");
        return rc;
    } catch (const Failure& f) {
        // With the status code, so scripts can tell NotFound (5) from FailedPrecondition (9).
        if (f.code != 0)
            std::fprintf(stderr, "berth-shimctl: %s: %s (code %d)\n", f.method.c_str(), f.message.c_str(), f.code);
        else
            std::fprintf(stderr, "berth-shimctl: %s: %s\n", f.method.c_str(), f.message.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "berth-shimctl: %s: %s\n", cmd.c_str(), e.what());
    }
    return 1;
}
