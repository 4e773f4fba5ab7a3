// CVE-2019-5736 in the shim. Until a new container's init (or an exec'd
// process) execs, it is a clone of berth-shim; a container whose processes
// could reach it (no pid namespace of its own, or CAP_SYS_PTRACE: see
// exe_seal.hpp) could open /proc/PID/exe and write the shim's binary on the
// host. The berth CLI re-executes itself from a sealed memfd for such
// containers; the long-lived shim can't, so it hands just that create or
// exec to a short-lived helper: a fork that re-executes berth-shim from a
// sealed copy (`berth-shim _create|_exec ...`), does the work with
// libberth, reports the pid and exits. The new process is then re-parented
// to the shim, a subreaper. Other containers are created in-process.
#pragma once

#include "config.hpp"
#include "container.hpp"

#include <string>

namespace berth::shim {

// Whether a process created for this bundle's container (and, for exec,
// this process) must not be a clone of the shim's binary on disk.
bool needs_sealed_create(const std::string& bundle);
bool needs_sealed_exec(const std::string& bundle, const spec::Process& p);

// Create (or exec, detached) through the sealed helper. The caller's fds
// 0-2 (lent stdio) and console_fd pass to the new process as in-process
// calls would. Returns its pid; throws Error with the helper's error.
pid_t sealed_create(const RuntimeContext& ctx, const std::string& id, const std::string& bundle, int console_fd);
pid_t sealed_exec(const RuntimeContext& ctx, const std::string& id, const std::string& process_json, bool terminal,
                  int console_fd);

// The helper's side: main() calls this for argv[1] "_create" or "_exec".
int sealed_helper_main(int argc, char** argv);

} // namespace berth::shim
