// The CRI container log (kubelet's format, as containerd and CRI-O write
// it): one record per line, "RFC3339Nano-TIMESTAMP STREAM TAG CONTENT\n",
// STREAM stdout or stderr, TAG F for a whole line or P for a piece of a
// line longer than max_line (the last piece is F). stdout and stderr of a
// process share the file; each record is one O_APPEND write, so records of
// the two streams never interleave within a line.
#pragma once

#include "fd.hpp"

#include <time.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace berth::shim {

enum class Stream : unsigned char { stdout_ = 1, stderr_ = 2 };

// One record: "2026-11-23T00:35:13.123456789Z stdout F hello\n" (UTC, nine
// fraction digits: sorts as text, parses as RFC 3339).
std::string cri_record(const timespec& at, Stream s, bool partial, std::string_view content);

class CriLog {
public:
    // containerd's default max_container_log_line_size.
    static constexpr size_t max_line = 16 * 1024;
    using Clock = std::function<timespec()>;

    // Opens (creates) path for appending. Throws Error naming the path.
    explicit CriLog(std::string path, Clock clock = {});
    // Output of one stream, in any pieces: whole lines become F records, a
    // line longer than max_line P records then an F; an unterminated tail
    // waits for the rest (at most max_line bytes are held per stream).
    void write(Stream s, std::string_view data);
    // The stream ended: its unterminated tail becomes an F record.
    void finish(Stream s);
    // Close and open the path again (the manager renamed the file to
    // rotate it). Throws Error; the old file stays in use on failure.
    void reopen();
    const std::string& path() const { return path_; }

private:
    void emit(Stream s, std::string_view content, bool partial);
    std::string path_;
    Clock clock_;
    UniqueFd fd_;
    std::string pending_[2];
    bool write_failed_ = false;
};

} // namespace berth::shim
