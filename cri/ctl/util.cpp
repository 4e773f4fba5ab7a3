// Helpers the runtime verbs share: crictl's durations, timestamps, label
// flags, regex filters and its inspect document.
#include "ctl.hpp"

#include "error.hpp"
#include "json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <regex>

namespace berth::ctl {

std::string human_duration_since(int64_t unix_ns) {
    auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
    double secs = static_cast<double>(now - unix_ns) / 1e9;
    auto n = [](double v) { return std::to_string(static_cast<long long>(v)); };
    // go-units HumanDuration: the same thresholds and words.
    if (secs < 1) return "Less than a second";
    if (static_cast<long long>(secs) == 1) return "1 second";
    if (secs < 60) return n(secs) + " seconds";
    double mins = secs / 60;
    if (static_cast<long long>(mins) == 1) return "About a minute";
    if (mins < 60) return n(mins) + " minutes";
    double hours = std::floor(secs / 3600 + 0.5);
    if (hours == 1) return "About an hour";
    if (hours < 48) return n(hours) + " hours";
    if (hours < 24 * 7 * 2) return n(hours / 24) + " days";
    if (hours < 24 * 30 * 2) return n(hours / 24 / 7) + " weeks";
    if (hours < 24 * 365 * 2) return n(hours / 24 / 30) + " months";
    return n(hours / 24 / 365) + " years";
}

std::string rfc3339_nano(int64_t unix_ns) {
    time_t secs = static_cast<time_t>(unix_ns / 1000000000);
    long frac = static_cast<long>(unix_ns % 1000000000);
    if (frac < 0) frac += 1000000000, --secs;
    struct tm tm {};
    localtime_r(&secs, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string s = buf;
    if (frac) {   // Go trims the fraction's trailing zeros
        char f[16];
        std::snprintf(f, sizeof f, ".%09ld", frac);
        std::string fs = f;
        while (fs.back() == '0') fs.pop_back();
        s += fs;
    }
    long off = tm.tm_gmtoff;
    if (off == 0) return s + "Z";
    char z[32];
    std::snprintf(z, sizeof z, "%c%02ld:%02ld", off < 0 ? '-' : '+', std::labs(off) / 3600, std::labs(off) % 3600 / 60);
    return s + z;
}

std::map<std::string, std::string> parse_labels(const Args& a) {
    std::map<std::string, std::string> m;
    auto it = a.flags.find("label");
    if (it == a.flags.end()) return m;
    for (const auto& l : it->second) {
        auto eq = l.find('=');
        if (eq == std::string::npos || l.find('=', eq + 1) != std::string::npos)
            throw Error(EINVAL, "incorrectly specified label: " + l + " (--label key=value)");
        m[l.substr(0, eq)] = l.substr(eq + 1);
    }
    return m;
}

bool matches_regex(const std::string& pattern, const std::string& s) {
    if (pattern.empty()) return true;
    try {
        return std::regex_search(s, std::regex(pattern, std::regex::extended));
    } catch (const std::regex_error&) {
        return false;   // crictl: a pattern that does not compile matches nothing
    }
}

int64_t int_flag(const Args& a, const std::string& name, int64_t def) {
    if (!a.has(name)) return def;
    std::string v = a.get(name);
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end || errno) throw Error(EINVAL, "--" + name + ": expected an integer, got \"" + v + "\"");
    return n;
}

namespace {

// Re-emits a parsed JSON value (yajl keeps numbers as text we can re-read).
void emit(json::Writer& w, const json::Value& v) {
    if (v.is_object()) {
        w.begin_object();
        for (const auto& [k, c] : v.members()) {
            w.key(k);
            emit(w, c);
        }
        w.end_object();
    } else if (v.is_array()) {
        w.begin_array();
        for (const auto& c : v.as_array()) emit(w, c);
        w.end_array();
    } else if (v.is_string()) {
        w.string(v.as_string());
    } else if (v.is_bool()) {
        w.boolean(v.as_bool());
    } else if (v.is_null()) {
        w.null();
    } else {
        try {
            w.int64(v.as_int64());
        } catch (const std::exception&) {
            w.number(v.as_double());   // fractions; uint64 beyond int64 is not in CRI's JSON
        }
    }
}

// Compact JSON indented as Go's json.Indent(.., "", "  ") does: two
// spaces, "key": value, empty objects and arrays kept as {} and [].
std::string indent_json(const std::string& in) {
    std::string out;
    int depth = 0;
    bool in_str = false;
    auto newline = [&] { out += '\n' + std::string(static_cast<size_t>(depth) * 2, ' '); };
    for (size_t i = 0; i < in.size(); ++i) {
        char ch = in[i];
        if (in_str) {
            out += ch;
            if (ch == '\\' && i + 1 < in.size()) out += in[++i];
            else if (ch == '"') in_str = false;
            continue;
        }
        switch (ch) {
        case '"': in_str = true; out += ch; break;
        case '{':
        case '[':
            if (i + 1 < in.size() && (in[i + 1] == '}' || in[i + 1] == ']')) {
                out += ch;
                out += in[++i];
                break;
            }
            out += ch;
            ++depth;
            newline();
            break;
        case '}':
        case ']':
            --depth;
            newline();
            out += ch;
            break;
        case ',': out += ch; newline(); break;
        case ':': out += ": "; break;
        case ' ': case '\n': case '\t': case '\r': break;
        default: out += ch;
        }
    }
    return out;
}

} // namespace

std::string json_with_times(const google::protobuf::Message& m, const std::map<std::string, int64_t>& times) {
    json::Document doc(to_json(m), "status");
    json::Writer w;
    w.begin_object();
    for (const auto& [k, v] : doc.root().members()) {
        w.key(k);
        if (auto t = times.find(k); t != times.end()) w.string(t->second ? rfc3339_nano(t->second) : "0001-01-01T00:00:00Z");
        else emit(w, v);
    }
    w.end_object();
    return w.str();
}

std::string status_document(
    const std::vector<std::pair<std::string, const google::protobuf::Map<std::string, std::string>*>>& items) {
    json::Writer w;
    if (items.size() != 1) w.begin_array();
    for (const auto& [status, info] : items) {
        w.begin_object();
        w.key("status");
        json::Document sd(status, "status");
        emit(w, sd.root());
        if (info && !info->empty()) {
            std::vector<std::string> keys;
            for (const auto& [k, v] : *info) keys.push_back(k);
            std::sort(keys.begin(), keys.end());
            // crictl: each key of the verbose info beside "status" (a
            // server's JSON objects nested, the rest strings).
            for (const auto& k : keys) {
                const std::string& v = info->at(k);
                w.key(k);
                if (!v.empty() && v.front() == '{') {
                    json::Document d(v, "info \"" + k + "\"");
                    emit(w, d.root());
                } else {
                    // Go's strings.Trim(v, `"`): the quotes at the ends.
                    size_t b = v.find_first_not_of('"'), e = v.find_last_not_of('"');
                    w.string(b == std::string::npos ? "" : v.substr(b, e - b + 1));
                }
            }
        }
        w.end_object();
    }
    if (items.size() != 1) w.end_array();
    return indent_json(w.str());
}

int for_each_id(const std::vector<std::string>& ids, const std::function<void(const std::string&)>& f) {
    int rc = 0;
    for (const auto& id : ids) {
        try {
            f(id);
        } catch (const std::exception& e) {
            std::fflush(stdout);
            std::fprintf(stderr, "berthctl: %s\n", e.what());
            rc = 1;
        }
    }
    return rc;
}

} // namespace berth::ctl
