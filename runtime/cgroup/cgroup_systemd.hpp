// The systemd cgroup driver (`--systemd-cgroup`), runc's semantics: the
// container's cgroup is a transient scope unit (or a slice) that systemd
// creates and removes; every linux.resources field is still written by the
// cgroupfs driver on the unit's cgroup. Declared here for cgroup_fs.cpp's
// factories and the unit tests; the rest of berth sees cgroup::Manager.
#pragma once

#include "cgroup.hpp"
#include "dbus.hpp"

#include <memory>
#include <string>
#include <vector>

namespace berth::cgroup::systemd {

// A container's unit, from linux.cgroupsPath "slice:prefix:name".
struct Unit {
    std::string slice;          // the parent slice unit: "system.slice"
    std::string name;           // "prefix-name.scope", or "name" when it ends in ".slice"
    std::string path;           // its cgroup from the hierarchy root: "/system.slice/prefix-name.scope"
    std::string cgroups_path;   // the cgroupsPath with the slice filled in, as state.json keeps it
    bool is_slice() const { return name.ends_with(".slice"); }
};

// systemd's slice naming: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice",
// "-.slice" (the root slice) -> "/". Throws Error(EINVAL) for an invalid name.
std::string expand_slice(const std::string& slice);

// cgroupsPath in runc's systemd form; empty: ":berth:<id>". An empty slice
// is system.slice (user.slice when rootless). Errors name linux.cgroupsPath.
Unit parse_path(const std::string& cgroups_path, const std::string& id, bool rootless);

// "0-2,5" -> systemd's AllowedCPUs/AllowedMemoryNodes bitmask: byte i holds
// CPUs 8i..8i+7, lowest bit first, no trailing zero bytes. Errors name field.
std::vector<uint8_t> cpuset_bits(const std::string& list, const std::string& field);

// The unit properties ("(sv)" structs) for linux.resources that systemd
// would otherwise reset when it re-applies the unit's settings: cgroup v2
// names (MemoryMax, CPUWeight, ...) or v1 ones (MemoryLimit, CPUShares, ...).
// Properties newer than `version` are left to the cgroupfs writes.
std::vector<dbus::Value> resource_properties(const spec::Resources& r, bool v2, int version);

// The StartTransientUnit call that makes unit u for pid (a scope; a slice
// gets no PIDs), with the resource properties appended.
dbus::Message start_message(const Unit& u, pid_t pid, bool v2, std::vector<dbus::Value> resource_props);

// systemd's version from its Version property ("252.38-1~deb12u1" -> 252; -1 if none).
int parse_version(const std::string& v);

// The driver over the given hierarchies. is_new: a container being created
// (its unit is started by add()); else one whose unit exists (from state.json).
std::unique_ptr<Manager> open_manager(std::vector<Hierarchy> hs, Unit u, std::vector<std::string> created, bool is_new);

// Connect to systemd: its private socket as root, else the system bus.
// Throws "--systemd-cgroup: systemd is not running (...)" when neither answers.
dbus::Connection connect();

} // namespace berth::cgroup::systemd
