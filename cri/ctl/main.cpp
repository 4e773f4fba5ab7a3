// berthctl: crictl's verbs for berthd (see ctl.hpp). Global flags come
// before the verb, as with crictl; a verb's flags anywhere after it.
#include "berth_config.h"
#include "ctl.hpp"
#include "error.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace berth;
using namespace berth::ctl;

namespace berth::ctl {

std::vector<Verb> all_verbs() {
    std::vector<Verb> v;
    for (auto part : {runtime_verbs, pod_verbs, container_verbs, exec_verbs, logs_verbs, stats_verbs, events_verbs,
                      image_verbs, archive_verbs, execution_verbs})
        for (auto& x : part()) v.push_back(std::move(x));
    v.push_back({"completion", "completion [bash|zsh]", "Output shell completion code", {}, nullptr});
    return v;
}

const std::vector<Flag>& global_flags() {
    static const std::vector<Flag> f = {
        {"runtime-endpoint", true, 'r', "CRI socket (default unix:///run/berth/berthd.sock, or $CONTAINER_RUNTIME_ENDPOINT)"},
        {"image-endpoint", true, 'i', "image service socket (default: the runtime endpoint, or $IMAGE_SERVICE_ENDPOINT)"},
        {"timeout", true, 't', "per-call timeout, e.g. 2s, 500ms (default 2s)"},
        {"debug", false, 'D', "debug output"},
        {"host", true, 'H', "a berthd: tcp://HOST:PORT (with --tlsverify) or unix:///PATH (or $BERTH_HOST); repeatable"},
        {"tlsverify", false, 0, "mutual TLS with --host (or $BERTH_TLS_VERIFY=1)"},
        {"tlscacert", true, 0, "the CA's certificate (default $BERTH_CERT_PATH/ca.pem, ~/.berth/ca.pem)"},
        {"tlscert", true, 0, "our certificate (default $BERTH_CERT_PATH/cert.pem)"},
        {"tlskey", true, 0, "our key (default $BERTH_CERT_PATH/key.pem)"},
        {"help", false, 'h', "this help (berthctl help COMMAND for a command's)"},
        {"version", false, 'v', "print the version"},
    };
    return f;
}

} // namespace berth::ctl

