// runc-style argument parsing: global flags, a command, its flags, then
// positionals. Flags take "--name value", "--name=value", "-name value"
// (Go's single dash) and "-x value".
#pragma once

#include <map>
#include <string>
#include <vector>

namespace berth::cli {

struct Flag {
    const char* name;     // long name
    char short_name;      // 0 when none
    bool takes_value;
    const char* help;
};

struct Parsed {
    std::map<std::string, std::string> values;   // flag name -> value ("true" for booleans); the last one given
    std::map<std::string, std::vector<std::string>> lists;   // flag name -> every value, in order (exec -e)
    std::vector<std::string> args;               // positionals
    bool has(const std::string& f) const { return values.count(f) > 0; }
    std::string get(const std::string& f, const std::string& def = "") const {
        auto it = values.find(f);
        return it == values.end() ? def : it->second;
    }
    bool flag(const std::string& f) const;   // boolean flag set (and not "false")
    std::vector<std::string> all(const std::string& f) const {
        auto it = lists.find(f);
        return it == lists.end() ? std::vector<std::string>{} : it->second;
    }
};

// Parse argv[i..] until the first positional when stop_at_positional (the
// global flags before the command), or all of them. Throws Error(EINVAL)
// naming an unknown flag or a missing value. Advances i.
Parsed parse(const std::vector<std::string>& argv, size_t& i, const std::vector<Flag>& flags,
             bool stop_at_positional);

// A non-negative int-sized number; errors name `what` ("--preserve-fds").
unsigned parse_uint(const std::string& s, const std::string& what);

// Write to stdout (no iostreams: their static init costs resident memory).
void print(const std::string& s);

std::string usage(const std::string& synopsis, const std::string& what, const std::vector<Flag>& flags);

} // namespace berth::cli
