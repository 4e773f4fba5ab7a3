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

namespace {

std::vector<Verb> all_verbs() {
    auto v = runtime_verbs();
    for (auto& x : image_verbs()) v.push_back(std::move(x));
    for (auto& x : archive_verbs()) v.push_back(std::move(x));
    return v;
}

std::string main_usage() {
    std::string s =
        "Usage: berthctl [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS...]\n"
        "A crictl-style client for berthd (or any CRI v1 server).\n\n"
        "Global options:\n"
        "  -r, --runtime-endpoint URL   CRI socket (default unix:///run/berth/berthd.sock, or $CONTAINER_RUNTIME_ENDPOINT)\n"
        "  -i, --image-endpoint URL     image service socket (default: the runtime endpoint, or $IMAGE_SERVICE_ENDPOINT)\n"
        "  -t, --timeout DURATION       per-call timeout, e.g. 2s, 500ms (default 2s; pulls: --pull-timeout)\n"
        "  -D, --debug                  debug output\n"
        "  -h, --help                   this help (berthctl help COMMAND for a command's)\n"
        "  -v, --version                print the version\n\nCommands:\n";
    for (const auto& v : all_verbs()) {
        std::string n = std::string("  ") + v.name;
        n.resize(16, ' ');
        s += n + v.what + "\n";
    }
    return s;
}

std::string verb_usage(const Verb& v) {
    std::string s = std::string("Usage: berthctl ") + v.usage + "\n" + v.what + "\n";
    if (!v.flags.empty()) {
        s += "\nOptions:\n";
        for (const auto& [name, value] : v.flags) s += "  --" + name + (value ? " VALUE" : "") + "\n";
    }
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

// A verb's short flags, as crictl spells them.
std::string long_for(const std::string& verb, char c) {
    switch (c) {
    case 'q': return verb == "rmi" ? "prune" : "quiet";
    case 'o': return "output";
    case 'i': return verb == "load" ? "input" : "";
    case 'a': return "all";
    case 'u': return "username";
    case 'v': return "verbose";
    default: return "";
    }
}

Args parse_verb_args(const Verb& v, int argc, char** argv, int i, bool& help) {
    Args a;
    help = false;
    for (; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "--") {
            for (++i; i < argc; ++i) a.pos.push_back(argv[i]);
            break;
        }
        if (s.size() < 2 || s[0] != '-') {
            a.pos.push_back(s);
            continue;
        }
        if (s == "-h" || s == "--help") {
            help = true;
            continue;
        }
        std::string name, value;
        bool has_value = false;
        if (s[1] == '-') {
            name = s.substr(2);
            if (auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
                has_value = true;
            }
        } else {
            if (s.size() != 2) throw Error(EINVAL, std::string(v.name) + ": unknown flag " + s);
            name = long_for(v.name, s[1]);
        }
        auto f = std::find_if(v.flags.begin(), v.flags.end(), [&](const auto& x) { return x.first == name; });
        if (name.empty() || f == v.flags.end())
            throw Error(EINVAL, std::string(v.name) + ": unknown flag " + s + "; see berthctl help " + v.name);
        if (f->second && !has_value) {
            if (i + 1 >= argc) throw Error(EINVAL, std::string(v.name) + ": flag " + s + " needs a value");
            value = argv[++i];
        }
        a.flags[name].push_back(f->second ? value : "true");
    }
    return a;
}

int real_main(int argc, char** argv) {
    Global g;
    if (const char* e = std::getenv("CONTAINER_RUNTIME_ENDPOINT"); e && *e) g.runtime_endpoint = e;
    if (const char* e = std::getenv("IMAGE_SERVICE_ENDPOINT"); e && *e) g.image_endpoint = e;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        std::string s = argv[i], value;
        auto take = [&](const char* flag) {
            if (auto eq = s.find('='); eq != std::string::npos) return s.substr(eq + 1);
            if (i + 1 >= argc) throw Error(EINVAL, std::string("flag ") + flag + " needs a value");
            return std::string(argv[++i]);
        };
        std::string name = s.substr(0, s.find('='));
        if (name == "-r" || name == "--runtime-endpoint") g.runtime_endpoint = take("--runtime-endpoint");
        else if (name == "-i" || name == "--image-endpoint") g.image_endpoint = take("--image-endpoint");
        else if (name == "-t" || name == "--timeout") g.timeout = parse_duration(take("--timeout"));
        else if (name == "-D" || name == "--debug") g.debug = true;
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
