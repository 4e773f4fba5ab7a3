// CVE-2019-5736: until the container init execs, it *is* the berth binary,
// and a container process that can reach it (same pid namespace, and
// CAP_SYS_PTRACE or a dumpable init) could open /proc/PID/exe and later
// write through it, replacing berth on the host. berth then runs from a
// sealed memfd copy of itself, so that file can never be written.
#pragma once

#include "config.hpp"

#include <functional>

namespace berth {

// True when this process runs from a sealed memfd copy.
bool exe_is_sealed();

// True when processes of this container could reach its waiting init:
// it has no pid namespace of its own (or joins one), or it may hold
// CAP_SYS_PTRACE, which overrides the init's non-dumpable guard.
bool needs_sealed_exe(const spec::Config& c);

// Copy /proc/self/exe into a sealed memfd and execve it with argv.
// Returns only on failure (throws Error).
void reexec_sealed(char** argv);

} // namespace berth
