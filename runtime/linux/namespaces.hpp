// Namespaces: which to create at clone, which to join by path, and the
// uid/gid maps of a new user namespace.
#pragma once

#include "config.hpp"
#include "fd.hpp"

#include <sys/types.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace berth {

int ns_clone_flag(spec::NsType t);

// CLONE_NEW* flags for the namespaces created by the clone itself. cgroup
// and time namespaces are never among them: a cgroup namespace is unshared
// once the init is in its cgroup, a time namespace before the clone (its
// offsets must be written before any process enters it).
uint64_t clone_flags(const spec::Linux& l);

// Opened namespace files to setns() into, user first.
struct NsJoin {
    spec::NsType type;
    UniqueFd fd;
};
// Open every linux.namespaces[].path (before any setns changes what paths mean).
std::vector<NsJoin> open_ns_paths(const spec::Linux& l);
void join_namespaces(std::vector<NsJoin>& joins);

// Parent side: write uid_map and gid_map of the child's new user namespace.
// An unprivileged parent must deny setgroups first, and may map only its
// own uid and gid (the kernel's rule).
void write_id_maps(pid_t pid, const spec::Linux& l, bool unprivileged);

// Parent side, before the clone: join a pid namespace by path and create a
// time namespace with its offsets, so the child is born in them. These
// change only where the caller's *children* are born; the returned guard
// puts that back when destroyed (right after the clone), so hooks and
// helpers the parent runs later are born in the runtime's namespaces.
class ParentNamespaces {
public:
    ParentNamespaces() = default;
    ParentNamespaces(ParentNamespaces&&) = default;
    ~ParentNamespaces();
    void restore();

private:
    friend ParentNamespaces prepare_parent_namespaces(const spec::Linux& l);
    UniqueFd pid_, time_;   // the caller's own, when changed
};
ParentNamespaces prepare_parent_namespaces(const spec::Linux& l);

} // namespace berth
