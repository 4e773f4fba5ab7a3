// The berth commands, each a function over parsed flags.
#pragma once

#include "args.hpp"
#include "container.hpp"

#include <string>
#include <vector>

namespace berth::cli {

struct Command {
    const char* name;
    const char* synopsis;
    const char* what;
    std::vector<Flag> flags;
    int (*run)(const RuntimeContext& ctx, const Parsed& p);
    size_t min_args;
    size_t max_args;   // SIZE_MAX: any
};

const std::vector<Command>& commands();

} // namespace berth::cli
