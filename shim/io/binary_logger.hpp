// binary:///PATH?ARG=VALUE&...: containerd's logging-binary protocol, as
// its runc shim speaks it. The logger runs as PATH ARG VALUE ... with the
// read ends of the process's stdout and stderr pipes as fds 3 and 4, and
// fd 5 the write end of a pipe it closes once it is ready; env
// CONTAINER_ID and CONTAINER_NAMESPACE name the container. The process
// writes into the pipes directly: the shim copies nothing.
#pragma once

#include "fd.hpp"

#include <sys/types.h>

#include <string>
#include <vector>

namespace berth::shim {

// PATH and the arguments a binary:// URI names (query keys and values,
// percent-decoded, in order). Throws Error(EINVAL) naming the URI.
std::vector<std::string> binary_logger_argv(const std::string& uri);

struct BinaryLogger {
    UniqueFd out, err;   // the process's ends
    pid_t pid = -1;      // reaped with the shim's other children
};

// Starts the logger and waits (up to timeout_ms) until it is ready.
// Throws Error naming the binary; nothing is left running on failure.
BinaryLogger start_binary_logger(const std::string& uri, const std::string& container_id, const std::string& ns,
                                 int timeout_ms = 10000);

} // namespace berth::shim
