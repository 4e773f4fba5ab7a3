// CDI device injection: load the spec files of the spec directories,
// resolve fully-qualified device names (vendor.com/class=name) and apply
// their container edits to a container's config. The CRI server passes its
// CDIDevices to apply_cdi_devices; create applies what the bundle asks for
// (apply_requested_cdi_devices).
#pragma once

#include "cdi.hpp"   // spec/cdi.hpp: the spec file types
#include "config.hpp"

#include <map>
#include <string>
#include <vector>

namespace berth::cdi {

inline const std::vector<std::string> default_spec_dirs = {"/etc/cdi", "/var/run/cdi"};

// Every valid spec file of the spec directories. A later directory has the
// higher priority: its device replaces one of the same name from an earlier
// directory. Two files of one directory defining the same device make that
// device a conflict (an error when requested), as in the CDI library.
struct Registry {
    struct File {
        std::string path;
        int priority = 0;
        spec::cdi::Spec spec;
    };
    struct Entry {
        size_t file = 0;     // index in files
        size_t device = 0;   // index in files[file].spec.devices
    };
    std::vector<std::string> dirs;                  // as loaded, lowest priority first
    std::vector<File> files;
    std::map<std::string, Entry> devices;          // qualified name -> where
    std::map<std::string, std::string> conflicts;  // qualified name -> why
    std::vector<std::string> errors;               // files that failed to load, one message each

    static Registry load(const std::vector<std::string>& dirs);
    // Add one parsed spec as if read from `path` (for tests and callers that
    // build specs in memory). Validates it; a bad spec lands in errors.
    void add(spec::cdi::Spec s, const std::string& path, int priority);
};

// How a device node's missing fields (type, major, minor, fileMode) are
// read from the host; tests replace it.
struct HostNode {
    std::string type;   // "c", "b", "p"
    int64_t major = 0, minor = 0;
    uint32_t mode = 0;  // permission bits
};
using HostNodeLookup = HostNode (*)(const std::string& host_path);
HostNode stat_host_node(const std::string& host_path);

// Apply the devices `names` (fully qualified; duplicates ignored) to cfg:
// each device's spec-level edits once, then the device's own, in order.
// Env, device nodes (with cgroup allow rules), mounts, hooks, additional
// gids, intelRdt and net devices. Edits that disagree with each other (one
// env key, device path, mount target with two values) are an error; an
// edit replaces what the config had at the same key. Unknown names are an
// error naming them (and any spec file that failed to load). cfg is only
// changed when everything succeeds.
void apply_cdi_devices(spec::Config& cfg, const std::vector<std::string>& names, const Registry& reg,
                       HostNodeLookup lookup = stat_host_node);

// ---- what a container asks for ---------------------------------------------

// Runtime settings: from the CLI (global flags, argv[0]) and the optional
// config file (JSON: {"specDirs": [...], "defaultDevices": [...],
// "nvidiaVisibleDevices": bool}).
struct Settings {
    std::string config_path = "/etc/berth/cdi.json";
    std::vector<std::string> spec_dirs;   // from --cdi-spec-dir; empty: the file's, else default_spec_dirs
    bool gpu_mode = false;                // invoked as berth-gpu
};

struct Request {
    std::vector<std::string> spec_dirs;
    std::vector<std::string> devices;   // fully-qualified names, in order
};

// The devices a config asks for: `cdi.k8s.io/*` annotations (comma-separated
// qualified names), NVIDIA_VISIBLE_DEVICES (in GPU mode or when the config
// file enables it), else the default devices (the file's "defaultDevices";
// in GPU mode nvidia.com/gpu=all unless the file says otherwise).
Request requested_devices(const spec::Config& cfg, const Settings& s);

// NVIDIA_VISIBLE_DEVICES -> qualified names of `kind`: "all" -> KIND=all;
// "none", "void" or "" -> none; "0,1" or "GPU-<uuid>,MIG-<uuid>" -> one each.
std::vector<std::string> nvidia_visible_devices(const std::string& value, const std::string& kind = "nvidia.com/gpu");

// create's step: apply what cfg asks for. Returns whether cfg changed.
bool apply_requested_cdi_devices(spec::Config& cfg, const Settings& s);

// ---- the update-ldcache hook ---------------------------------------------

// Run `ldconfig -r ROOT FOLDER...` for the container whose OCI state JSON
// is `state_json` (ROOT from its bundle's config.json), after writing
// FOLDERs to ROOT/etc/ld.so.conf.d/00-berth-cdi.conf when that dir exists.
void update_ldcache(const std::string& state_json, const std::vector<std::string>& folders,
                    const std::string& ldconfig);

} // namespace berth::cdi
