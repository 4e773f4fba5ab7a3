// Passing one fd over a unix socket (SCM_RIGHTS) with a message: the sync
// socket's seccomp fd, the console socket's pty master, the seccomp listener.
#pragma once

#include "fd.hpp"

#include <cstddef>

namespace berth {

// Send len bytes of data with fd attached (fd < 0: none).
void send_with_fd(int sock, const void* data, size_t len, int fd, const char* what);
// Receive a message into buf; an attached fd (CLOEXEC) goes to `fd`.
// Returns the byte count (0 at EOF). Throws EPROTO if more than one fd came.
size_t recv_with_fd(int sock, void* buf, size_t len, UniqueFd& fd, const char* what);

} // namespace berth
