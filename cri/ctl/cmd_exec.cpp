// berthctl exec, attach and port-forward: crictl's. exec runs the command
// over the streaming server by default (Exec, then the URL it returns), or
// to its end with ExecSync under -s; attach joins a running container's
// stdio (Attach); port-forward carries local connections to a port in a
// pod (PortForward). The streams are WebSocket (cri/ctl/stream).
#include "ctl.hpp"

#include "error.hpp"
#include "stream/port_forward.hpp"
#include "stream/remote_command.hpp"

#include <cstdio>

namespace berth::ctl {

namespace v1 = runtime::v1;

namespace {

std::chrono::milliseconds dial_timeout(const Client& c) { return std::max(c.timeout(), std::chrono::milliseconds(5000)); }

int exec_sync(Client& c, const Args& a) {
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

int exec(Client& c, const Args& a) {
    if (a.pos.size() < 2) throw Error(EINVAL, "exec: usage: berthctl exec [OPTIONS] CONTAINER-ID COMMAND [ARG...]");
    if (a.has("sync")) return exec_sync(c, a);
    if (a.has("timeout")) throw Error(EINVAL, "exec: --timeout needs -s (a streaming exec runs until the command ends)");
    v1::ExecRequest req;
    req.set_container_id(a.pos[0]);
    for (size_t i = 1; i < a.pos.size(); ++i) req.add_cmd(a.pos[i]);
    bool tty = a.has("tty"), in = a.has("interactive");
    req.set_tty(tty);
    req.set_stdin(in);
    req.set_stdout(true);
    req.set_stderr(!tty);   // a terminal has one output
    v1::ExecResponse resp;
    auto ctx = c.context();
    Client::check(c.runtime().Exec(ctx.get(), req, &resp), ("execing command in container \"" + a.pos[0] + "\": Exec").c_str());
    std::fflush(stdout);
    return run_remote_command(resp.url(), {in, tty, dial_timeout(c)});
}

int attach(Client& c, const Args& a) {
    if (a.pos.size() != 1) throw Error(EINVAL, "attach: usage: berthctl attach [OPTIONS] CONTAINER-ID");
    v1::AttachRequest req;
    req.set_container_id(a.pos[0]);
    bool tty = a.has("tty"), in = a.has("interactive");
    req.set_tty(tty);
    req.set_stdin(in);
    req.set_stdout(true);
    req.set_stderr(!tty);
    v1::AttachResponse resp;
    auto ctx = c.context();
    Client::check(c.runtime().Attach(ctx.get(), req, &resp), ("attaching to container \"" + a.pos[0] + "\": Attach").c_str());
    std::fflush(stdout);
    return run_remote_command(resp.url(), {in, tty, dial_timeout(c)});
}

int port_forward(Client& c, const Args& a) {
    if (a.pos.size() < 2) throw Error(EINVAL, "port-forward: usage: berthctl port-forward POD-ID [LOCAL_PORT:]REMOTE_PORT...");
    std::string pod = a.pos[0];
    std::vector<PortPair> pairs;
    for (size_t i = 1; i < a.pos.size(); ++i) pairs.push_back(parse_port_pair(a.pos[i]));
    auto url = [&c, pod](uint16_t remote) {
        v1::PortForwardRequest req;
        req.set_pod_sandbox_id(pod);
        req.add_port(remote);
        v1::PortForwardResponse resp;
        auto ctx = c.context();
        Client::check(c.runtime().PortForward(ctx.get(), req, &resp),
                      ("port forward to pod \"" + pod + "\": PortForward").c_str());
        return resp.url();
    };
    // Asked once before listening, so a wrong pod id fails at once rather
    // than at the first connection.
    url(pairs[0].remote);
    run_port_forward(pairs, url, dial_timeout(c));
}

} // namespace

std::vector<Verb> exec_verbs() {
    return {
        {"exec", "exec [OPTIONS] CONTAINER-ID COMMAND [ARG...]", "Run a command in a running container",
         {{"sync", false, 's', "run the command to its end with ExecSync, then print its output"},
          {"timeout", true, 0, "seconds the command may run with -s (0: no limit)"},
          {"interactive", false, 'i', "copy stdin to the command"},
          {"tty", false, 't', "give the command a terminal"}},
         exec, Operand::container, true},
        {"attach", "attach [OPTIONS] CONTAINER-ID", "Attach to a running container",
         {{"interactive", false, 'i', "copy stdin to the container"},
          {"tty", false, 't', "the container has a terminal (as it was created)"}},
         attach, Operand::container},
        {"port-forward", "port-forward POD-ID [LOCAL_PORT:]REMOTE_PORT...", "Forward local ports to a pod",
         {}, port_forward, Operand::pod},
    };
}

} // namespace berth::ctl
