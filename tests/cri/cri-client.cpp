// cri-client: calls a CRI v1 server (containerd's CRI plugin, later berthd)
// over its unix socket, one call per run for shell tests, or a benchmark.
//
//   cri-client -a SOCKET [-T SECONDS] COMMAND ARGS...
//
// Errors: "cri-client: METHOD: message" on stderr, exit 125 (2 for usage).
#include "bench.hpp"
#include "cri_call.hpp"
#include "cri_client.hpp"
#include "error.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace berth;
using namespace berth::cri_test;

namespace {

const char* usage_text =
    "usage: cri-client -a SOCKET [-T SECONDS] COMMAND ARGS...\n"
    "  version                                prints NAME VERSION API_VERSION\n"
    "  runp POD_FLAGS                         prints the pod's id\n"
    "  create POD_ID POD_FLAGS --image REF [--name NAME] [--log-path P] -- CMD...\n"
    "                                         prints the container's id\n"
    "  start ID | stop ID [SECONDS] | rm ID\n"
    "  exec-sync [--timeout SECONDS] ID CMD...  its stdout and stderr on ours; exits with its code\n"
    "  stopp POD_ID | rmp POD_ID\n"
    "  call METHOD [JSON]                     any CRI method; request and answer as JSON; a failed\n"
    "                                         call exits with its gRPC code (message on stderr)\n"
    "  bench POD_FLAGS --image REF --handler NAME[=LABEL[@SOCKET]]... [-n ROUNDS] [--warmup N] [--execs K]\n"
    "        [--expect-subnet CIDR]           (--execs 0: no ExecSync; --expect-subnet: each pod's IPv4\n"
    "                                         address, from PodSandboxStatus, must be in CIDR)\n"
    "POD_FLAGS: [--pod-name N] [--pod-namespace NS] [--pod-uid U] [--handler H]\n"
    "           [--cgroup-parent P] [--log-dir D] [--share-pid] [--pod-network]\n"
    "           (a host-network pod; --share-pid: one pid namespace for the pod;\n"
    "           --pod-network: on the runtime's pod network, CNI, instead of the node's)\n"
    "-T: seconds to wait for each answer (default 60).\n";

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr, "cri-client: %s\n%s", why.c_str(), usage_text);
    std::exit(2);
}

// Walks a command's words: flags with a value, then positionals.
class Words {
public:
    Words(std::vector<std::string> w) : w_(std::move(w)) {}
    bool done() const { return i_ >= w_.size(); }
    const std::string& peek() const { return w_[i_]; }
    std::string next(const char* what) {
        if (done()) usage(std::string("missing ") + what);
        return w_[i_++];
    }
    std::vector<std::string> rest() {
        std::vector<std::string> r(w_.begin() + static_cast<long>(i_), w_.end());
        i_ = w_.size();
        return r;
    }

private:
    std::vector<std::string> w_;
    size_t i_ = 0;
};

// A pod flag at w's position: taken into pod (true), or not one (false).
bool pod_flag(Words& w, PodSpec& pod, std::vector<std::string>* handlers) {
    const std::string f = w.peek();
    std::string* dst = nullptr;
    if (f == "--pod-name") dst = &pod.name;
    else if (f == "--pod-namespace") dst = &pod.ns;
    else if (f == "--pod-uid") dst = &pod.uid;
    else if (f == "--cgroup-parent") dst = &pod.cgroup_parent;
    else if (f == "--log-dir") dst = &pod.log_dir;
    else if (f == "--share-pid" || f == "--pod-network") {
        w.next("flag");
        (f == "--share-pid" ? pod.share_pid : pod.pod_network) = true;
        return true;
    } else if (f == "--handler" && !handlers) dst = &pod.handler;
    else if (f == "--handler") {
        w.next("flag");
        handlers->push_back(w.next("--handler's value"));
        return true;
    } else return false;
    w.next("flag");
    *dst = w.next((f + "'s value").c_str());
    return true;
}

int to_int(const std::string& s, const char* what) {
    char* end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end || v < 0 || v > 1000000) usage(std::string("bad ") + what + ": " + s);
    return static_cast<int>(v);
}

void write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("write output");
        off += static_cast<size_t>(n);
    }
}

