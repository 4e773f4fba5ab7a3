// runc-compatible logging: text or JSON lines to --log FILE or stderr. In a
// file the lines are runc's: logrus text (time="..." level=debug msg="...")
// or JSON ({"level","msg","time"}); containerd's runc shim reads the last
// "error" line of the JSON log, so the format is part of the CLI contract.
// On stderr, text lines are for people: "berth: [LEVEL: ]msg".
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
    bool debug_enabled() const { return debug_; }
    void debug(std::string_view msg) const { if (debug_) log(LogLevel::debug, msg); }
    void warn(std::string_view msg) const { log(LogLevel::warning, msg); }
    void error(std::string_view msg) const { log(LogLevel::error, msg); }

private:
    int fd_ = 2;
    bool json_ = false;
    bool debug_ = false;
};

// A debug line (--debug) from a Logger pointer that may be null; the message
// is only built when debug lines are on, so a step logged on the hot path
// costs one branch otherwise.
#define BERTH_DEBUG(logger, ...)                                                        \
    do {                                                                                \
        if (const ::berth::Logger* berth_log_ = (logger); berth_log_ && berth_log_->debug_enabled()) \
            berth_log_->log(::berth::LogLevel::debug, __VA_ARGS__);                     \
    } while (0)

std::string_view level_name(LogLevel l);
// Current time as RFC 3339 with nanoseconds, UTC ("2026-11-22T19:00:00.123456789Z").
std::string rfc3339_now();

} // namespace berth
