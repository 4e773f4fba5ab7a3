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

} // namespace berth::cri
