// OCI mount options -> mount(2) flags, propagation, recursive attributes
// (mount_setattr) and filesystem data, with runc's vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace berth {

struct MountOptions {
    unsigned long flags = 0;        // MS_RDONLY, MS_NOSUID, ... MS_BIND, MS_REC
    unsigned long propagation = 0;  // MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE (+ MS_REC)
    uint64_t attr_set = 0;          // MOUNT_ATTR_* for the r* options (applied recursively)
    uint64_t attr_clr = 0;
    std::string data;               // everything else, comma-joined, for the filesystem
    bool idmap = false;             // "idmap" / "ridmap": idmapped mount
    bool tmpcopyup = false;

    bool bind() const;
};

// Unknown options go to `data`, as in runc; the filesystem judges them.
MountOptions parse_mount_options(const std::vector<std::string>& opts);

// The propagation flags of a rootfsPropagation value; 0 for "".
unsigned long propagation_flags(const std::string& name);

} // namespace berth
