// linux.resources.devices on cgroup v2: there are no devices.allow/deny
// files; a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the container's
// cgroup decides every open and mknod of a device node.
//
// Semantics (as runc's devices emulator, decided per access bit): for each
// of r, w and m the LAST rule that matches the device (type, major, minor)
// and names that bit decides it; a bit no rule names is denied. A request
// (e.g. open O_RDWR = r+w) is allowed only when every bit it asks for is.
// Type "a" (or empty) matches block and char devices; an absent major or
// minor matches any; an empty access means "rwm" (as in the v1 writer).
#pragma once

#include <linux/bpf.h>

#include "config.hpp"
#include "fd.hpp"

#include <vector>

namespace berth {

// The program for the rules. Throws Error(EINVAL) naming the rule for a type
// or access the spec does not allow.
std::vector<struct bpf_insn> device_program(const std::vector<spec::DeviceCgroup>& rules);

// bpf(BPF_PROG_LOAD). On failure the Error carries the verifier's log.
UniqueFd load_device_program(const std::vector<struct bpf_insn>& insns);

// Attach prog_fd to the cgroup2 directory and detach every device program
// attached there before (an `update` replaces the old filter). The new
// program is attached before the old ones are detached, so the cgroup is
// never without a filter; in between both apply (the stricter of the two).
void attach_device_program(int cgroup_dir_fd, int prog_fd);

} // namespace berth
