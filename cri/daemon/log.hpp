// berthd's log: one line per event on stderr (journald adds its own time
// when run as a unit), logfmt as containerd writes it:
//   time="2026-12-07T03:00:00.123456789Z" level=info msg="pulled docker.io/library/busybox:latest"
// Thread-safe; a line is one write(2).
#pragma once

#include "daemon_config.hpp"

#include <string_view>

namespace berth::cri::log {

void set_level(LogLevel l);
bool enabled(LogLevel l);
void write(LogLevel l, std::string_view msg);

inline void error(std::string_view m) { write(LogLevel::error, m); }
inline void warn(std::string_view m) { write(LogLevel::warn, m); }
inline void info(std::string_view m) { write(LogLevel::info, m); }

} // namespace berth::cri::log

// The message is built only when debug is on.
#define BERTHD_DEBUG(expr)                                                       \
    do {                                                                         \
        if (::berth::cri::log::enabled(::berth::cri::LogLevel::debug))           \
            ::berth::cri::log::write(::berth::cri::LogLevel::debug, (expr));     \
    } while (0)
