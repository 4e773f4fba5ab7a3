// The pod's init: pid 1 of a pod's own pid namespace (only a pod whose
// containers share one pid namespace has it). It is a forked copy of
// berth-shim, execs nothing, holds no fd, and reaps what the kernel
// reparents to it (orphans of the pod's containers) until SIGTERM (as
// kubernetes' pause does) or SIGKILL. Every other signal stays blocked.
//
// It is cloned with CLONE_PARENT by the short-lived child that made the
// pod's namespaces, so its parent is the shim itself (which reaps it), and
// its parent-death signal is SIGKILL: a shim killed with -9 takes the pod's
// pid namespace, and so every process in it, down with it.
#pragma once

#include <sys/types.h>

#include <span>

namespace berth::shim {

// Called after unshare(CLONE_NEWPID) by a child of the shim: starts the
// init (the shim's child) and returns its pid once its parent-death signal
// is armed. title: the process's argv area, which the init overwrites with
// its name (what ps shows). Throws Error.
pid_t start_pod_init(std::span<char> title);

} // namespace berth::shim
