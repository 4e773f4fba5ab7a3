// runc-style argument parsing: global flags, a command, then its flags and
// positionals in any order, as runc's CLI reorders them (`update ID
// --memory 1g`). Flags take "--name value", "--name=value", "-name value"
// (Go's single dash) and "-x value"; "--" ends the flags.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace berth::cli {

struct Flag {
    const char* name;     // long name
    char short_name;      // 0 when none
    bool takes_value;
    const char* help;
    const char* value_name = nullptr;   // in help and man pages (default VALUE); FILE, DIR and PATH complete as paths
    bool repeatable = false;            // each value kept (Parsed::all); completion offers it again
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

// Where flags may appear among the positionals.
enum class FlagOrder {
    anywhere,        // before, between and after them (runc's reordering)
    leading,         // only before the first one; the rest are arguments (exec ID CMD -x, ps ID -ef)
    until_command,   // before the first one, which is left unparsed (the global flags)
};

struct ParseOptions {
    FlagOrder order = FlagOrder::anywhere;
    // The global flags, so one given after the command gets a hint saying
    // where it goes, naming `command`.
    const std::vector<Flag>* globals = nullptr;
    std::string_view command;
};

// Parse argv[i..]. Throws Error(EINVAL) naming an unknown flag or a missing
// value. Advances i (with until_command, to the command).
Parsed parse(const std::vector<std::string>& argv, size_t& i, const std::vector<Flag>& flags,
             const ParseOptions& o = {});

// A non-negative int-sized number; errors name `what` ("--preserve-fds").
unsigned parse_uint(const std::string& s, const std::string& what);

// Write to stdout (no iostreams: their static init costs resident memory).
void print(const std::string& s);

// "  -b, --bundle DIR   help" lines, the help text's options table.
std::string flag_table(const std::vector<Flag>& flags);
std::string usage(const std::string& synopsis, const std::string& what, const std::vector<Flag>& flags);

} // namespace berth::cli
