#include "log.hpp"

#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace berth::shim {

namespace {
int g_fd = -1;        // set once in main
bool g_debug = false;

void emit(const char* level, const std::string& msg) {
    if (g_fd < 0) return;
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    tm t;
    ::gmtime_r(&ts.tv_sec, &t);
    char when[64];
    std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", t.tm_year + 1900, t.tm_mon + 1,
                  t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec);
    std::string m;
    for (char c : msg) {
        if (c == '"' || c == '\\') m += '\\';
        m += c == '\n' ? ' ' : c;
    }
    std::string line = std::string("time=\"") + when + "\" level=" + level + " msg=\"" + m + "\" runtime=berth-shim\n";
    [[maybe_unused]] ssize_t n = ::write(g_fd, line.data(), line.size());
}
} // namespace

void set_log_fd(int fd, bool debug) {
    g_fd = fd;
    g_debug = debug;
}
void log_info(const std::string& msg) { emit("info", msg); }
void log_error(const std::string& msg) { emit("error", msg); }
void log_debug(const std::string& msg) {
    if (g_debug) emit("debug", msg);
}

} // namespace berth::shim
