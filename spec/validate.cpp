// Semantic checks on a parsed config, before anything is created: each error
// names the field so a bad bundle fails with a precise message here rather
// than as an errno deep in the container init. Reads nothing but the bundle's
// rootfs (stat).
#include "config.hpp"

#include "error.hpp"

#include <sys/stat.h>

#include <set>
#include <string>

namespace berth::spec {

namespace {

[[noreturn]] void invalid(std::string msg) { throw Error(EINVAL, std::move(msg)); }

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string at(std::string_view base, size_t i) { return std::string(base) + "[" + std::to_string(i) + "]"; }

bool is_abs(std::string_view p) { return !p.empty() && p[0] == '/'; }

void require_abs(const std::string& field, std::string_view p) {
    if (!is_abs(p)) invalid(field + ": not an absolute path: " + quoted(p));
}

bool has_ns(const Config& c, NsType t) { return c.linux && c.linux->find_ns(t) != nullptr; }

void require_ns(const Config& c, NsType t, std::string_view field) {
    if (!has_ns(c, t))
        invalid(std::string(field) + ": requires a " + std::string(ns_type_name(t)) + " namespace");
}

void check_version(const std::string& v) {
    if (v.empty()) invalid("ociVersion: missing");
    // Any 1.x is accepted: minor versions only add fields.
    if (v != "1" && v.rfind("1.", 0) != 0) invalid("ociVersion: unsupported version " + quoted(v));
}

void check_root(const Root& r, const std::string& bundle) {
    if (r.path.empty()) invalid("root.path: missing");
    std::string path = is_abs(r.path) || bundle.empty() ? r.path : bundle + "/" + r.path;
    struct stat st;
    if (::stat(path.c_str(), &st) < 0) throw_errno("root.path: " + path);
    if (!S_ISDIR(st.st_mode)) throw_errno(ENOTDIR, "root.path: " + path);
}

void check_rlimits(const std::vector<Rlimit>& rlimits) {
    std::set<std::string_view> seen;
    for (size_t i = 0; i < rlimits.size(); ++i) {
        const Rlimit& r = rlimits[i];
        std::string f = at("process.rlimits", i);
        if (rlimit_resource(r.type) < 0) invalid(f + ".type: unknown rlimit " + quoted(r.type));
        if (!seen.insert(r.type).second) invalid(f + ".type: duplicate rlimit " + quoted(r.type));
        // setrlimit would fail with a bare EINVAL inside the init.
        if (r.soft > r.hard)
            invalid(f + ": soft limit " + std::to_string(r.soft) + " exceeds hard limit " + std::to_string(r.hard));
    }
}

void check_process(const Process& p) {
    if (p.args.empty()) invalid("process.args: must not be empty");
    require_abs("process.cwd", p.cwd);
    check_rlimits(p.rlimits);
}

void check_mounts(const std::vector<Mount>& mounts) {
    // A relative destination is allowed (read as relative to "/"), an empty one is not.
    for (size_t i = 0; i < mounts.size(); ++i)
        if (mounts[i].destination.empty()) invalid(at("mounts", i) + ".destination: must not be empty");
}

void check_hook_list(std::string_view name, const std::vector<Hook>& hooks) {
    for (size_t i = 0; i < hooks.size(); ++i) {
        std::string f = at("hooks." + std::string(name), i);
        require_abs(f + ".path", hooks[i].path);
        if (hooks[i].timeout && *hooks[i].timeout <= 0)
            invalid(f + ".timeout: must be greater than zero");
    }
}

void check_hooks(const Hooks& h) {
    check_hook_list("prestart", h.prestart);
    check_hook_list("createRuntime", h.createRuntime);
    check_hook_list("createContainer", h.createContainer);
    check_hook_list("startContainer", h.startContainer);
    check_hook_list("poststart", h.poststart);
    check_hook_list("poststop", h.poststop);
}

void check_namespaces(const std::vector<Namespace>& nss) {
    bool seen[8] = {};
    for (size_t i = 0; i < nss.size(); ++i) {
        const Namespace& ns = nss[i];
        std::string f = at("linux.namespaces", i);
        bool& s = seen[static_cast<size_t>(ns.type)];
        if (s) invalid(f + ": duplicate namespace " + quoted(ns_type_name(ns.type)));
        s = true;
        if (!ns.path.empty()) require_abs(f + ".path", ns.path);
    }
}

void check_time_offsets(const Config& c) {
    const auto& offsets = c.linux->timeOffsets;
    if (offsets.empty()) return;
    require_ns(c, NsType::time, "linux.timeOffsets");
    for (auto& [clock, off] : offsets) {
        std::string f = "linux.timeOffsets." + clock;
        if (clock != "monotonic" && clock != "boottime")
            invalid(f + ": unknown clock (want monotonic or boottime)");
        if (off.nanosecs >= 1000000000) invalid(f + ".nanosecs: must be less than 1000000000");
    }
}

void check_devices(const std::vector<Device>& devices) {
    for (size_t i = 0; i < devices.size(); ++i) {
        const Device& d = devices[i];
        std::string f = at("linux.devices", i);
        if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
            invalid(f + ".type: unknown device type " + quoted(d.type));
        require_abs(f + ".path", d.path);
    }
}

void check_propagation(const std::string& p) {
    static constexpr std::string_view kModes[] = {
        "", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable",
    };
    for (auto m : kModes)
        if (p == m) return;
    invalid("linux.rootfsPropagation: unknown propagation " + quoted(p));
}

void check_device_cgroup(const std::vector<DeviceCgroup>& rules) {
    for (size_t i = 0; i < rules.size(); ++i) {
        const DeviceCgroup& r = rules[i];
        std::string f = at("linux.resources.devices", i);
        if (!r.type.empty() && r.type != "a" && r.type != "c" && r.type != "b")
            invalid(f + ".type: unknown device type " + quoted(r.type));
        if (r.access.find_first_not_of("rwm") != std::string::npos)
            invalid(f + ".access: invalid access " + quoted(r.access) + " (want a subset of rwm)");
    }
}

// As the kernel's dev_valid_name(): at most IFNAMSIZ-1 bytes, not "." or
// "..", no '/', ':' or whitespace.
bool valid_netdev_name(std::string_view n) {
    if (n.empty() || n.size() > 15 || n == "." || n == "..") return false;
    return n.find_first_of("/: \t\n\r\v\f") == std::string_view::npos;
}

void check_net_devices(const Config& c) {
    const auto& devs = c.linux->netDevices;
    if (devs.empty()) return;
    // Moving a device into the host's own namespace would do nothing useful.
    require_ns(c, NsType::network, "linux.netDevices");
    for (auto& [host, name] : devs) {
        std::string f = "linux.netDevices." + host;
        if (!valid_netdev_name(host)) invalid(f + ": invalid network device name " + quoted(host));
        if (!valid_netdev_name(name)) invalid(f + ".name: invalid network device name " + quoted(name));
    }
}

// A sysctl is written from inside the container, so it must belong to a
// namespace the container has; anything else would change the host (runc's
// rules). Which namespace is joined by path is checked by the runtime.
void check_sysctls(const Config& c) {
    static const std::set<std::string> ipc_keys = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
                                                   "kernel.sem",    "kernel.shmall", "kernel.shmmax",
                                                   "kernel.shmmni", "kernel.shm_rmid_forced"};
    for (auto& [key, value] : c.linux->sysctl) {
        std::string f = "linux.sysctl[" + quoted(key) + "]";
        if (key.empty()) invalid("linux.sysctl: key must not be empty");
        if (key.find('/') != std::string::npos || key.find("..") != std::string::npos)
            invalid(f + ": invalid key");
        if (ipc_keys.count(key) || key.rfind("fs.mqueue.", 0) == 0) require_ns(c, NsType::ipc, f);
        else if (key == "kernel.hostname" || key == "kernel.domainname") require_ns(c, NsType::uts, f);
        else if (key.rfind("net.", 0) == 0) require_ns(c, NsType::network, f);
        else invalid(f + ": not namespaced; setting it would change the host");
    }
}

void check_linux(const Config& c) {
    const Linux& l = *c.linux;
    check_namespaces(l.namespaces);
    if (!l.uidMappings.empty()) require_ns(c, NsType::user, "linux.uidMappings");
    if (!l.gidMappings.empty()) require_ns(c, NsType::user, "linux.gidMappings");
    check_time_offsets(c);
    check_devices(l.devices);
    check_propagation(l.rootfsPropagation);
    if (l.resources) check_device_cgroup(l.resources->devices);
    check_sysctls(c);
    check_net_devices(c);
}

} // namespace

void validate_config(const Config& c, const std::string& bundle) {
    check_version(c.ociVersion);
    check_root(c.root, bundle);
    if (c.process) check_process(*c.process);
    check_mounts(c.mounts);
    check_hooks(c.hooks);
    if (c.linux) check_linux(c);
    // runc refuses these too: they would change the host's names.
    if (!c.hostname.empty()) require_ns(c, NsType::uts, "hostname");
    if (!c.domainname.empty()) require_ns(c, NsType::uts, "domainname");
}

} // namespace berth::spec
