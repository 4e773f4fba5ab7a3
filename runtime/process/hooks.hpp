// OCI hooks: each runs with the container state JSON on stdin, its own args
// and env, and an optional timeout, at the moment and in the namespaces the
// runtime spec gives its kind.
#pragma once

#include "config.hpp"

#include <string>
#include <vector>

namespace berth {

// Run one hook to completion. Throws Error naming `field` (e.g.
// "hooks.createRuntime[1]") on a failure to start it, a non-zero exit, a
// signal or a timeout, with what it wrote to stderr.
void run_hook(const spec::Hook& h, const std::string& state_json, const std::string& field);

// Run a list in order, stopping at the first failure.
void run_hooks(const std::vector<spec::Hook>& hooks, const std::string& state_json, const std::string& kind);

} // namespace berth
