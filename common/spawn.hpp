// Starting a program from a multi-threaded process (berthd): posix_spawn,
// vfork-like, with the child's signals unblocked and at their defaults
// whatever the calling thread had. Nothing else runs in the child before
// exec, so no thread's lock can be held there.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace berth {

struct SpawnOptions {
    std::vector<int> dev_null;                  // fds opened on /dev/null (0 for reading, others for writing)
    std::vector<std::pair<int, int>> dup2s;     // (from, to), after dev_null
    std::string cwd;                            // "": the caller's
    bool own_process_group = false;             // a group of its own, to kill with what it starts
};

// argv[0] is the program's name; env replaces the environment. Error
// naming `what` when it cannot be started.
pid_t spawn_process(const std::string& binary, const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    const SpawnOptions& o, const std::string& what);

} // namespace berth
