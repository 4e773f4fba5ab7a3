// CreateContainer's OCI spec: the CRI ContainerConfig, its pod and the
// image config -> a config.json for the pod's shim, the way containerd's CRI
// plugin builds it (internal/cri/server/container_create*.go and
// internal/cri/opts/spec_linux*.go). No process is spawned and nothing is
// mounted here; the only side effects are containerd's: a missing host path
// of a mount is created as a directory, and an image volume's directory is
// created inside the rootfs.
#pragma once

#include "api.pb.h"
#include "config.hpp"
#include "image.hpp"

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace berth::cri {

struct PodContext {                        // what the pod gives each of its containers
    std::string sandbox_id;
    const runtime::v1::PodSandboxConfig* config = nullptr;   // as RunPodSandbox got it
    std::map<std::string, std::string> ns_paths;   // OCI ns name -> pinned path ("network","ipc","uts","pid")
    std::string hostname_file, hosts_file, resolv_file, shm_dir;  // "" = none
    std::string cgroup_parent;             // a path (cgroupfs) or a slice name (systemd)
    bool systemd_cgroup = false;           // the pod's cgroup driver is systemd
    // The host pid of a container of this pod, for NamespaceOption.pid =
    // TARGET; throws (or returns <= 0) when there is no such running one.
    std::function<pid_t(const std::string& container_id)> target_pid;
};

struct HandlerOptions {                    // the runtime handler's options (config)
    std::vector<std::string> cdi_devices;  // injected in every container of the handler
    std::string default_seccomp;           // "" = berth's default profile for RuntimeDefault
    std::vector<std::string> cdi_spec_dirs;   // empty: cdi::default_spec_dirs
    // AppArmor profile (loaded on the host) for RuntimeDefault; "": none,
    // berth ships no profile of its own.
    std::string default_apparmor;
};

struct ContainerContext {
    std::string id;
    const runtime::v1::ContainerConfig* config = nullptr;
    const spec::image::ImageConfig* image = nullptr;
    std::string image_ref;                 // for annotations
    std::string rootfs;                    // the merged dir (absolute)
};

// What the host offers, read once per call unless a caller (a test) gives
// its own.
struct HostFeatures {
    bool cgroup_v2 = false;         // /sys/fs/cgroup is cgroup2: containers get a cgroup namespace
    bool swap_controller = false;   // memory.memsw (v1) / memory.swap.max (v2) exists
    bool hugetlb = true;            // the hugetlb controller exists (else limits are dropped, as containerd)
    bool apparmor = false;
    bool selinux = false;
    int cap_last_cap = 40;          // /proc/sys/kernel/cap_last_cap
    std::string hostname;           // for HOSTNAME when the pod gives none
    std::string mountinfo = "/proc/self/mountinfo";   // for the propagation checks
    std::string dev_dir = "/dev";                     // privileged containers get its devices
    std::string apparmor_profiles = "/sys/kernel/security/apparmor/profiles";

    static HostFeatures detect();
};

// Throws Error(EINVAL, "<CRI field path>: ...") for bad input, naming the
// field (ENOTSUP where the field asks for what the host or berth lacks).
spec::Config build_container_spec(const PodContext& pod, const ContainerContext& ctr, const HandlerOptions& handler);
spec::Config build_container_spec(const PodContext& pod, const ContainerContext& ctr, const HandlerOptions& handler,
                                  const HostFeatures& host);

// containerd's cgroupsPath: "<parent>/<id>" for cgroupfs, and
// "<slice>:berth:<id>" for systemd (the parent's last element is the slice).
std::string container_cgroups_path(const std::string& parent, const std::string& id, bool systemd);
// The cgroup dir (from the hierarchy root) a cgroupsPath gives container id,
// for berthd's own reads (stats, OOM): the path itself for cgroupfs, the
// scope systemd makes ("/a.slice/a-b.slice/berth-<id>.scope") for systemd.
std::string container_cgroup_dir(const std::string& cgroups_path, const std::string& id);

// linux.resources from CRI's LinuxContainerResources (CreateContainer and
// UpdateContainerResources); oom_score_adj, when given, receives the
// process's. Errors are EINVAL naming `field`.<name>.
spec::Resources oci_resources(const runtime::v1::LinuxContainerResources& r, const HostFeatures& host,
                              const std::string& field, int32_t* oom_score_adj = nullptr);

// The default seccomp profile compiled in (contrib/seccomp/default.json).
const char* builtin_seccomp_profile();

} // namespace berth::cri
