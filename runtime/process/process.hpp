// The last steps of the init before exec: limits, identity, environment.
#pragma once

#include "config.hpp"

#include <string>
#include <vector>

namespace berth {

void apply_rlimits(const spec::Process& p);
void apply_personality(const spec::Linux& l);
// After joining a user namespace: become its root (uid and gid 0 must be mapped).
void become_userns_root();
// A new session keyring "_ses.<id>" (where the kernel has keyrings), as runc does.
void join_session_keyring(const std::string& id);
// setgroups (unless denied, rootless), setresgid, setresuid.
void apply_user(const spec::Process& p, bool setgroups_denied = false);
// The executable for args[0]: as given when it holds a '/', else the first
// match in the process's PATH. Resolved inside the container (after pivot).
std::string find_executable(const spec::Process& p);
// execve exe with args and env. Returns only on failure (errno set).
void exec_process(const std::string& exe, const std::vector<std::string>& args, const std::vector<std::string>& env);
// process.env, plus HOME from the container's /etc/passwd when unset.
std::vector<std::string> process_env(const spec::Process& p);

} // namespace berth
