// The config `berth spec` writes: runc 1.1's `runc spec` (and --rootless),
// field for field, but for ociVersion (berth's) and the hostname.
#include "config.hpp"

#include "berth_config.h"

#include <unistd.h>

#include <algorithm>

namespace berth::spec {

namespace {

std::vector<std::string> default_caps() { return {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}; }

Process default_process() {
    Process p;
    p.terminal = true;
    p.args = {"sh"};
    p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
    p.cwd = "/";
    Capabilities caps;
    caps.bounding = default_caps();
    caps.effective = default_caps();
    caps.permitted = default_caps();
    caps.ambient = default_caps();
    p.capabilities = std::move(caps);
    p.rlimits = {{"RLIMIT_NOFILE", 1024, 1024}};
    p.noNewPrivileges = true;
    return p;
}

std::vector<Mount> default_mounts() {
    return {
        {"/proc", "proc", "proc", {}},
        {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
        {"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
        {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
        {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
        {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
        {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
    };
}

Linux default_linux() {
    Linux l;
    Resources r;
    r.devices = {{.allow = false, .access = "rwm"}};
    l.resources = std::move(r);
    for (NsType t : {NsType::pid, NsType::network, NsType::ipc, NsType::uts, NsType::mount})
        l.namespaces.push_back({t, ""});
    l.maskedPaths = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                     "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"};
    l.readonlyPaths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
    return l;
}

// `runc spec --rootless`: a user namespace mapping the caller to root, no
// network namespace (a rootless caller cannot set one up), host /sys bound
// in (sysfs cannot be mounted without owning the network namespace), no
// cgroup limits (no delegated cgroup to put them in), and no gid= options
// (gid 5 is not mapped).
void make_rootless(Config& c) {
    Linux& l = *c.linux;
    std::erase_if(l.namespaces, [](const Namespace& n) { return n.type == NsType::network || n.type == NsType::user; });
    l.namespaces.push_back({NsType::user, ""});
    l.uidMappings = {{0, static_cast<uint32_t>(::geteuid()), 1}};
    l.gidMappings = {{0, static_cast<uint32_t>(::getegid()), 1}};
    l.resources.reset();

    for (Mount& m : c.mounts) {
        if (m.destination == "/sys") {
            m = {"/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}};
            continue;
        }
        std::erase_if(m.options, [](const std::string& o) { return o.starts_with("gid=") || o.starts_with("uid="); });
    }
}

} // namespace

Config default_config(bool rootless) {
    Config c;
    c.ociVersion = BERTH_OCI_VERSION;
    c.process = default_process();
    c.root = {"rootfs", true};
    c.hostname = "berth";
    c.mounts = default_mounts();
    c.linux = default_linux();
    if (rootless) make_rootless(c);
    return c;
}

} // namespace berth::spec
