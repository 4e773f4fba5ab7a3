// berthctl's exec and attach over a streaming URL: WebSocket with the
// Kubernetes channel protocol (v5.channel.k8s.io, else v4 from servers
// that stop there, as containerd 1.6's). Our stdin, stdout and stderr are
// the command's; with a terminal, ours is put in raw mode and its size
// (now and on every SIGWINCH) goes on the resize channel.
#pragma once

#include <chrono>
#include <string>

namespace berth::ctl {

struct RemoteCommandOptions {
    bool stdin = false;   // copy our stdin; its end closes the command's (v5)
    bool tty = false;     // the command has a terminal (its stderr is in its stdout)
    std::chrono::milliseconds dial_timeout{10000};
};

// Runs the command at url to its end. Returns its exit code; throws Error
// when the stream failed or the server reported an error that is not an
// exit code (the container is gone, the command does not exist).
int run_remote_command(const std::string& url, const RemoteCommandOptions& o);

} // namespace berth::ctl