namespace {

std::string main_usage() {
    std::string s =
        "Usage: berthctl [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS...]\n"
        "A crictl-style client for berthd (or any CRI v1 server).\n\n"
        "Global options:\n";
    for (const auto& f : global_flags()) {
        std::string n = std::string("  ") + (f.short_name ? std::string("-") + f.short_name + ", " : "    ") + "--" + f.name +
                        (f.value ? " VALUE" : "");
        n.resize(std::max<size_t>(n.size() + 1, 33), ' ');
        s += n + (f.help ? f.help : "") + "\n";
    }
    s += "\nCommands:\n";
    for (const auto& v : all_verbs()) {
        std::string n = std::string("  ") + v.name;
        n.resize(16, ' ');
        s += n + v.what + "\n";
    }
    s += "  help            Show the help of a command\n";
    s += "\nSeveral berthds: --host repeated, or a hosts file, $BERTH_CONFIG/hosts (default ~/.berth/hosts),\n"
         "read when no --host, $BERTH_HOST or runtime endpoint is given. One host a line, '#' comments:\n"
         "  unix:///run/berth/berthd.sock\n"
         "  tcp://node1.example.com:2376 node1     # mutual TLS with ~/.berth/node1/{ca,cert,key}.pem\n"
         "(a tcp:// host without a dir uses those of $BERTH_CERT_PATH, default ~/.berth).\n"
         "run --config NAME runs on the host with the most room under the config's quota (-v says which\n"
         "and why), trying the next when one is down or full; executions lists every host's. Other\n"
         "commands take one host.\n";
    return s;
}

std::string verb_usage(const Verb& v) {
    std::string s = std::string("Usage: berthctl ") + v.usage + "\n" + v.what + "\n\nOptions:\n";
    auto line = [&](const Flag& f) {
        std::string n = std::string("  ") + (f.short_name ? std::string("-") + f.short_name + ", " : "    ") + "--" + f.name +
                        (f.value ? " VALUE" : "");
        n.resize(std::max<size_t>(n.size() + 1, 30), ' ');
        s += n + (f.help ? f.help : "") + "\n";
    };
    for (const auto& f : v.flags) line(f);
    line(Flag{"help", false, 'h', "show this help"});
    return s;
}

std::chrono::milliseconds parse_duration(const std::string& s) {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    std::string unit = end ? end : "";
    double ms = unit == "ms" ? v : unit == "s" || unit.empty() ? v * 1000 : unit == "m" ? v * 60000 : -1;
    if (s.empty() || end == s.c_str() || v < 0 || ms < 0)
        throw Error(EINVAL, "--timeout: expected a duration such as 2s or 500ms, got \"" + s + "\"");
    return std::chrono::milliseconds(static_cast<long long>(ms));
}

Args parse_verb_args(const Verb& v, int argc, char** argv, int i, bool& help) {
    Args a;
    help = false;
    auto by_long = [&](const std::string& n) -> const Flag* {
        for (const auto& f : v.flags)
            if (n == f.name) return &f;
        return nullptr;
    };
    auto by_short = [&](char c) -> const Flag* {
        for (const auto& f : v.flags)
            if (f.short_name == c) return &f;
        return nullptr;
    };
    auto unknown = [&](const std::string& s) {
        return Error(EINVAL, std::string(v.name) + ": unknown flag " + s + "; see berthctl " + v.name + " --help");
    };
    for (; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "--") {
            for (++i; i < argc; ++i) a.pos.push_back(argv[i]);
            break;
        }
        if (s.size() < 2 || s[0] != '-') {
            a.pos.push_back(s);
            if (v.flags_first) {
                for (++i; i < argc; ++i) a.pos.push_back(argv[i]);
                break;
            }
            continue;
        }
        if (s == "-h" || s == "--help") {
            help = true;
            continue;
        }
        if (s[1] == '-') {
            std::string name = s.substr(2), value;
            bool has_value = false;
            if (auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
                has_value = true;
            }
            const Flag* f = by_long(name);
            if (!f) throw unknown(s);
            if (f->value && !has_value) {
                if (i + 1 >= argc) throw Error(EINVAL, std::string(v.name) + ": flag " + s + " needs a value");
                value = argv[++i];
            }
            a.flags[f->name].push_back(f->value ? value : "true");
            continue;
        }
        // -a, -aq (crictl's short option handling), -n2 or -n 2.
        for (size_t k = 1; k < s.size(); ++k) {
            const Flag* f = by_short(s[k]);
            if (!f) throw unknown(s.size() == 2 ? s : s + " (-" + s[k] + ")");
            if (!f->value) {
                a.flags[f->name].push_back("true");
                continue;
            }
            std::string value = s.substr(k + 1);
            if (value.empty()) {
                if (i + 1 >= argc) throw Error(EINVAL, std::string(v.name) + ": flag -" + s[k] + " needs a value");
                value = argv[++i];
            }
            a.flags[f->name].push_back(value);
            break;
        }
    }
    return a;
}

// The berthds to talk to: the --host flags, else $BERTH_HOST, else the
// hosts file unless an endpoint was named. One goes into g.host (as a
// single --host always did); several into g.hosts.
void pick_hosts(Global& g, const std::vector<std::string>& flag_hosts, bool endpoint_given) {
    std::vector<Host> hosts;
    if (!flag_hosts.empty()) {
        for (const auto& u : flag_hosts) hosts.push_back({u});
        g.hosts_from = "--host";
    } else if (!g.host.empty()) {
        return;   // $BERTH_HOST
    } else if (!endpoint_given) {
        std::string path = hosts_file_path();
        if (auto f = load_hosts_file(path)) hosts = std::move(*f);
        g.hosts_from = path;
    }
    if (hosts.empty()) return;
    if (hosts.size() == 1) {
        g = for_host(g, hosts[0]);
        return;
    }
    if (g.hosts_from == "--host")
        for (const auto& h : hosts) check_host_url(h.url, "--host");
    g.hosts = std::move(hosts);
}

