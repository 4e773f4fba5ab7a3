// OCI hooks: each runs with the container state JSON on stdin, its own args
// and env, and an optional timeout, at the moment and in the namespaces the
// runtime spec gives its kind.
#pragma once

#include "config.hpp"

#include <functional>
#include <string>
#include <vector>

namespace berth {

// Run one hook to completion, in `cwd` (empty: the caller's). Throws Error
// naming `field` (e.g. "hooks.createRuntime[1]") on a failure to start it,
// a non-zero exit, a signal or a timeout, with what it wrote to stderr.
// Hooks run in the bundle directory, as runc's do (it chdirs there).
void run_hook(const spec::Hook& h, const std::string& state_json, const std::string& field,
              const std::string& cwd = {});

// Run a list in order, stopping at the first failure (prestart,
// createRuntime, createContainer, startContainer: fatal by the spec).
void run_hooks(const std::vector<spec::Hook>& hooks, const std::string& state_json, const std::string& kind,
               const std::string& cwd = {});

// Run every hook of a list whose failures the spec makes warnings
// (poststart, poststop): each failure goes to `warn` and the rest still run.
void run_hooks_warn(const std::vector<spec::Hook>& hooks, const std::string& state_json, const std::string& kind,
                    const std::string& cwd, const std::function<void(const std::string&)>& warn);

} // namespace berth
