// The berth commands, each a function over parsed flags. These tables are
// the one source of the CLI's help, its man pages and its shell completions
// (docgen.cpp), so what they say is what the parser accepts.
#pragma once

#include "args.hpp"
#include "container.hpp"
#include "error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace berth::cli {

using RunFn = int (*)(const RuntimeContext& ctx, const Parsed& p);

// A command under a command: `berth cdi generate nvidia [OPTIONS]`.
struct Subcommand {
    std::vector<std::string> words;   // {"generate", "nvidia"}
    const char* synopsis;             // after "berth "
    const char* what;
    std::vector<Flag> flags;
    RunFn run;
};

// What the positionals name, for completion.
enum class Operand { none, new_id, container };

struct Command {
    const char* name;
    const char* synopsis;
    const char* what;
    std::vector<Flag> flags;
    RunFn run;
    size_t min_args;
    size_t max_args;   // SIZE_MAX: any
    FlagOrder order = FlagOrder::anywhere;
    Operand operand = Operand::container;   // the first positional
    const char* details = nullptr;          // more for --help and the man page
    std::vector<Subcommand> subcommands;    // run is then unused
};

const std::vector<Command>& commands();
const Command* find_command(std::string_view name);
const std::vector<Flag>& global_flags();

// A failure whose exit status is not 1: runc exits 255 when exec could not
// start the process, and clients look at that.
struct ExitFailure : Error {
    ExitFailure(int status, const Error& e) : Error(e), status(status) {}
    int status;
};

} // namespace berth::cli
