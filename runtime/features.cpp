// `berth features`: what this build supports, in the runtime-spec
// features.md shape that containerd reads into RuntimeInfo.
#include "berth_config.h"
#include "container.hpp"
#include "json.hpp"
#include "seccomp.hpp"

#include <seccomp.h>
#include <sys/capability.h>

#include <cctype>

namespace berth {

std::string features_json() {
    json::Writer w(true);
    w.begin_object()
        .kv("ociVersionMin", "1.0.0")
        .kv("ociVersionMax", BERTH_OCI_VERSION)
        .key("hooks").string_array({"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"})
        .key("mountOptions").string_array({
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion", "lazytime",
            "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime", "nomand",
            "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev",
            "rdiratime", "relatime", "remount", "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec",
            "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro",
            "rrw", "rshared", "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared",
            "silent", "slave", "strictatime", "suid", "symfollow", "sync", "unbindable"});
    w.key("linux").begin_object()
        .key("namespaces").string_array({"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"});
    // Every capability this kernel knows, by its spec name.
    std::vector<std::string> caps;
    for (int c = 0; c < static_cast<int>(cap_max_bits()); ++c) {
        char* n = cap_to_name(c);
        std::string name = n;
        cap_free(n);
        for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        caps.push_back(name);
    }
    w.key("capabilities").string_array(caps);
    w.key("cgroup").begin_object()
        .kv("v1", true).kv("v2", true).kv("systemd", true).kv("systemdUser", false).kv("rdma", false)
        .end_object();
    w.key("seccomp").begin_object()
        .kv("enabled", true)
        .key("actions").string_array(seccomp_action_names())
        .key("operators").string_array(seccomp_operator_names())
        .key("archs").string_array(seccomp_arch_names())
        .key("knownFlags").string_array(seccomp_known_flags())
        .key("supportedFlags").string_array(seccomp_supported_flags())
        .end_object();
    w.key("apparmor").begin_object().kv("enabled", true).end_object();
    w.key("selinux").begin_object().kv("enabled", true).end_object();
    w.key("intelRdt").begin_object().kv("enabled", false).end_object();
    w.key("mountExtensions").begin_object().key("idmap").begin_object().kv("enabled", false).end_object().end_object();
    w.end_object();
    const scmp_version* v = seccomp_version();
    w.key("annotations").begin_object()
        .kv("io.github.berth.version", BERTH_VERSION)
        .kv("io.github.seccomp.libseccomp.version",
            std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro))
        .end_object();
    w.end_object();
    return w.str();
}

} // namespace berth
