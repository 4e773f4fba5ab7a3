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
#include <cstring>

namespace berth::cli {

extern const std::vector<Command> lifecycle_commands;
extern const std::vector<Command> info_commands;
extern const std::vector<Command> cgroup_commands;
extern const std::vector<Command> exec_commands;
extern const std::vector<Command> cdi_commands;

const std::vector<Command>& commands() {
    static const std::vector<Command> all = [] {
        std::vector<Command> v = lifecycle_commands;
        v.insert(v.end(), exec_commands.begin(), exec_commands.end());
        v.insert(v.end(), cgroup_commands.begin(), cgroup_commands.end());
        v.insert(v.end(), info_commands.begin(), info_commands.end());
        v.insert(v.end(), cdi_commands.begin(), cdi_commands.end());
        return v;
    }();
    return all;
}

namespace {

const std::vector<Flag> global_flags = {
    {"root", 0, true, "state directory (default /run/berth; $XDG_RUNTIME_DIR/berth for non-root)"},
    {"log", 0, true, "write log lines to this file (default stderr)"},
    {"log-format", 0, true, "text or json"},
    {"debug", 0, false, "log debug lines"},
    {"systemd-cgroup", 0, false, "use the systemd cgroup driver"},
    {"rootless", 0, true, "true, false or auto (accepted for runc compatibility)"},
    {"criu", 0, true, "accepted for runc compatibility"},
    {"cdi-spec-dir", 0, true, "a CDI spec directory, later ones winning (repeatable; default /etc/cdi, /var/run/cdi)"},
    {"cdi-config", 0, true, "CDI settings file (default /etc/berth/cdi.json)"},
    {"help", 'h', false, "show help"},
    {"version", 'v', false, "print the version"},
};

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
                          "An OCI container runtime with runc's command line.", global_flags);
    s += "\nCommands:\n";
    for (const auto& c : commands()) {
        std::string n = std::string("  ") + c.name;
        n.resize(14, ' ');
        s += n + c.what + "\n";
    }
    return s;
}

int main_impl(int argc, char** argv, Logger& log) {
    std::vector<std::string> args(argv, argv + argc);
    size_t i = 1;
    auto global = parse(args, i, global_flags, true);
    if (global.flag("version")) {
        print_version();
        return 0;
    }
    if (i >= args.size() || global.flag("help")) {
        print(main_usage());
        return global.flag("help") ? 0 : 1;
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
    for (const auto& c : commands()) {
        if (name != c.name) continue;
        std::vector<Flag> flags = c.flags;
        flags.push_back({"help", 'h', false, "show help"});
        auto p = parse(args, i, flags, false);
        if (p.flag("help")) {
            print(usage(c.synopsis, c.what, c.flags));
            return 0;
        }
        if (p.args.size() < c.min_args)
            throw Error(EINVAL, std::string(c.name) + ": missing argument; usage: berth " + c.synopsis);
        if (p.args.size() > c.max_args)
            throw Error(EINVAL, std::string(c.name) + ": too many arguments; usage: berth " + c.synopsis);
        // Verbs that clone into a container run from a protected binary.
        if (name == "create" || name == "run" || name == "exec") ensure_protected_exe(argv);
        return c.run(ctx, p);
    }
    throw Error(EINVAL, "unknown command \"" + name + "\"; see berth --help");
}

} // namespace
} // namespace berth::cli

int main(int argc, char** argv) {
    berth::restore_process_name(argv[0]);
    berth::Logger log;
    try {
        return berth::cli::main_impl(argc, argv, log);
    } catch (const std::exception& e) {
        log.error(e.what());
        // With --log, runc writes the error there and to stderr as well.
        if (log.to_file()) std::fprintf(stderr, "berth: %s\n", e.what());
        return 1;
    }
}
