// berth-shim's own log: logrus-style lines on the `log` FIFO containerd
// reads from the bundle (or nowhere). Never stdio: berth-shim lends its
// fds 0-2 to the processes it creates.
#pragma once

#include <string>

namespace berth::shim {

void set_log_fd(int fd, bool debug);
void log_info(const std::string& msg);
void log_error(const std::string& msg);
void log_debug(const std::string& msg);

} // namespace berth::shim
