// create, run, start, kill, delete.
#include "commands.hpp"
#include "error.hpp"

#include <climits>
#include <cstdint>
#include <cstdlib>

namespace berth::cli {

namespace {

const std::vector<Flag> create_flags = {
    {"bundle", 'b', true, "path to the bundle directory (default: current directory)", "DIR"},
    {"console-socket", 0, true, "unix socket that receives the pty master of a terminal container", "PATH"},
    {"pidfd-socket", 0, true, "unix socket that receives a pidfd of the init", "PATH"},
    {"pid-file", 0, true, "write the init's host pid to this file", "FILE"},
    {"no-pivot", 0, false, "use MS_MOVE and chroot instead of pivot_root"},
    {"no-new-keyring", 0, false, "keep the caller's session keyring"},
    {"preserve-fds", 0, true, "pass N fds after stdio (and LISTEN_FDS) to the container", "N"},
};

std::vector<Flag> run_flags() {
    auto f = create_flags;
    f.push_back({"detach", 'd', false, "do not wait for the container to exit"});
    f.push_back({"keep", 0, false, "keep the container's state after it exits"});
    f.push_back({"no-subreaper", 0, false, "accepted for runc compatibility"});
    return f;
}

CreateOptions create_options(const Parsed& p) {
    CreateOptions o;
    o.bundle = p.get("bundle", ".");
    o.pid_file = p.get("pid-file");
    o.console_socket = p.get("console-socket");
    o.no_pivot = p.flag("no-pivot");
    o.no_new_keyring = p.flag("no-new-keyring");
    if (p.has("pidfd-socket")) throw Error(ENOTSUP, "--pidfd-socket is not supported yet");
    if (p.has("preserve-fds")) o.preserve_fds = parse_uint(p.get("preserve-fds"), "--preserve-fds");
    // Socket-activated fds (LISTEN_FDS) pass through as runc passes them.
    if (const char* lf = std::getenv("LISTEN_FDS")) {
        try {
            o.preserve_fds += parse_uint(lf, "LISTEN_FDS");
        } catch (const Error&) {
        }
    }
    return o;
}

int cmd_create(const RuntimeContext& ctx, const Parsed& p) {
    create_container(ctx, p.args[0], create_options(p));
    return 0;
}

int cmd_run(const RuntimeContext& ctx, const Parsed& p) {
    return run_container(ctx, p.args[0], create_options(p), p.flag("detach"), p.flag("keep"));
}

int cmd_start(const RuntimeContext& ctx, const Parsed& p) {
    start_container(ctx, p.args[0]);
    return 0;
}

int cmd_kill(const RuntimeContext& ctx, const Parsed& p) {
    int sig = p.args.size() > 1 ? parse_signal(p.args[1]) : SIGTERM;
    kill_container(ctx, p.args[0], sig, p.flag("all"));
    return 0;
}

int cmd_delete(const RuntimeContext& ctx, const Parsed& p) {
    delete_container(ctx, p.args[0], p.flag("force"));
    return 0;
}

} // namespace

extern const std::vector<Command> lifecycle_commands = {
    {"create", "create [OPTIONS] ID", "Create a container from a bundle; its process waits for `start`.",
     create_flags, cmd_create, 1, 1, FlagOrder::anywhere, Operand::new_id,
     "The bundle's config.json is read and validated, the container's namespaces, cgroup, mounts, devices\n"
     "and process are set up, and its process waits, not yet executed, until `berth start ID`. A failed\n"
     "create leaves no state, cgroup, mount or process behind."},
    {"run", "run [OPTIONS] ID", "Create and start a container; in the foreground, exit with its status.",
     run_flags(), cmd_run, 1, 1, FlagOrder::anywhere, Operand::new_id,
     "In the foreground (without --detach) berth forwards signals to the container's process, relays a\n"
     "terminal when process.terminal is true and no --console-socket is given, deletes the container when\n"
     "it exits (unless --keep) and exits with its status (128+N when killed by signal N)."},
    {"start", "start ID", "Start the user process of a created container.", {}, cmd_start, 1, 1},
    {"kill", "kill [OPTIONS] ID [SIGNAL]", "Send a signal (default SIGTERM) to the container's init.",
     {{"all", 'a', false, "signal every process in the container's cgroup"}}, cmd_kill, 1, 2, FlagOrder::anywhere,
     Operand::container,
     "SIGNAL is a name (KILL, SIGKILL, RTMIN+1) or a number; 0 sends nothing and only checks that the\n"
     "container is running. A stopped container fails with \"container not running\" (runc's words)."},
    {"delete", "delete [OPTIONS] ID", "Delete a stopped (or, with --force, any) container and its resources.",
     {{"force", 'f', false, "kill a running container first; succeed if it does not exist"}}, cmd_delete, 1, 1},
};

} // namespace berth::cli
