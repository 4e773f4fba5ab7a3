// The cgroup berthd makes for a pod whose config names no cgroup parent
// (no kubelet made one): a dir under the configured parent (cgroupfs) or a
// transient slice unit (systemd), with the pod's limits, removed with it.
#pragma once

#include "config.hpp"

#include <optional>
#include <string>

namespace berth::cri {

// The name berthd gives pod `id`'s cgroup under `parent`: "<parent>/pod-<id16>"
// (cgroupfs), or "<parent stem>-pod<id16>.slice" (systemd: nested by name).
std::string own_pod_cgroup_name(const std::string& parent, bool systemd, const std::string& id);

// Make it (for systemd: start the slice), with `limits` when given. One
// that is already there (an execution config's, made by an earlier Run)
// gets `limits` set on it (for systemd: as unit properties too).
void make_pod_cgroup(const std::string& name, bool systemd, const std::string& id,
                     const std::optional<spec::Resources>& limits);

// Remove it once its containers are gone; logs what it cannot remove.
void remove_pod_cgroup(const std::string& name, bool systemd, const std::string& id);

// The cgroup `name` sits in: its parent dir (cgroupfs), or the slice its
// name nests it in (systemd: "a-b.slice" is in "a.slice").
std::string parent_cgroup_name(const std::string& name, bool systemd);

// Remove cgroup `name` if nothing is in it (no process, no cgroup below):
// rmdir (cgroupfs), or stop its slice (systemd). True when it is gone; a
// cgroup in use is kept, quietly; other failures are logged. The caller
// keeps anything from being made under it meanwhile.
bool remove_cgroup_if_empty(const std::string& name, bool systemd);

} // namespace berth::cri
