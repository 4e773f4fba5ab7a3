#include "bench.hpp"

#include "error.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>

namespace berth::cri_test {

namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> steps = {"RunPodSandbox",    "CreateContainer", "StartContainer", "ExecSync true",
                                        "ExecSync out+err", "StopPodSandbox",  "RemovePodSandbox"};

// What each step expects of ExecSync(out+err): both streams, whole.
const std::vector<std::string> out_err_cmd = {"sh", "-c", "echo out; echo err >&2; exit 3"};

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// An IPv4 subnet, in network byte order.
struct Subnet {
    uint32_t net = 0, mask = 0;
    std::string text;
    bool contains(const std::string& ip) const {
        in_addr a{};
        return ::inet_pton(AF_INET, ip.c_str(), &a) == 1 && (a.s_addr & mask) == net;
    }
};

Subnet parse_subnet(const std::string& cidr) {
    auto slash = cidr.find('/');
    std::string bits = slash == std::string::npos ? "" : cidr.substr(slash + 1);
    in_addr a{};
    if (bits.empty() || bits.size() > 2 || bits.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(bits) > 32 || ::inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &a) != 1)
        throw Error(EINVAL, "bench: --expect-subnet: not an IPv4 CIDR: " + cidr);
    int n = std::stoi(bits);
    Subnet s;
    s.mask = htonl(n == 0 ? 0 : ~uint32_t{0} << (32 - n));
    s.net = a.s_addr & s.mask;
    s.text = cidr;
    return s;
}

struct Handler {
    std::string name, label;
    std::string last_ip;                             // the last pod's IPv4 address (with --expect-subnet)
    std::map<std::string, std::vector<double>> ms;   // step -> samples
    int failures = 0;
    std::shared_ptr<CriClient> client;   // another server's (NAME=LABEL@SOCKET); null: the -a one
};

// NAME, NAME=LABEL or NAME=LABEL@SOCKET (a handler of another CRI server,
// so two servers are compared in one run).
Handler parse_handler(const std::string& spec, std::chrono::seconds timeout) {
    std::string s = spec;
    Handler h;
    if (auto at = s.find('@'); at != std::string::npos) {
        h.client = std::make_shared<CriClient>(s.substr(at + 1), timeout);
        s = s.substr(0, at);
    }
    auto eq = s.find('=');
    h.name = s.substr(0, eq);
    h.label = eq == std::string::npos ? (s.empty() ? "default" : s) : s.substr(eq + 1);
    return h;
}

// One pod with one container through every step; a step that fails ends
// the run (the pod is still stopped and removed, untimed).
void one_run(CriClient& default_client, const BenchOptions& o, const std::optional<Subnet>& subnet, Handler& h,
             int seq, bool timed, std::FILE* out) {
    CriClient& client = h.client ? *h.client : default_client;
    PodSpec pod = o.pod;
    pod.handler = h.name;
    pod.name = o.pod.name + "-" + std::to_string(::getpid()) + "-" + std::to_string(seq);
    pod.uid = pod.name;
    ContainerSpec c;
    c.name = "bench";
    c.image = o.image;
    c.command = {"sleep", "3600"};
    std::string pod_id, ctr_id;
    std::map<std::string, std::vector<double>> got;
    auto timed_step = [&](const std::string& step, const std::function<void()>& fn) {
        auto t0 = Clock::now();
        fn();
        got[step].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    };
    bool stopped = false, removed = false;
    try {
        timed_step("RunPodSandbox", [&] { pod_id = client.run_pod(pod); });
        timed_step("CreateContainer", [&] { ctr_id = client.create_container(pod_id, pod, c); });
        timed_step("StartContainer", [&] { client.start_container(ctr_id); });
        if (subnet) {   // untimed: a pod left on the node's network, or given no address, fails the run
            auto ips = client.pod_ips(pod_id);
            auto v4 = std::find_if(ips.begin(), ips.end(), [](const std::string& ip) {
                return ip.find(':') == std::string::npos;
            });
            if (v4 == ips.end() || !subnet->contains(*v4)) {
                std::string got;
                for (const auto& ip : ips) got += (got.empty() ? "" : ", ") + ip;
                throw Error("pod " + pod_id + ": PodSandboxStatus gives no IPv4 address in " + subnet->text +
                            " (addresses: " + (got.empty() ? "none" : got) + ")");
            }
            h.last_ip = *v4;
        }
        for (int i = 0; i < o.execs; ++i) {
            timed_step("ExecSync true", [&] {
                auto r = client.exec_sync(ctr_id, {"true"}, 10);
                if (r.exit_code != 0) throw Error("ExecSync true: exit code " + std::to_string(r.exit_code));
            });
            ExecResult r;
            timed_step("ExecSync out+err", [&] { r = client.exec_sync(ctr_id, out_err_cmd, 10); });
            if (r.out != "out\n" || r.err != "err\n" || r.exit_code != 3)
                throw Error("ExecSync out+err: got stdout \"" + r.out + "\", stderr \"" + r.err +
                            "\", exit code " + std::to_string(r.exit_code) + " (want out, err, 3)");
        }
        timed_step("StopPodSandbox", [&] { client.stop_pod(pod_id); });
        stopped = true;
        timed_step("RemovePodSandbox", [&] { client.remove_pod(pod_id); });
        removed = true;
    } catch (const std::exception& e) {
        ++h.failures;
        std::fprintf(out, "FAILED %s: %s\n", h.label.c_str(), e.what());
        if (!pod_id.empty()) {
            try {
                if (!stopped) client.stop_pod(pod_id);
                if (!removed) client.remove_pod(pod_id);
            } catch (const std::exception& e2) {
                std::fprintf(out, "FAILED %s: cleanup of pod %s: %s\n", h.label.c_str(), pod_id.c_str(), e2.what());
            }
        }
        return;
    }
    if (!timed) return;
    for (const auto& [step, v] : got) h.ms[step].insert(h.ms[step].end(), v.begin(), v.end());
}

} // namespace

