// runc-compatible logging: text or JSON lines ({"level","msg","time"}) to
// --log FILE or stderr. containerd's runc shim reads the last "error" line
// of the JSON log, so the format is part of the CLI contract.
#pragma once

#include <string>
#include <string_view>

namespace berth {

enum class LogLevel { debug, info, warning, error };

class Logger {
public:
    Logger() = default;
    ~Logger();
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    // Throws Error if the file can't be opened.
    void open(const std::string& path);
    void set_json(bool json) { json_ = json; }
    void set_debug(bool debug) { debug_ = debug; }
    // True when log lines go to a file (not stderr).
    bool to_file() const { return fd_ != 2; }

    void log(LogLevel level, std::string_view msg) const;
    void debug(std::string_view msg) const { if (debug_) log(LogLevel::debug, msg); }
    void warn(std::string_view msg) const { log(LogLevel::warning, msg); }
    void error(std::string_view msg) const { log(LogLevel::error, msg); }

private:
    int fd_ = 2;
    bool json_ = false;
    bool debug_ = false;
};

std::string_view level_name(LogLevel l);
// Current time as RFC 3339 with nanoseconds, UTC ("2026-11-22T19:00:00.123456789Z").
std::string rfc3339_now();

} // namespace berth
