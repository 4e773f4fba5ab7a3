#include "args.hpp"

#include "error.hpp"

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace berth::cli {

bool Parsed::flag(const std::string& f) const {
    auto it = values.find(f);
    return it != values.end() && it->second != "false";
}

namespace {
const Flag* find_long(const std::vector<Flag>& flags, const std::string& name) {
    for (const auto& f : flags)
        if (name == f.name) return &f;
    return nullptr;
}
const Flag* find_short(const std::vector<Flag>& flags, char c) {
    for (const auto& f : flags)
        if (f.short_name && f.short_name == c) return &f;
    return nullptr;
}
} // namespace

Parsed parse(const std::vector<std::string>& argv, size_t& i, const std::vector<Flag>& flags,
             const ParseOptions& o) {
    Parsed p;
    bool only_positional = false;
    for (; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (only_positional || a.size() < 2 || a[0] != '-') {
            if (o.order == FlagOrder::until_command) return p;
            p.args.push_back(a);
            if (o.order == FlagOrder::leading) only_positional = true;
            continue;
        }
        if (a == "--") {
            only_positional = true;
            continue;
        }
        std::string body = a.substr(a[1] == '-' ? 2 : 1);
        std::string value;
        bool has_value = false;
        if (auto eq = body.find('='); eq != std::string::npos) {
            value = body.substr(eq + 1);
            body = body.substr(0, eq);
            has_value = true;
        }
        const Flag* f = find_long(flags, body);
        if (!f && a[1] != '-' && body.size() == 1) f = find_short(flags, body[0]);
        if (!f) {
            const Flag* g = o.globals ? find_long(*o.globals, body) : nullptr;
            if (g) {
                std::string use = "--" + std::string(g->name) + (g->takes_value ? " VALUE" : "");
                throw Error(EINVAL, "flag " + a + " is a global flag: give it before the command, as in `berth " +
                                        use + " " + std::string(o.command) + " ...`");
            }
            throw Error(EINVAL, "unknown flag " + a);
        }
        if (f->takes_value && !has_value) {
            if (i + 1 >= argv.size()) throw Error(EINVAL, "flag --" + std::string(f->name) + " needs a value");
            value = argv[++i];
        } else if (!f->takes_value && !has_value) {
            value = "true";
        }
        p.values[f->name] = value;
        p.lists[f->name].push_back(value);
    }
    return p;
}

unsigned parse_uint(const std::string& s, const std::string& what) {
    char* end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(s.c_str(), &end, 10);
    if (s.empty() || s[0] == '-' || *end || errno || v > INT_MAX)
        throw Error(EINVAL, what + ": invalid number \"" + s + "\"");
    return static_cast<unsigned>(v);
}

void print(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

std::string flag_table(const std::vector<Flag>& flags) {
    std::string s;
    for (const auto& f : flags) {
        std::string left = "  ";
        if (f.short_name) left += std::string("-") + f.short_name + ", ";
        else left += "    ";
        left += std::string("--") + f.name;
        if (f.takes_value) left += std::string(" ") + (f.value_name ? f.value_name : "VALUE");
        if (left.size() < 34) left.resize(34, ' ');
        else left += "  ";
        s += left + f.help + "\n";
    }
    return s;
}

std::string usage(const std::string& synopsis, const std::string& what, const std::vector<Flag>& flags) {
    std::string s = "Usage: berth " + synopsis + "\n\n" + what + "\n";
    if (!flags.empty()) s += "\nOptions:\n" + flag_table(flags);
    return s;
}

} // namespace berth::cli
