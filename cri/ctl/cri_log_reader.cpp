// Reading CRI container logs (see cri_log.hpp).
#include "cri_log_reader.hpp"

#include "error.hpp"

#include <cctype>
#include <cstdlib>
#include <ctime>

namespace berth::ctl {

namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

} // namespace

std::optional<int64_t> parse_rfc3339(std::string_view s) {
    int Y, M, D, h, m, sec;
    if (!digits(s, 0, 4, Y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, M) || s[7] != '-' ||
        !digits(s, 8, 2, D) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) || s[13] != ':' ||
        !digits(s, 14, 2, m) || s[16] != ':' || !digits(s, 17, 2, sec))
        return std::nullopt;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
    size_t i = 19;
    int64_t frac = 0;
    if (i < s.size() && s[i] == '.') {
        size_t n = 0;
        for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++n)
            if (n < 9) frac = frac * 10 + (s[i] - '0');
        if (n == 0) return std::nullopt;
        for (; n < 9; ++n) frac *= 10;
    }
    int64_t off = 0;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
        ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(s, i + 4, 2, om))
            return std::nullopt;
        off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    struct tm tm {};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    int64_t t = static_cast<int64_t>(timegm(&tm)) - off;
    return t * 1000000000 + frac;
}

std::optional<LogEntry> parse_cri_log_line(std::string_view line) {
    LogEntry e;
    auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return std::nullopt;
    auto t = parse_rfc3339(line.substr(0, sp1));
    if (!t) return std::nullopt;
    e.time = std::string(line.substr(0, sp1));
    e.time_ns = *t;
    auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return std::nullopt;
    auto stream = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (stream == "stderr") e.is_stderr = true;
    else if (stream != "stdout") return std::nullopt;
    // The tag: P or F, possibly more ':'-separated tags after it (kubelet
    // reads only the first). Content follows one space, and may be empty.
    auto sp3 = line.find(' ', sp2 + 1);
    auto tag = line.substr(sp2 + 1, sp3 == std::string_view::npos ? std::string_view::npos : sp3 - sp2 - 1);
    auto first = tag.substr(0, tag.find(':'));
    if (first == "P") e.partial = true;
    else if (first != "F") return std::nullopt;
    if (sp3 != std::string_view::npos) e.content = std::string(line.substr(sp3 + 1));
    return e;
}

int64_t parse_since(const std::string& s, int64_t now_ns) {
    if (auto t = parse_rfc3339(s)) return *t;
    // A Go duration: [number unit]+ with h, m, s, ms.
    double total = 0;
    size_t i = 0;
    while (i < s.size()) {
        char* end = nullptr;
        double v = std::strtod(s.c_str() + i, &end);
        size_t j = static_cast<size_t>(end - s.c_str());
        if (j == i) break;
        size_t k = j;
        while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) ++k;
        std::string unit = s.substr(j, k - j);
        double mult = unit == "h" ? 3600e9 : unit == "m" ? 60e9 : unit == "s" ? 1e9 : unit == "ms" ? 1e6 : -1;
        if (mult < 0) break;
        total += v * mult;
        i = k;
    }
    if (s.empty() || i != s.size() || total < 0)
        throw Error(EINVAL, "--since: expected an RFC3339 time or a duration such as 10s, 42m or 1h, got \"" + s + "\"");
    return now_ns - static_cast<int64_t>(total);
}

void LogParser::feed(std::string_view bytes, std::vector<LogLine>& out) {
    carry_.append(bytes);
    size_t start = 0;
    for (;;) {
        auto nl = carry_.find('\n', start);
        if (nl == std::string::npos) break;
        std::string_view line(carry_.data() + start, nl - start);
        start = nl + 1;
        auto e = parse_cri_log_line(line);
        if (!e) {
            ++malformed_;
            continue;
        }
        auto& p = pending_[e->is_stderr];
        if (!p) p = LogLine{e->time, e->time_ns, e->is_stderr, "", true};
        p->text += e->content;
        if (!e->partial) {
            out.push_back(std::move(*p));
            p.reset();
        }
    }
    carry_.erase(0, start);
}

void LogParser::finish(std::vector<LogLine>& out) {
    for (auto& p : pending_)
        if (p) {
            p->complete = false;
            out.push_back(std::move(*p));
            p.reset();
        }
}

std::vector<LogLine> select_lines(std::vector<LogLine> lines, const LogOptions& o) {
    std::vector<LogLine> r;
    for (auto& l : lines)
        if (o.since_ns == 0 || l.time_ns >= o.since_ns) r.push_back(std::move(l));
    if (o.tail >= 0 && static_cast<size_t>(o.tail) < r.size()) r.erase(r.begin(), r.end() - o.tail);
    return r;
}

std::string format_line(const LogLine& l, bool timestamps) {
    std::string s;
    if (timestamps) s = l.time + " ";
    s += l.text;
    if (l.complete) s += '\n';
    return s;
}

} // namespace berth::ctl