int run(CriClient& cli, const std::string& cmd, Words& w) {
    if (cmd == "version") {
        std::printf("%s\n", cli.version().c_str());
        return 0;
    }
    if (cmd == "runp") {
        PodSpec pod;
        while (!w.done())
            if (!pod_flag(w, pod, nullptr)) usage("runp: unknown argument " + w.peek());
        std::printf("%s\n", cli.run_pod(pod).c_str());
        return 0;
    }
    if (cmd == "create") {
        std::string pod_id = w.next("POD_ID");
        PodSpec pod;
        ContainerSpec c;
        while (!w.done()) {
            if (w.peek() == "--") {
                w.next("--");
                c.command = w.rest();
                break;
            }
            if (pod_flag(w, pod, nullptr)) continue;
            std::string f = w.next("flag");
            if (f == "--image") c.image = w.next("--image's value");
            else if (f == "--name") c.name = w.next("--name's value");
            else if (f == "--log-path") c.log_path = w.next("--log-path's value");
            else usage("create: unknown argument " + f);
        }
        if (c.image.empty()) usage("create: --image is required");
        std::printf("%s\n", cli.create_container(pod_id, pod, c).c_str());
        return 0;
    }
    if (cmd == "start") {
        cli.start_container(w.next("ID"));
        return 0;
    }
    if (cmd == "stop") {
        std::string id = w.next("ID");
        int t = w.done() ? 0 : to_int(w.next("SECONDS"), "SECONDS");
        cli.stop_container(id, t);
        return 0;
    }
    if (cmd == "rm") {
        cli.remove_container(w.next("ID"));
        return 0;
    }
    if (cmd == "exec-sync") {
        int timeout = 0;
        if (!w.done() && w.peek() == "--timeout") {
            w.next("flag");
            timeout = to_int(w.next("--timeout's value"), "--timeout");
        }
        std::string id = w.next("ID");
        auto args = w.rest();
        if (args.empty()) usage("exec-sync: no command");
        auto r = cli.exec_sync(id, args, timeout);
        std::fflush(stdout);
        write_all(STDOUT_FILENO, r.out);
        write_all(STDERR_FILENO, r.err);
        return r.exit_code;
    }
    if (cmd == "stopp") {
        cli.stop_pod(w.next("POD_ID"));
        return 0;
    }
    if (cmd == "rmp") {
        cli.remove_pod(w.next("POD_ID"));
        return 0;
    }
    if (cmd == "bench") {
        BenchOptions o;
        o.pod.name = "bench";
        while (!w.done()) {
            if (pod_flag(w, o.pod, &o.handlers)) continue;
            std::string f = w.next("flag");
            if (f == "--image") o.image = w.next("--image's value");
            else if (f == "-n") o.rounds = to_int(w.next("-n's value"), "-n");
            else if (f == "--warmup") o.warmup = to_int(w.next("--warmup's value"), "--warmup");
            else if (f == "--execs") o.execs = to_int(w.next("--execs' value"), "--execs");
            else if (f == "--expect-subnet") o.expect_subnet = w.next("--expect-subnet's value");
            else usage("bench: unknown argument " + f);
        }
        if (o.image.empty()) usage("bench: --image is required");
        return run_bench(cli, o, stdout) ? 1 : 0;
    }
    usage("unknown command " + cmd);
}

} // namespace

int main(int argc, char** argv) {
    std::string socket;
    int timeout = 60;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        std::string f = argv[i];
        if (i + 1 >= argc) usage(f + " needs a value");
        if (f == "-a") socket = argv[++i];
        else if (f == "-T") timeout = to_int(argv[++i], "-T");
        else usage("unknown flag " + f);
    }
    if (socket.empty()) usage("-a SOCKET is required");
    if (i >= argc) usage("no command");
    std::string cmd = argv[i++];
    Words w(std::vector<std::string>(argv + i, argv + argc));
    if (cmd == "call") {
        std::string method = w.next("METHOD");
        std::string json = w.done() ? "" : w.next("JSON");
        return call_json(socket, method, json, std::chrono::seconds(timeout));
    }
    try {
        CriClient cli(socket, std::chrono::seconds(timeout));
        return run(cli, cmd, w);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "cri-client: %s\n", e.what());
        return 125;
    }
}