int run_bench(CriClient& client, const BenchOptions& o, std::FILE* out) {
    std::vector<Handler> hs;
    for (const auto& s : o.handlers) hs.push_back(parse_handler(s, o.timeout));
    if (hs.empty()) throw Error(EINVAL, "bench: no --handler given");
    std::optional<Subnet> subnet;
    if (!o.expect_subnet.empty()) subnet = parse_subnet(o.expect_subnet);
    int seq = 0;
    for (int round = -o.warmup; round < o.rounds; ++round) {
        for (size_t k = 0; k < hs.size(); ++k) {
            size_t i = (k + static_cast<size_t>(round + o.warmup)) % hs.size();
            one_run(client, o, subnet, hs[i], seq++, round >= 0, out);
        }
    }

    std::fprintf(out, "\n %-18s", "ms (median)");
    for (const auto& h : hs) std::fprintf(out, " %16s", h.label.c_str());
    std::fprintf(out, "\n");
    auto row = [&](const std::string& name, const std::function<double(const Handler&)>& f) {
        std::fprintf(out, " %-18s", name.c_str());
        for (const auto& h : hs) std::fprintf(out, " %16.1f", f(h));
        std::fprintf(out, "\n");
    };
    // Steps no handler has samples of (ExecSync with --execs 0) are left out.
    std::vector<std::string> shown;
    for (const auto& step : steps)
        if (std::any_of(hs.begin(), hs.end(), [&](const Handler& h) { return h.ms.count(step) > 0; }))
            shown.push_back(step);
    for (const auto& step : shown) row(step, [&](const Handler& h) {
            auto it = h.ms.find(step);
            return it == h.ms.end() ? 0.0 : median(it->second);
        });
    // The pod's start as kubelet waits for it, and its end.
    using Steps = std::vector<const char*>;
    const Steps up_steps = {"RunPodSandbox", "CreateContainer", "StartContainer"},
                down_steps = {"StopPodSandbox", "RemovePodSandbox"};
    auto sum_of = [](const Handler& h, const Steps& names) {
        double s = 0;
        for (const char* n : names) {
            auto it = h.ms.find(n);
            if (it != h.ms.end()) s += median(it->second);
        }
        return s;
    };
    row("pod+container up", [&](const Handler& h) { return sum_of(h, up_steps); });
    row("pod down", [&](const Handler& h) { return sum_of(h, down_steps); });
    std::fprintf(out, " %-18s", "runs (failed)");
    for (const auto& h : hs) {
        auto it = h.ms.find("RemovePodSandbox");
        std::string s = std::to_string(it == h.ms.end() ? 0 : it->second.size()) + " (" +
                        std::to_string(h.failures) + ")";
        std::fprintf(out, " %16s", s.c_str());
    }
    std::fprintf(out, "\n");
    if (subnet) {
        std::fprintf(out, " %-18s", "pod IPv4 (last)");
        for (const auto& h : hs) std::fprintf(out, " %16s", h.last_ip.empty() ? "-" : h.last_ip.c_str());
        std::fprintf(out, "\n");
    }

    if (hs.size() > 1) {
        std::fprintf(out, "\n %-18s", "ratio");
        for (size_t i = 1; i < hs.size(); ++i) {
            std::string name = hs[0].label + "/" + hs[i].label;
            std::fprintf(out, " %*s", static_cast<int>(std::max<size_t>(16, name.size())), name.c_str());
        }
        std::fprintf(out, "\n");
        std::vector<std::string> rows = shown;
        rows.push_back("pod+container up");
        rows.push_back("pod down");
        for (const auto& step : rows) {
            std::fprintf(out, " %-18s", step.c_str());
            for (size_t i = 1; i < hs.size(); ++i) {
                std::string name = hs[0].label + "/" + hs[i].label;
                double r;
                if (step == "pod+container up" || step == "pod down") {
                    const Steps& parts = step == "pod down" ? down_steps : up_steps;
                    double b = sum_of(hs[i], parts);
                    r = b > 0 ? sum_of(hs[0], parts) / b : 0;
                } else {
                    auto a = hs[0].ms.find(step), b = hs[i].ms.find(step);
                    r = a == hs[0].ms.end() || b == hs[i].ms.end() ? 0 : median(a->second) / median(b->second);
                }
                std::fprintf(out, " %*.2f", static_cast<int>(std::max<size_t>(16, name.size())), r);
            }
            std::fprintf(out, "\n");
        }
    }
    int failed = 0;
    for (const auto& h : hs) failed += h.failures;
    return failed;
}

} // namespace berth::cri_test
