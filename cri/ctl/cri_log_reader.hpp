// The CRI container log format, read as crictl (kubelet's logs package)
// reads it: one entry a line, "RFC3339Nano STREAM TAG CONTENT", STREAM
// stdout or stderr, TAG P (partial: the line continues in the next entry
// of the same stream) or F (full). Partial entries are joined into one line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::ctl {

struct LogEntry {
    std::string time;   // as written: RFC3339Nano
    int64_t time_ns = 0;
    bool is_stderr = false;
    bool partial = false;
    std::string content;
};

// A whole line (without its '\n') as an entry; nullopt when malformed.
std::optional<LogEntry> parse_cri_log_line(std::string_view line);

// RFC3339 (with or without a fraction, Z or an offset) as Unix ns; nullopt
// when malformed.
std::optional<int64_t> parse_rfc3339(std::string_view s);

// --since: an RFC3339 time or a duration before now (42m, 1h30m, 10s).
int64_t parse_since(const std::string& s, int64_t now_ns);

// A logical line: its fragments joined, the first fragment's time.
struct LogLine {
    std::string time;
    int64_t time_ns = 0;
    bool is_stderr = false;
    std::string text;   // without '\n'
    bool complete = true;   // false: the file ended inside a partial line
};

// Bytes of a log file in, logical lines out. Bytes may end mid-line: the
// rest waits for the next feed (a log being written, or followed).
class LogParser {
public:
    void feed(std::string_view bytes, std::vector<LogLine>& out);
    // The file is done (no more writes): pending fragments come out as
    // lines of their own, marked incomplete.
    void finish(std::vector<LogLine>& out);
    // Lines skipped as malformed so far.
    size_t malformed() const { return malformed_; }
    // A rotated or truncated file starts afresh: drop a half-read line.
    void reset_carry() { carry_.clear(); }

private:
    std::string carry_;
    std::optional<LogLine> pending_[2];   // by stream
    size_t malformed_ = 0;
};

struct LogOptions {
    int64_t tail = -1;       // the last N lines only; -1: all
    int64_t since_ns = 0;    // lines from then on; 0: all
    bool timestamps = false;
};

// Applies --since and --tail to the lines of a file read to its end.
std::vector<LogLine> select_lines(std::vector<LogLine> lines, const LogOptions& o);
// A line as printed: "TIME " when timestamps, the text and '\n' (none
// after an incomplete last line).
std::string format_line(const LogLine& l, bool timestamps);

} // namespace berth::ctl
