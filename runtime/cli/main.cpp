// berth: an OCI runtime with runc's command line.
#include "berth_config.h"
#include "commands.hpp"
#include "error.hpp"
#include "exe_guard.hpp"
#include "log.hpp"

#include <seccomp.h>

#include <cstdio>
#include <cstdlib>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <algorithm>
#include <cstring>

namespace berth::cli {

namespace {

// runc's rule: root's state lives in /run; another user's in its runtime dir.
std::string default_root() {
    if (::geteuid() == 0) return "/run/berth";
    if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x) return std::string(x) + "/berth";
    return "/tmp/berth-" + std::to_string(::geteuid());
}

void print_version() {
    const scmp_version* v = seccomp_version();
    std::printf("berth version %s\nspec: %s\nlibseccomp: %u.%u.%u\n", BERTH_VERSION, BERTH_OCI_VERSION, v->major,
                v->minor, v->micro);
}

std::string main_usage() {
    std::string s = usage("[GLOBAL OPTIONS] COMMAND [OPTIONS] ARGS...",
                          "An OCI container runtime with runc's command line.", global_flags());
    s += "\nCommands:\n";
    for (const auto& c : commands()) {
        std::string n = std::string("  ") + c.name;
        n.resize(14, ' ');
        s += n + c.what + "\n";
    }
    s += "  help        Show help for berth or for a command (berth help COMMAND).\n";
    s += "\nRun `berth COMMAND --help` for a command's options; see also berth(8).\n";
    return s;
}

std::string command_usage(const Command& c) {
    std::string s = usage(c.synopsis, c.what, c.flags);
    if (c.details) s += std::string("\n") + c.details + "\n";
    if (!c.subcommands.empty()) {
        s += "\nSubcommands:\n";
        for (const auto& sub : c.subcommands) s += "  berth " + std::string(sub.synopsis) + "\n      " + sub.what + "\n";
        s += "\nRun `berth " + std::string(c.name) + " SUBCOMMAND --help` for its options.\n";
    }
    return s;
}

// The subcommands whose words start with `words` (all of them for none).
std::vector<const Subcommand*> subcommands_under(const Command& c, const std::vector<std::string>& words) {
    std::vector<const Subcommand*> out;
    for (const auto& sub : c.subcommands) {
        if (words.size() > sub.words.size()) continue;
        if (std::equal(words.begin(), words.end(), sub.words.begin())) out.push_back(&sub);
    }
    return out;
}

// `berth cdi generate nvidia [OPTIONS]`: the subcommand whose words lead
// the arguments, its flags parsed from what follows (in any order).
int run_subcommand(const RuntimeContext& ctx, const Command& c, const std::vector<std::string>& a) {
    for (const auto& sub : c.subcommands) {
        if (a.size() < sub.words.size() || !std::equal(sub.words.begin(), sub.words.end(), a.begin())) continue;
        std::vector<Flag> flags = sub.flags;
        flags.push_back({"help", 'h', false, "show help"});
        size_t i = sub.words.size();
        Parsed p = parse(a, i, flags, {FlagOrder::anywhere, &global_flags(), c.name});
        if (p.flag("help")) {
            print(usage(sub.synopsis, sub.what, sub.flags));
            return 0;
        }
        if (!p.args.empty())
            throw Error(EINVAL, std::string(c.name) + ": unexpected argument \"" + p.args[0] + "\"; usage: berth " +
                                    sub.synopsis);
        return sub.run(ctx, p);
    }
    // Words that lead to subcommands (`cdi generate`): their help when asked.
    std::vector<std::string> words;
    for (const auto& w : a) {
        if (w.starts_with("-")) break;
        words.push_back(w);
    }
    auto under = words.empty() ? std::vector<const Subcommand*>{} : subcommands_under(c, words);
    bool help = std::find(a.begin(), a.end(), "--help") != a.end() || std::find(a.begin(), a.end(), "-h") != a.end();
    if (!under.empty() && help) {
        for (const auto* sub : under) print(usage(sub->synopsis, sub->what, sub->flags) + (sub == under.back() ? "" : "\n"));
        return 0;
    }
    std::string known;
    for (const auto& sub : c.subcommands) {
        std::string w;
        for (const auto& x : sub.words) w += (w.empty() ? "" : " ") + x;
        known += (known.empty() ? "" : ", ") + w;
    }
    std::string what = words.empty() ? std::string("missing subcommand") : "unknown subcommand \"" + words[0] + "\"";
    if (!under.empty()) {
        what = "\"";
        for (const auto& w : words) what += (what.size() > 1 ? " " : "") + w;
        what += "\" needs more words";
    }
    throw Error(EINVAL, std::string(c.name) + ": " + what + "; use " + known + " (see berth help " + c.name + ")");
}

// `berth help [COMMAND [SUBCOMMAND...]]` (flags ignored: `help --help`).
int help(const std::vector<std::string>& args) {
    std::vector<std::string> topic;
    for (const auto& a : args)
        if (!a.starts_with("-")) topic.push_back(a);
    if (topic.empty() || topic[0] == "help") {
        print(main_usage());
        return 0;
    }
    const Command* c = find_command(topic[0]);
    if (!c) throw Error(EINVAL, "help: unknown command \"" + topic[0] + "\"; see berth help");
    if (topic.size() == 1 || c->subcommands.empty()) {
        print(command_usage(*c));
        return 0;
    }
    std::vector<std::string> words(topic.begin() + 1, topic.end());
    auto under = subcommands_under(*c, words);
    if (under.empty()) throw Error(EINVAL, "help: unknown subcommand \"" + words[0] + "\" of " + c->name);
    for (const auto* sub : under) print(usage(sub->synopsis, sub->what, sub->flags) + (sub == under.back() ? "" : "\n"));
    return 0;
}

int main_impl(int argc, char** argv, Logger& log) {
    std::vector<std::string> args(argv, argv + argc);
    size_t i = 1;
    auto global = parse(args, i, global_flags(), {FlagOrder::until_command});
    if (global.flag("version")) {
        print_version();
        return 0;
    }
    if (i >= args.size() || global.flag("help")) {
        if (global.flag("help")) return help(std::vector<std::string>(args.begin() + static_cast<long>(i), args.end()));
        print(main_usage());
        return 1;
    }

    RuntimeContext ctx;
    ctx.root = global.get("root", default_root());
    ctx.log = &log;
    if (global.has("log")) log.open(global.get("log"));
    std::string fmt = global.get("log-format", "text");
    if (fmt != "text" && fmt != "json") throw Error(EINVAL, "--log-format: unknown format \"" + fmt + "\"");
    log.set_json(fmt == "json");
    log.set_debug(global.flag("debug"));
    if (global.flag("systemd-cgroup")) ctx.cgroup_driver = cgroup::Driver::systemd;
    ctx.cdi.spec_dirs = global.all("cdi-spec-dir");
    if (global.has("cdi-config")) ctx.cdi.config_path = global.get("cdi-config");
    // Installed (or linked) as berth-gpu, berth gives containers GPUs:
    // NVIDIA_VISIBLE_DEVICES is honoured and nvidia.com/gpu=all is the default.
    std::string_view self = argv[0];
    if (auto slash = self.rfind('/'); slash != std::string_view::npos) self.remove_prefix(slash + 1);
    ctx.cdi.gpu_mode = self == "berth-gpu";

    const std::string& name = args[i++];
    if (name == "help") return help(std::vector<std::string>(args.begin() + static_cast<long>(i), args.end()));
    const Command* c = find_command(name);
    if (!c) throw Error(EINVAL, "unknown command \"" + name + "\"; see berth help");
    std::vector<Flag> flags = c->flags;
    flags.push_back({"help", 'h', false, "show help"});
    // A command with subcommands parses only its own leading flags; the
    // words and flags after them are the subcommand's.
    FlagOrder order = c->subcommands.empty() ? c->order : FlagOrder::leading;
    auto p = parse(args, i, flags, {order, &global_flags(), name});
    if (p.flag("help")) {
        print(command_usage(*c));
        return 0;
    }
    if (!c->subcommands.empty()) return run_subcommand(ctx, *c, p.args);
    if (p.args.size() < c->min_args)
        throw Error(EINVAL, std::string(c->name) + ": missing argument; usage: berth " + c->synopsis);
    if (p.args.size() > c->max_args)
        throw Error(EINVAL, std::string(c->name) + ": too many arguments; usage: berth " + c->synopsis);
    // Verbs that clone into a container run from a protected binary.
    if (name == "create" || name == "run" || name == "exec") ensure_protected_exe(argv);
    return c->run(ctx, p);
}

} // namespace
} // namespace berth::cli

int main(int argc, char** argv) {
    berth::restore_process_name(argv[0]);
    berth::Logger log;
    int status = 1;
    try {
        return berth::cli::main_impl(argc, argv, log);
    } catch (const berth::cli::ExitFailure& e) {
        status = e.status;
        log.error(e.what());
        if (log.to_file()) std::fprintf(stderr, "berth: %s\n", e.what());
    } catch (const std::exception& e) {
        log.error(e.what());
        // With --log, runc writes the error there and to stderr as well.
        if (log.to_file()) std::fprintf(stderr, "berth: %s\n", e.what());
    }
    return status;
}
