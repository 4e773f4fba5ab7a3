// berthctl exec: crictl's exec. -s (ExecSync) runs the command to its end
// and prints its stdout and stderr; berthctl exits with its exit code.
// Streaming exec (Exec, the default in crictl) comes with the streaming
// server.
#include "ctl.hpp"

#include "error.hpp"

#include <cstdio>

namespace berth::ctl {

namespace v1 = runtime::v1;

namespace {

int exec(Client& c, const Args& a) {
    if (a.pos.size() < 2)
        throw Error(EINVAL, "exec: usage: berthctl exec -s [OPTIONS] CONTAINER-ID COMMAND [ARG...]");
    if (!a.has("sync"))
        throw Error(ENOTSUP, "exec: streaming exec is not supported yet, use -s (--sync) to run the command with ExecSync");
    if (a.has("tty") || a.has("interactive"))
        throw Error(EINVAL, "exec: -s cannot be used with -t or -i (ExecSync has no stdin or terminal)");
    int64_t timeout = int_flag(a, "timeout", 0);
    if (timeout < 0) throw Error(EINVAL, "--timeout: seconds expected, got " + a.get("timeout"));
    v1::ExecSyncRequest req;
    req.set_container_id(a.pos[0]);
    for (size_t i = 1; i < a.pos.size(); ++i) req.add_cmd(a.pos[i]);
    req.set_timeout(timeout);
    v1::ExecSyncResponse resp;
    // No deadline of our own without --timeout: the command may take long.
    auto ctx = c.context(timeout ? c.timeout() + std::chrono::seconds(timeout) : std::chrono::milliseconds(0));
    Client::check(c.runtime().ExecSync(ctx.get(), req, &resp),
                  ("execing command in container \"" + a.pos[0] + "\": ExecSync").c_str());
    std::fwrite(resp.stdout().data(), 1, resp.stdout().size(), stdout);
    std::fflush(stdout);
    std::fwrite(resp.stderr().data(), 1, resp.stderr().size(), stderr);
    return resp.exit_code();
}

} // namespace

std::vector<Verb> exec_verbs() {
    return {
        {"exec", "exec -s [OPTIONS] CONTAINER-ID COMMAND [ARG...]", "Run a command in a running container",
         {{"sync", false, 's', "run the command synchronously (ExecSync); required for now"},
          {"timeout", true, 0, "seconds the command may run with -s (0: no limit)"},
          {"interactive", false, 'i', "keep stdin open (streaming exec: not supported yet)"},
          {"tty", false, 't', "allocate a terminal (streaming exec: not supported yet)"}},
         exec, Operand::container, true},
    };
}

} // namespace berth::ctl
