// One CNI plugin call: the binary found in the plugin dirs, run with the
// CNI_* environment and its config on stdin, its result read from stdout.
// berthd is multi-threaded, so the plugin is started with posix_spawn; it
// enters the pod's network namespace itself (CNI_NETNS), berthd never does.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace berth::cri::net {

struct PluginCall {
    std::string command;        // ADD, DEL, CHECK
    std::string container_id;   // the pod's id
    std::string netns;          // its pinned network namespace
    std::string ifname = "eth0";
    std::string args;           // CNI_ARGS: "K=V;K=V"
    std::vector<std::string> bin_dirs;
    std::chrono::milliseconds timeout{60000};
};

// The plugin `type`'s stdout on success. Errors: ENOENT for a plugin in no
// bin dir; ETIMEDOUT for one that did not finish in time (it is killed,
// with anything it started in its process group); EIO for a failure,
// with the plugin's error object (code, msg, details) in the message.
std::string run_plugin(const std::string& type, const std::string& config, const PluginCall& call);

} // namespace berth::cri::net
