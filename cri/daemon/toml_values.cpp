#include "toml_values.hpp"

#include "error.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace berth::cri::tomlv {

void bad(const std::string& file, const std::string& key, const std::string& why) {
    throw Error(EINVAL, file + ": " + key + ": " + why);
}

std::string want_string(const toml::node& n, const std::string& file, const std::string& key) {
    auto v = n.value<std::string>();
    if (!n.is_string() || !v) bad(file, key, "expected a string");
    return *v;
}

int64_t want_int(const toml::node& n, const std::string& file, const std::string& key, int64_t lo, int64_t hi) {
    if (!n.is_integer()) bad(file, key, "expected an integer");
    int64_t v = *n.value<int64_t>();
    if (v < lo || v > hi) bad(file, key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return v;
}

bool want_bool(const toml::node& n, const std::string& file, const std::string& key) {
    if (!n.is_boolean()) bad(file, key, "expected true or false");
    return *n.value<bool>();
}

std::string want_abs_path(const toml::node& n, const std::string& file, const std::string& key) {
    std::string s = want_string(n, file, key);
    if (s.empty() || s.front() != '/') bad(file, key, "expected an absolute path, got \"" + s + "\"");
    return s;
}

std::string want_opt_abs_path(const toml::node& n, const std::string& file, const std::string& key) {
    if (n.is_string() && n.value<std::string>().value_or("x").empty()) return "";
    return want_abs_path(n, file, key);
}

std::chrono::seconds want_duration(const toml::node& n, const std::string& file, const std::string& key) {
    // The same bound for "168h" as for 604800: a count of seconds this large
    // still fits a time point in nanoseconds when added to now.
    constexpr long long max = 86400 * 7;
    if (n.is_integer()) return std::chrono::seconds(want_int(n, file, key, 0, max));
    std::string s = want_string(n, file, key);
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    bool range = errno == ERANGE;
    std::string unit = end ? end : "";
    long long mult = unit == "s" || unit.empty() ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : -1;
    if (s.empty() || end == s.c_str() || v < 0 || mult < 0)
        bad(file, key, "expected a duration such as \"30s\", \"5m\" or \"1h\", got \"" + s + "\"");
    if (range || v > max / mult) bad(file, key, "\"" + s + "\" is more than 7 days (168h)");
    return std::chrono::seconds(v * mult);
}

std::vector<std::string> want_strings(const toml::node& n, const std::string& file, const std::string& key) {
    const toml::array* a = n.as_array();
    if (!a) bad(file, key, "expected an array of strings");
    std::vector<std::string> out;
    for (size_t i = 0; i < a->size(); ++i) out.push_back(want_string(*a->get(i), file, key + "[" + std::to_string(i) + "]"));
    return out;
}

const toml::table& want_table(const toml::node& n, const std::string& file, const std::string& key) {
    const toml::table* t = n.as_table();
    if (!t) bad(file, key, "expected a table ([" + key + "])");
    return *t;
}

int64_t want_size(const toml::node& n, const std::string& file, const std::string& key) {
    if (n.is_integer()) return want_int(n, file, key, 0, INT64_MAX);
    std::string s = want_string(n, file, key);
    auto fail = [&] {
        bad(file, key, "expected a size such as \"64m\", \"1.5g\" or a number of bytes, got \"" + s + "\"");
    };
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end == s.c_str() || !std::isfinite(v) || v < 0 || !std::isdigit(static_cast<unsigned char>(s[0])))
        fail();
    std::string unit(end);
    if (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
    for (auto& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    // go-units' RAMInBytes: [kmgtp] with an optional "i" and "b"; "b" alone is bytes.
    double mult = 1;
    if (!unit.empty() && unit != "b") {
        static const std::string letters = "kmgtp";
        auto at = letters.find(unit[0]);
        if (at == std::string::npos) fail();
        std::string tail = unit.substr(1);
        if (tail != "" && tail != "b" && tail != "i" && tail != "ib") fail();
        mult = std::pow(1024.0, static_cast<double>(at + 1));
    }
    double bytes = v * mult;
    if (bytes >= 9.2e18) bad(file, key, "\"" + s + "\" is too large");
    return static_cast<int64_t>(bytes);
}

double want_cpus(const toml::node& n, const std::string& file, const std::string& key) {
    double v;
    if (n.is_integer() || n.is_floating_point()) {
        v = *n.value<double>();
    } else {
        std::string s = want_string(n, file, key);
        char* end = nullptr;
        v = std::strtod(s.c_str(), &end);
        if (s.empty() || *end) bad(file, key, "expected a number of CPUs such as 1.5, got \"" + s + "\"");
    }
    if (!std::isfinite(v) || v <= 0 || v > 4096) bad(file, key, "expected a number of CPUs more than 0");
    return v;
}

} // namespace berth::cri::tomlv
