// sd_notify passthrough, as runc does it, so a service manager (systemd, or
// podman --sdnotify=container) learns when the container's process is
// ready rather than when it was started:
//  - create, with NOTIFY_SOCKET in berth's environment, binds the state
//    dir's notify/ onto /run/notify in the container and sets
//    NOTIFY_SOCKET=/run/notify/notify.sock for its process;
//  - start binds that socket before letting the process run, then waits
//    for a READY= line from the container (or its init's exit) and
//    forwards it, with MAINPID=<init>, to the host's NOTIFY_SOCKET.
#pragma once

#include "config.hpp"
#include "fd.hpp"

#include <string>

namespace berth {

// The host socket from the environment, or "" (unset, or empty).
std::string host_notify_socket();

// Create STATE_DIR/notify and add its mount and env to the config.
void notify_setup_spec(spec::Config& cfg, const std::string& state_dir);

class NotifyListener {
public:
    // Bind STATE_DIR/notify/notify.sock; inactive when the container was
    // created without a notify dir.
    static NotifyListener bind(const std::string& state_dir);
    bool active() const { return static_cast<bool>(sock_); }
    // Block until the container sends READY= (forwarded with MAINPID=pid to
    // host) or the process behind init_pidfd exits.
    void forward_ready(const std::string& host, int init_pidfd, pid_t pid);

private:
    UniqueFd sock_;
};

} // namespace berth
