// process.terminal: the pty is made inside the container (on its devpts),
// its master sent to the caller's --console-socket with SCM_RIGHTS exactly
// as runc does, and its slave becomes the process's controlling terminal,
// stdio and /dev/console.
#pragma once

#include "config.hpp"
#include "fd.hpp"

#include <string>

namespace berth {

// Parent side: connect to the caller's console socket (a path, no abstract names).
UniqueFd connect_console_socket(const std::string& path);

// Init side, after pivot_root: create the pty, send the master over sock,
// make the slave the controlling terminal and fds 0-2, and (for the init,
// not an exec'd process) bind it on /dev/console.
void setup_terminal(int sock, const spec::Process& p, bool bind_console = true);

// Send or receive one fd with a name string (the console-socket message).
void send_fd(int sock, int fd, const std::string& name);
UniqueFd recv_fd(int sock, std::string* name = nullptr);

} // namespace berth
