#include "log.hpp"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

namespace berth::cri::log {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};

std::string now_rfc3339() {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    ::gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    size_t n = ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
    return buf;
}

void quote(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\', out += c;
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    out += '"';
}
} // namespace

void set_level(LogLevel l) { g_level = static_cast<int>(l); }
bool enabled(LogLevel l) { return static_cast<int>(l) >= g_level.load(std::memory_order_relaxed); }

void write(LogLevel l, std::string_view msg) {
    if (!enabled(l)) return;
    std::string line = "time=\"" + now_rfc3339() + "\" level=" + log_level_name(l) + " msg=";
    quote(line, msg);
    line += '\n';
    for (size_t off = 0; off < line.size();) {
        ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

} // namespace berth::cri::log
