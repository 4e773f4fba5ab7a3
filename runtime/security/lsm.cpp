#include "lsm.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "procfs.hpp"

#include <sys/vfs.h>
#include <unistd.h>

namespace berth {

namespace {
constexpr long kSelinuxMagic = 0xf97cff8c;
}

bool apparmor_enabled() {
    try {
        return read_file("/sys/module/apparmor/parameters/enabled").starts_with("Y");
    } catch (const Error&) {
        return false;
    }
}

bool selinux_enabled() {
    struct statfs s;
    return ::statfs("/sys/fs/selinux", &s) == 0 && s.f_type == kSelinuxMagic;
}

void apply_exec_labels(const spec::Process& p) {
    if (!p.apparmorProfile.empty() && apparmor_enabled()) {
        // The per-LSM file first (kernels with stacked LSMs), then the legacy one.
        std::string cmd = "exec " + p.apparmorProfile;
        try {
            write_procfs(procfs_thread_self() + "/attr/apparmor/exec", cmd);
        } catch (const Error&) {
            with_context("process.apparmorProfile " + p.apparmorProfile,
                         [&] { write_procfs(procfs_thread_self() + "/attr/exec", cmd); });
        }
    }
    if (!p.selinuxLabel.empty()) {
        if (!selinux_enabled())
            throw Error(ENOTSUP, "process.selinuxLabel: SELinux is not enabled on this host; cannot apply \"" +
                                     p.selinuxLabel + "\"");
        with_context("process.selinuxLabel " + p.selinuxLabel,
                     [&] { write_procfs(procfs_thread_self() + "/attr/exec", p.selinuxLabel); });
    }
}

} // namespace berth