int real_main(int argc, char** argv) {
    Global g;
    std::vector<std::string> flag_hosts;
    bool endpoint_given = false;   // -r, -i or their env: no hosts file
    if (const char* e = std::getenv("CONTAINER_RUNTIME_ENDPOINT"); e && *e) g.runtime_endpoint = e, endpoint_given = true;
    if (const char* e = std::getenv("IMAGE_SERVICE_ENDPOINT"); e && *e) g.image_endpoint = e, endpoint_given = true;
    if (const char* e = std::getenv("BERTH_HOST"); e && *e) g.host = e;
    if (const char* e = std::getenv("BERTH_TLS_VERIFY"); e && *e && std::string(e) != "0") g.tls_verify = true;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        std::string s = argv[i], value;
        auto take = [&](const char* flag) {
            if (auto eq = s.find('='); eq != std::string::npos) return s.substr(eq + 1);
            if (i + 1 >= argc) throw Error(EINVAL, std::string("flag ") + flag + " needs a value");
            return std::string(argv[++i]);
        };
        std::string name = s.substr(0, s.find('='));
        if (name == "-r" || name == "--runtime-endpoint") g.runtime_endpoint = take("--runtime-endpoint"), endpoint_given = true;
        else if (name == "-i" || name == "--image-endpoint") g.image_endpoint = take("--image-endpoint"), endpoint_given = true;
        else if (name == "-t" || name == "--timeout") g.timeout = parse_duration(take("--timeout"));
        else if (name == "-D" || name == "--debug") g.debug = true;
        else if (name == "-H" || name == "--host") flag_hosts.push_back(take("--host"));
        else if (name == "--tlsverify") g.tls_verify = true;
        else if (name == "--tlscacert") g.tls_ca = take("--tlscacert");
        else if (name == "--tlscert") g.tls_cert = take("--tlscert");
        else if (name == "--tlskey") g.tls_key = take("--tlskey");
        else if (name == "-h" || name == "--help") {
            std::fputs(main_usage().c_str(), stdout);
            return 0;
        } else if (name == "-v" || name == "--version") {
            std::printf("berthctl version %s\n", BERTH_VERSION);
            return 0;
        } else throw Error(EINVAL, "unknown global flag " + s + "; see berthctl --help");
    }
    if (i >= argc) {
        std::fputs(main_usage().c_str(), stderr);
        return 1;
    }
    std::string verb = argv[i++];
    auto verbs = all_verbs();
    if (verb == "completion") {
        std::string shell = i < argc ? argv[i] : "bash";
        if (shell == "bash") std::fputs(bash_completion().c_str(), stdout);
        else if (shell == "zsh") std::fputs(zsh_completion().c_str(), stdout);
        else throw Error(EINVAL, "completion: unknown shell \"" + shell + "\" (bash or zsh)");
        return 0;
    }
    if (verb == "help") {
        if (i >= argc) {
            std::fputs(main_usage().c_str(), stdout);
            return 0;
        }
        verb = argv[i];
        for (const auto& v : verbs)
            if (verb == v.name) {
                std::fputs(verb_usage(v).c_str(), stdout);
                return 0;
            }
        throw Error(EINVAL, "help: unknown command \"" + verb + "\"");
    }
    for (const auto& v : verbs) {
        if (verb != v.name) continue;
        bool help = false;
        Args a = parse_verb_args(v, argc, argv, i, help);
        if (help) {
            std::fputs(verb_usage(v).c_str(), stdout);
            return 0;
        }
        pick_hosts(g, flag_hosts, endpoint_given);
        if (!g.hosts.empty()) {
            if (v.run_hosts) return v.run_hosts(g, a);
            throw Error(EINVAL, verb + ": talks to one berthd, and " + std::to_string(g.hosts.size()) + " hosts are given (" +
                                    g.hosts_from + "); name one with --host (run --config and executions take several)");
        }
        Client c(g);
        return v.run(c, a);
    }
    throw Error(EINVAL, "unknown command \"" + verb + "\"; see berthctl --help");
}

} // namespace

int main(int argc, char** argv) {
    try {
        return real_main(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "berthctl: %s\n", e.what());
        return 1;
    }
}
