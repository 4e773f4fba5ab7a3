// `berth cdi generate nvidia`: a CDI spec for the NVIDIA driver found on
// this host (or under a fake root, for tests).
#pragma once

#include "cdi.hpp"   // spec/cdi.hpp

#include <string>
#include <vector>

namespace berth::cdi {

struct NvidiaOptions {
    std::string root = "/";       // prefix for everything below (a fake driver tree in tests)
    std::string dev_root;         // prefix for /dev; empty: root
    std::vector<std::string> lib_dirs;   // searched before the defaults (/usr/local/nvidia/lib64, ...)
    std::string hook_path;        // berth binary for the update-ldcache hook; empty: no hook
    std::string ldconfig;         // passed to the hook (--ldconfig); empty: the hook's default
    std::string nvidia_smi;       // fallback for UUIDs when /proc/driver/nvidia has none; empty: search
    bool by_index = true, by_uuid = true;   // device names
    std::string kind = "nvidia.com/gpu";
};

struct NvidiaGpu {
    int index = 0;      // nvidia-smi's order (PCI bus order)
    int minor = 0;      // /dev/nvidia<minor>
    std::string uuid;   // GPU-...
    std::string bus;
};

// Discover the GPUs: /proc/driver/nvidia/gpus/*/information under root,
// else `nvidia-smi -L` with /dev/nvidiaN, else the /dev/nvidiaN nodes alone.
std::vector<NvidiaGpu> discover_nvidia_gpus(const NvidiaOptions& o);

// The whole spec: one device per GPU (by index and/or UUID) plus "all";
// control nodes, libraries, binaries, firmware and the ldcache hook in the
// spec-level edits. Throws Error(ENOENT) when no GPU or driver is found.
spec::cdi::Spec generate_nvidia_spec(const NvidiaOptions& o);

} // namespace berth::cdi
