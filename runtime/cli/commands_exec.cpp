// exec: runc's flags, building the process from --process or from the
// container's own process amended by the flags (runc's rules).
#include "commands.hpp"
#include "error.hpp"
#include "file_util.hpp"
#include "strings.hpp"

namespace berth::cli {

namespace {

const std::vector<Flag> exec_flags = {
    {"process", 'p', true, "a process.json to run (other process flags are then ignored)", "FILE"},
    {"tty", 't', false, "allocate a pseudo-TTY"},
    {"console-socket", 0, true, "unix socket that receives the pty master", "PATH"},
    {"detach", 'd', false, "do not wait for the process to exit"},
    {"pid-file", 0, true, "write the process's host pid to this file", "FILE"},
    {"env", 'e', true, "set an environment variable (repeatable)", "KEY=VALUE", true},
    {"cwd", 0, true, "working directory in the container", "DIR"},
    {"user", 'u', true, "UID[:GID] to run as", "UID[:GID]"},
    {"additional-gids", 'g', true, "an additional group id (repeatable)", "GID", true},
    {"cap", 'c', true, "add a capability (repeatable)", "CAP", true},
    {"no-new-privs", 0, false, "set no_new_privs"},
    {"apparmor", 0, true, "AppArmor profile for the process"},
    {"process-label", 0, true, "SELinux label for the process"},
    {"preserve-fds", 0, true, "pass N fds after stdio to the process", "N"},
    {"ignore-paused", 0, false, "exec in a paused container (the process runs once it is resumed)"},
    {"cgroup", 0, true, "run in an existing sub-cgroup: PATH, or CONTROLLER[,CONTROLLER]:PATH (repeatable)", "PATH"},
    {"pidfd-socket", 0, true, "unix socket that receives a pidfd (not supported)", "PATH"},
};

uint32_t parse_id(const std::string& s, const char* what) {
    return parse_uint(s, std::string(what));
}

// KEY=VALUE entries, a later KEY replacing an earlier one in place.
void set_env(std::vector<std::string>& env, const std::string& kv) {
    auto key = kv.substr(0, kv.find('='));
    for (auto& e : env) {
        if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=') {
            e = kv;
            return;
        }
    }
    env.push_back(kv);
}

spec::Process process_from_flags(const RuntimeContext& ctx, const Parsed& p) {
    if (p.has("process")) {
        std::string file = p.get("process");
        return with_context(file, [&] { return spec::parse_process(read_file(file), ""); });
    }
    if (p.args.size() < 2) throw Error(EINVAL, "exec: a command is required (or --process)");
    spec::Process proc = exec_base_process(ctx, p.args[0]);
    proc.args.assign(p.args.begin() + 1, p.args.end());
    if (p.has("cwd")) proc.cwd = p.get("cwd");
    if (p.has("apparmor")) proc.apparmorProfile = p.get("apparmor");
    if (p.has("process-label")) proc.selinuxLabel = p.get("process-label");
    for (const auto& c : p.all("cap")) {
        if (!proc.capabilities) proc.capabilities.emplace();
        auto& caps = *proc.capabilities;
        caps.bounding.push_back(c);
        caps.effective.push_back(c);
        caps.permitted.push_back(c);
        // Ambient needs the capability inheritable too: only where the
        // config already uses inheritable caps (runc's rule).
        if (!caps.inheritable.empty()) caps.ambient.push_back(c);
    }
    for (const auto& e : p.all("env")) {
        if (e.find('=') == std::string::npos) throw Error(EINVAL, "--env: expected KEY=VALUE, got \"" + e + "\"");
        set_env(proc.env, e);
    }
    proc.terminal = p.flag("tty");
    proc.consoleSize.reset();
    if (p.has("no-new-privs")) proc.noNewPrivileges = p.flag("no-new-privs");
    if (p.has("user")) {
        std::string u = p.get("user");
        auto colon = u.find(':');
        proc.user.uid = parse_id(u.substr(0, colon), "--user: uid");
        if (colon != std::string::npos) proc.user.gid = parse_id(u.substr(colon + 1), "--user: gid");
        proc.user.username.clear();
    }
    for (const auto& g : p.all("additional-gids"))
        proc.user.additionalGids.push_back(parse_id(g, "--additional-gids"));
    return proc;
}

// runc's --cgroup: one PATH for every controller, or CONTROLLER[,...]:PATH
// per controller, each named once.
std::map<std::string, std::string> sub_cgroups(const std::vector<std::string>& args) {
    std::map<std::string, std::string> out;
    for (const auto& a : args) {
        auto colon = a.find(':');
        if (colon == std::string::npos) {
            if (args.size() != 1)
                throw Error(EINVAL, "--cgroup " + a + ": give CONTROLLER:PATH when --cgroup is repeated");
            out[""] = a;
            continue;
        }
        if (a.find(':', colon + 1) != std::string::npos) throw Error(EINVAL, "--cgroup " + a + ": invalid argument");
        for (const auto& ctl : split(a.substr(0, colon), ',')) {
            if (ctl.empty()) throw Error(EINVAL, "--cgroup " + a + ": empty controller name");
            if (!out.emplace(ctl, a.substr(colon + 1)).second)
                throw Error(EINVAL, "--cgroup: controller " + ctl + " given more than once");
        }
    }
    return out;
}

int exec_process_from_flags(const RuntimeContext& ctx, const Parsed& p) {
    if (p.has("pidfd-socket")) throw Error(ENOTSUP, "exec --pidfd-socket is not supported yet");
    ExecOptions o;
    o.process = process_from_flags(ctx, p);
    o.console_socket = p.get("console-socket");
    o.pid_file = p.get("pid-file");
    o.detach = p.flag("detach");
    o.ignore_paused = p.flag("ignore-paused");
    if (p.has("preserve-fds")) o.preserve_fds = parse_uint(p.get("preserve-fds"), "--preserve-fds");
    o.sub_cgroups = sub_cgroups(p.all("cgroup"));
    return exec_container(ctx, p.args[0], o);
}

// runc exits 255 when the process could not be started, so a caller can
// tell that from the process's own exit status.
int cmd_exec(const RuntimeContext& ctx, const Parsed& p) {
    try {
        return exec_process_from_flags(ctx, p);
    } catch (const Error& e) {
        throw ExitFailure(255, Error(e).prefix("exec failed"));
    }
}

} // namespace

extern const std::vector<Command> exec_commands = {
    {"exec", "exec [OPTIONS] ID COMMAND [ARGS...]", "Run a process in a container.", exec_flags, cmd_exec, 1,
     SIZE_MAX, FlagOrder::leading, Operand::container,
     "Options go before ID: everything after it is the command and its arguments. In the foreground berth\n"
     "exits with the process's status (128+N when killed by signal N); when the process could not be\n"
     "started it exits 255, as runc does."},
};

} // namespace berth::cli
