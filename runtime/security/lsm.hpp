// AppArmor and SELinux labels for the container process, applied on exec.
#pragma once

#include "config.hpp"

namespace berth {

bool apparmor_enabled();
bool selinux_enabled();

// Arrange for process.apparmorProfile and process.selinuxLabel to take
// effect at the next execve. AppArmor is ignored when the host has it
// disabled (as runc does); a SELinux label that cannot be applied is an
// error naming the field.
void apply_exec_labels(const spec::Process& p);

} // namespace berth
