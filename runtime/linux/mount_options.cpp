#include "mount_options.hpp"

#include "error.hpp"

#include <linux/mount.h>
#include <sys/mount.h>

#include <string_view>

namespace berth {

namespace {

struct FlagOpt {
    std::string_view name;
    bool clear;
    unsigned long flag;
};

constexpr FlagOpt flag_opts[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY}, {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID}, {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV}, {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC}, {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS}, {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK}, {"nomand", true, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME}, {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME}, {"diratime", true, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME}, {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME}, {"nostrictatime", true, MS_STRICTATIME},
    {"silent", false, MS_SILENT}, {"loud", true, MS_SILENT},
    {"iversion", false, MS_I_VERSION}, {"noiversion", true, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME}, {"nolazytime", true, MS_LAZYTIME},
    {"nosymfollow", false, MS_NOSYMFOLLOW}, {"symfollow", true, MS_NOSYMFOLLOW},
    {"bind", false, MS_BIND}, {"rbind", false, MS_BIND | MS_REC},
};

struct PropOpt {
    std::string_view name;
    unsigned long flag;
};

constexpr PropOpt prop_opts[] = {
    {"private", MS_PRIVATE}, {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED}, {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE}, {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

struct AttrOpt {
    std::string_view name;
    bool clear;
    uint64_t attr;
};

// Recursive variants, applied with mount_setattr(AT_RECURSIVE).
constexpr AttrOpt attr_opts[] = {
    {"rro", false, MOUNT_ATTR_RDONLY}, {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID}, {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV}, {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC}, {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME}, {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rrelatime", false, MOUNT_ATTR_RELATIME}, {"rnorelatime", true, MOUNT_ATTR_RELATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME}, {"ratime", true, MOUNT_ATTR_NOATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME}, {"rnostrictatime", true, MOUNT_ATTR_STRICTATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW}, {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};

} // namespace

bool MountOptions::bind() const { return flags & MS_BIND; }

MountOptions parse_mount_options(const std::vector<std::string>& opts) {
    MountOptions m;
    for (const auto& o : opts) {
        bool done = false;
        for (auto& f : flag_opts) {
            if (o == f.name) {
                if (f.clear) m.flags &= ~f.flag;
                else m.flags |= f.flag;
                done = true;
                break;
            }
        }
        for (auto& p : prop_opts) {
            if (!done && o == p.name) {
                m.propagation = p.flag;
                done = true;
            }
        }
        for (auto& a : attr_opts) {
            if (!done && o == a.name) {
                if (a.clear) {
                    m.attr_clr |= a.attr;
                    m.attr_set &= ~a.attr;
                } else {
                    m.attr_set |= a.attr;
                    m.attr_clr &= ~a.attr;
                }
                // Access-time modes are one field: clearing it selects the new mode.
                // (MOUNT_ATTR_RELATIME is 0, so match the atime options by name.)
                if (a.name.ends_with("atime") && a.name.find("diratime") == std::string_view::npos)
                    m.attr_clr |= MOUNT_ATTR__ATIME;
                done = true;
            }
        }
        if (done) continue;
        if (o == "idmap" || o == "ridmap") {
            m.idmap = true;
        } else if (o == "tmpcopyup") {
            m.tmpcopyup = true;
        } else if (!o.empty()) {
            if (!m.data.empty()) m.data += ',';
            m.data += o;
        }
    }
    return m;
}

unsigned long propagation_flags(const std::string& name) {
    if (name.empty()) return 0;
    for (auto& p : prop_opts)
        if (name == p.name) return p.flag;
    throw Error(EINVAL, "linux.rootfsPropagation: unknown propagation \"" + name + "\"");
}

} // namespace berth
