#include "cri_log.hpp"

#include "error.hpp"
#include "log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace berth::shim {

namespace {

UniqueFd open_log(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640));
    if (!fd) throw_errno("open log " + path);
    return fd;
}

timespec realtime() {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return ts;
}

size_t index(Stream s) { return s == Stream::stderr_ ? 1 : 0; }

} // namespace

std::string cri_record(const timespec& at, Stream s, bool partial, std::string_view content) {
    tm t;
    ::gmtime_r(&at.tv_sec, &t);
    char head[64];
    int n = std::snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ %s %c ", t.tm_year + 1900,
                          t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, at.tv_nsec,
                          s == Stream::stderr_ ? "stderr" : "stdout", partial ? 'P' : 'F');
    std::string r;
    r.reserve(static_cast<size_t>(n) + content.size() + 1);
    r.append(head, static_cast<size_t>(n));
    r.append(content);
    r.push_back('\n');
    return r;
}

CriLog::CriLog(std::string path, Clock clock)
    : path_(std::move(path)), clock_(clock ? std::move(clock) : Clock(realtime)), fd_(open_log(path_)) {}

void CriLog::write(Stream s, std::string_view data) {
    std::string& pend = pending_[index(s)];
    while (!data.empty()) {
        auto nl = data.find('\n');
        if (nl == std::string_view::npos) {
            pend.append(data);
            break;
        }
        pend.append(data.substr(0, nl));
        data.remove_prefix(nl + 1);
        // A whole line: its pieces beyond max_line first, then the F. A
        // "\r\n" ending (a terminal's) goes as containerd's ReadLine drops it.
        std::string_view line = pend;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        while (line.size() > max_line) {
            emit(s, line.substr(0, max_line), true);
            line.remove_prefix(max_line);
        }
        emit(s, line, false);
        pend.clear();
    }
    // An unterminated line longer than max_line: a piece goes out once we
    // know more follows it, so a line of exactly max_line stays one F.
    if (pend.size() > max_line) {
        size_t off = 0;
        while (pend.size() - off > max_line) {
            emit(s, std::string_view(pend).substr(off, max_line), true);
            off += max_line;
        }
        pend.erase(0, off);
    }
}

void CriLog::finish(Stream s) {
    std::string& pend = pending_[index(s)];
    if (!pend.empty()) emit(s, pend, false);
    pend.clear();
}

void CriLog::reopen() {
    fd_ = open_log(path_);
    write_failed_ = false;
}

void CriLog::emit(Stream s, std::string_view content, bool partial) {
    std::string rec = cri_record(clock_(), s, partial, content);
    size_t off = 0;
    while (off < rec.size()) {
        ssize_t n = ::write(fd_.get(), rec.data() + off, rec.size() - off);
        if (n > 0) {
            off += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        // A full disk must not stop the container: the record is lost, said once.
        if (!write_failed_) log_error("log " + path_ + ": " + std::strerror(errno) + ": records dropped");
        write_failed_ = true;
        return;
    }
    write_failed_ = false;
}

} // namespace berth::shim
