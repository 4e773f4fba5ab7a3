#include "log.hpp"

#include "error.hpp"
#include "json.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

namespace berth {

Logger::~Logger() {
    if (fd_ > 2) ::close(fd_);
}

void Logger::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw_errno("open log file " + path);
    if (fd_ > 2) ::close(fd_);
    fd_ = fd;
}

std::string_view level_name(LogLevel l) {
    switch (l) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
    }
    return "info";
}

std::string rfc3339_now() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t;
    gmtime_r(&ts.tv_sec, &t);
    char buf[64];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
    snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
    return buf;
}

void Logger::log(LogLevel level, std::string_view msg) const {
    std::string line;
    if (json_) {
        json::Writer w;
        w.begin_object().kv("level", level_name(level)).kv("msg", msg).kv("time", rfc3339_now()).end_object();
        line = w.str();
    } else if (fd_ == 2) {
        line = "berth: ";
        if (level != LogLevel::error) line += std::string(level_name(level)) + ": ";
        line += msg;
    } else {
        // logrus's text format, as runc writes it: the message quoted.
        line = "time=\"" + rfc3339_now() + "\" level=" + std::string(level_name(level)) + " msg=\"";
        for (char c : msg) {
            if (c == '"' || c == '\\') line += '\\';
            if (c == '\n') line += "\\n";
            else line += c;
        }
        line += '"';
    }
    line += '\n';
    // One write per line keeps lines whole when several processes share the file.
    [[maybe_unused]] ssize_t r = ::write(fd_, line.data(), line.size());
}

} // namespace berth
