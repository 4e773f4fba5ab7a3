#include "spec_builder.hpp"


#include "cdi_devices.hpp"
#include "cgroup_systemd.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "file_util.hpp"
#include "json.hpp"
#include "lsm.hpp"
#include "path_resolve.hpp"
#include "strings.hpp"
#include "user.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <set>

// The deprecated seccomp_profile_path and apparmor_profile are read on
// purpose: kubelets before 1.22 send only those.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace berth::cri {

extern const char builtin_seccomp_json[];   // generated from contrib/seccomp/default.json

const char* builtin_seccomp_profile() { return builtin_seccomp_json; }

namespace {

namespace v1 = runtime::v1;

const std::string sc_field = "linux.security_context";

[[noreturn]] void bad(const std::string& field, const std::string& what, int err = EINVAL) {
    throw Error(err, field + ": " + what);
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// ---- paths ---------------------------------------------------------------

// filepath.Clean for absolute paths: no "//", ".", trailing "/"; ".." resolved lexically.
std::string clean_path(std::string_view p) {
    std::vector<std::string> parts;
    for (auto& c : split(p, '/')) {
        if (c.empty() || c == ".") continue;
        if (c == "..") {
            if (!parts.empty()) parts.pop_back();
            continue;
        }
        parts.push_back(c);
    }
    std::string out;
    for (auto& c : parts) out += "/" + c;
    return out.empty() ? "/" : out;
}

size_t path_depth(const std::string& p) { return p == "/" ? 0 : static_cast<size_t>(std::count(p.begin(), p.end(), '/')); }

bool exists(const std::string& p) {
    struct stat st{};
    return ::stat(p.c_str(), &st) == 0;
}

// ---- capabilities --------------------------------------------------------

// Index = capability number (linux/capability.h), up to CAP_CHECKPOINT_RESTORE.
const char* const cap_names[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};
constexpr int cap_count = static_cast<int>(std::size(cap_names));

// containerd's defaultUnixCaps (Docker's default set).
const std::vector<std::string> default_caps = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
};

std::vector<std::string> all_caps(const HostFeatures& host) {
    std::vector<std::string> out;
    for (int i = 0; i < cap_count && i <= host.cap_last_cap; ++i) out.emplace_back(cap_names[i]);
    return out;
}

// "net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" all name CAP_NET_ADMIN. (containerd
// prefixes CAP_ unconditionally; Kubernetes documents names without it.)
std::string cap_name(const std::string& raw, const std::string& field) {
    std::string up;
    for (char c : raw) up += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    if (!up.starts_with("CAP_")) up = "CAP_" + up;
    for (auto* n : cap_names)
        if (up == n) return up;
    bad(field, "unknown capability " + quote(raw));
}

void add_to(std::vector<std::string>& set, const std::string& cap) {
    if (std::find(set.begin(), set.end(), cap) == set.end()) set.push_back(cap);
}

void capabilities(spec::Process& p, const v1::LinuxContainerSecurityContext& sc, const HostFeatures& host) {
    spec::Capabilities caps;
    caps.bounding = caps.effective = caps.permitted = default_caps;
    if (sc.privileged()) {
        // containerd's WithPrivileged: every capability; add/drop are moot.
        caps.bounding = caps.effective = caps.permitted = all_caps(host);
        p.capabilities = std::move(caps);
        return;
    }
    if (sc.has_capabilities()) {
        const auto& c = sc.capabilities();
        const std::string f = sc_field + ".capabilities";
        auto is_all = [](const std::string& s) { return s == "ALL" || s == "all" || s == "All"; };
        auto has_all = [&](const auto& list) { return std::any_of(list.begin(), list.end(), is_all); };
        // ALL first, so that add ALL + drop CHOWN is every capability but CHOWN.
        if (has_all(c.add_capabilities())) caps.bounding = caps.effective = caps.permitted = all_caps(host);
        if (has_all(c.drop_capabilities())) caps.bounding = caps.effective = caps.permitted = caps.inheritable = {};
        for (int i = 0; i < c.add_capabilities_size(); ++i) {
            if (is_all(c.add_capabilities(i))) continue;
            auto n = cap_name(c.add_capabilities(i), f + ".add_capabilities[" + std::to_string(i) + "]");
            for (auto* set : {&caps.bounding, &caps.effective, &caps.permitted}) add_to(*set, n);
        }
        for (int i = 0; i < c.drop_capabilities_size(); ++i) {
            if (is_all(c.drop_capabilities(i))) continue;
            auto n = cap_name(c.drop_capabilities(i), f + ".drop_capabilities[" + std::to_string(i) + "]");
            for (auto* set : {&caps.bounding, &caps.effective, &caps.permitted, &caps.inheritable})
                std::erase(*set, n);
        }
        // Ambient capabilities must be in the inheritable and permitted sets too.
        for (int i = 0; i < c.add_ambient_capabilities_size(); ++i) {
            auto n = cap_name(c.add_ambient_capabilities(i), f + ".add_ambient_capabilities[" + std::to_string(i) + "]");
            for (auto* set : {&caps.bounding, &caps.effective, &caps.permitted, &caps.inheritable, &caps.ambient})
                add_to(*set, n);
        }
    }
    p.capabilities = std::move(caps);
}

// ---- process -------------------------------------------------------------

// containerd's replaceOrAppendEnvValues: a later KEY=V replaces an earlier
// KEY; a bare KEY (no '=') unsets it.
void merge_env(std::vector<std::string>& env, const std::vector<std::string>& more) {
    for (const auto& e : more) {
        auto eq = e.find('=');
        std::string key = e.substr(0, eq);
        auto it = std::find_if(env.begin(), env.end(), [&](const std::string& x) {
            return x.compare(0, key.size(), key) == 0 && (x.size() == key.size() || x[key.size()] == '=');
        });
        if (eq == std::string::npos) {
            if (it != env.end()) env.erase(it);
        } else if (it != env.end()) {
            *it = e;
        } else {
            env.push_back(e);
        }
    }
}

// Kubernetes' rules (containerd's WithProcessArgs, from moby): command
// replaces the entrypoint and drops the image's cmd; args alone replace cmd.
std::vector<std::string> process_args(const v1::ContainerConfig& c, const spec::image::ContainerDefaults& img) {
    std::vector<std::string> command(c.command().begin(), c.command().end());
    std::vector<std::string> args(c.args().begin(), c.args().end());
    if (command.empty()) {
        if (args.empty()) args = img.cmd;
        // An entrypoint of [""] is the image's way of saying "none".
        if (!(img.entrypoint.size() == 1 && img.entrypoint[0].empty())) command = img.entrypoint;
    }
    command.insert(command.end(), args.begin(), args.end());
    if (command.empty()) bad("command", "no command: the config gives no command or args and the image no Entrypoint or Cmd");
    return command;
}

void user(spec::Process& p, const v1::LinuxContainerSecurityContext& sc, const spec::image::ContainerDefaults& img,
          const std::string& rootfs) {
    std::string userstr, field;   // containerd's generateUserString
    if (sc.has_run_as_user()) {
        if (sc.run_as_user().value() < 0 || sc.run_as_user().value() > UINT32_MAX)
            bad(sc_field + ".run_as_user", "out of range: " + std::to_string(sc.run_as_user().value()));
        userstr = std::to_string(sc.run_as_user().value());
        field = sc_field + ".run_as_user";
    }
    if (!sc.run_as_username().empty()) {
        userstr = sc.run_as_username();
        field = sc_field + ".run_as_username";
    }
    if (sc.has_run_as_group()) {
        if (userstr.empty()) bad(sc_field + ".run_as_group", "given without run_as_user or run_as_username");
        if (sc.run_as_group().value() < 0 || sc.run_as_group().value() > UINT32_MAX)
            bad(sc_field + ".run_as_group", "out of range: " + std::to_string(sc.run_as_group().value()));
        userstr += ":" + std::to_string(sc.run_as_group().value());
    }
    if (userstr.empty() && !img.user.empty()) {
        userstr = img.user;
        field = "image config User";
    }
    RootfsUsers users = RootfsUsers::load(rootfs);
    ResolvedUser r;
    if (!userstr.empty()) r = resolve_user(users, userstr, field);
    p.user.uid = r.uid;
    p.user.gid = r.gid;

    // The primary gid first, then (policy Merge) the groups /etc/group lists
    // the user in, then supplemental_groups: containerd's WithAdditionalGIDs
    // and WithSupplementalGroups.
    std::vector<uint32_t> gids = {r.gid};
    auto add = [&](uint32_t g) {
        if (std::find(gids.begin(), gids.end(), g) == gids.end()) gids.push_back(g);
    };
    if (sc.supplemental_groups_policy() == v1::Merge) {
        std::string who = "0";
        if (!sc.run_as_username().empty()) who = sc.run_as_username();
        else if (sc.has_run_as_user()) who = std::to_string(sc.run_as_user().value());
        else if (!img.user.empty()) who = split(img.user, ':')[0];
        for (uint32_t g : member_gids(users, who)) add(g);
    } else if (sc.supplemental_groups_policy() != v1::Strict) {
        bad(sc_field + ".supplemental_groups_policy", "unknown policy " + std::to_string(sc.supplemental_groups_policy()));
    }
    for (int i = 0; i < sc.supplemental_groups_size(); ++i) {
        int64_t g = sc.supplemental_groups(i);
        if (g < 0 || g > UINT32_MAX)
            bad(sc_field + ".supplemental_groups[" + std::to_string(i) + "]", "out of range: " + std::to_string(g));
        add(static_cast<uint32_t>(g));
    }
    p.user.additionalGids = std::move(gids);
}

// ---- security profiles --------------------------------------------------

// A deprecated profile string ("runtime/default", "docker/default",
// "unconfined", "localhost/<ref>") as a SecurityProfile; "" gives none.
std::optional<v1::SecurityProfile> profile_from_string(const std::string& s, const std::string& field) {
    if (s.empty()) return std::nullopt;
    v1::SecurityProfile sp;
    if (s == "runtime/default" || s == "docker/default") {
        sp.set_profile_type(v1::SecurityProfile::RuntimeDefault);
    } else if (s == "unconfined") {
        sp.set_profile_type(v1::SecurityProfile::Unconfined);
    } else if (s.starts_with("localhost/")) {
        sp.set_profile_type(v1::SecurityProfile::Localhost);
        sp.set_localhost_ref(s.substr(10));
    } else {
        bad(field, "invalid profile " + quote(s) + ": expected runtime/default, unconfined or localhost/<name>");
    }
    return sp;
}

// A seccomp profile file: the OCI linux.seccomp object, as containerd reads
// it (json.Unmarshal into LinuxSeccomp: Docker-profile keys it doesn't know
// are ignored). A Docker profile's archMap stands in for a missing
// "architectures", so such a profile filters every listed architecture.
spec::Seccomp parse_seccomp(const std::string& text, const std::string& what) {
    json::Document doc(text, what);   // one JSON document, nothing after it
    json::Value root = doc.root();
    if (!root.is_object()) throw Error(EINVAL, what + ": expected a JSON object (an OCI linux.seccomp profile)");
    spec::Config wrapped = spec::parse_config("{\"linux\":{\"seccomp\":" + text + "}}", what);
    spec::Seccomp s = wrapped.linux && wrapped.linux->seccomp ? *wrapped.linux->seccomp : spec::Seccomp{};
    if (s.architectures.empty())
        if (auto am = root.find("archMap"); am && am->is_array())
            for (auto& a : am->as_array()) {
                if (auto arch = a.find("architecture")) add_to(s.architectures, arch->as_string());
                if (auto subs = a.find("subArchitectures"))
                    for (auto& sub : subs->as_string_array()) add_to(s.architectures, sub);
            }
    if (s.defaultAction.empty()) throw Error(EINVAL, what + ": defaultAction: missing");
    return s;
}

std::optional<spec::Seccomp> seccomp(const v1::LinuxContainerSecurityContext& sc, const HandlerOptions& handler) {
    std::optional<v1::SecurityProfile> sp;
    std::string field = sc_field + ".seccomp";
    if (sc.has_seccomp()) {
        sp = sc.seccomp();
    } else {
        field = sc_field + ".seccomp_profile_path";
        sp = profile_from_string(sc.seccomp_profile_path(), field);
    }
    // As containerd: a privileged container runs without seccomp, whatever
    // was asked for; no profile at all means none (kubelet's Unconfined).
    if (sc.privileged() || !sp) return std::nullopt;
    if (sp->profile_type() != v1::SecurityProfile::Localhost && !sp->localhost_ref().empty())
        bad(field + ".localhost_ref", "only valid with profile_type Localhost");
    switch (sp->profile_type()) {
    case v1::SecurityProfile::Unconfined:
        return std::nullopt;
    case v1::SecurityProfile::RuntimeDefault:
        if (handler.default_seccomp.empty())
            return parse_seccomp(builtin_seccomp_profile(), "berth's default seccomp profile");
        return with_context("runtime handler default seccomp profile " + handler.default_seccomp, [&] {
            return parse_seccomp(read_file(handler.default_seccomp), handler.default_seccomp);
        });
    case v1::SecurityProfile::Localhost: {
        std::string path = sp->localhost_ref();
        if (path.starts_with("localhost/")) path = path.substr(10);
        std::string f = sc.has_seccomp() ? field + ".localhost_ref" : field;
        if (path.empty() || path[0] != '/') bad(f, "expected an absolute path to a profile file, got " + quote(path));
        std::string text;
        try {
            text = read_file(path);
        } catch (const Error& e) {
            bad(f, std::string("cannot read the seccomp profile: ") + e.what(), e.err());
        }
        return with_context(f, [&] { return parse_seccomp(text, path); });
    }
    default:
        bad(field + ".profile_type", "unknown profile type " + std::to_string(sp->profile_type()));
    }
}

bool apparmor_profile_loaded(const HostFeatures& host, const std::string& name) {
    std::string list;
    try {
        list = read_file(host.apparmor_profiles);
    } catch (const Error&) {
        return false;
    }
    for (auto& line : split(list, '\n'))
        if (line.starts_with(name + " (")) return true;
    return false;
}

std::string apparmor(const v1::LinuxContainerSecurityContext& sc, const HandlerOptions& handler,
                     const HostFeatures& host) {
    std::optional<v1::SecurityProfile> sp;
    std::string field = sc_field + ".apparmor";
    if (sc.has_apparmor()) {
        sp = sc.apparmor();
    } else {
        field = sc_field + ".apparmor_profile";
        sp = profile_from_string(sc.apparmor_profile(), field);
    }
    if (!host.apparmor) {
        // Nothing to confine with: the default means none; a named profile
        // can't be honoured, and saying so beats running unconfined.
        if (sp && sp->profile_type() == v1::SecurityProfile::Localhost)
            bad(field, "AppArmor profile " + quote(sp->localhost_ref()) + " requested, but AppArmor is not enabled on this host",
                ENOTSUP);
        return "";
    }
    if (!sp) {
        sp.emplace();
        sp->set_profile_type(v1::SecurityProfile::RuntimeDefault);
    }
    if (sp->profile_type() != v1::SecurityProfile::Localhost && !sp->localhost_ref().empty())
        bad(field + ".localhost_ref", "only valid with profile_type Localhost");
    switch (sp->profile_type()) {
    case v1::SecurityProfile::Unconfined:
        return "";
    case v1::SecurityProfile::RuntimeDefault:
        return sc.privileged() ? "" : handler.default_apparmor;
    case v1::SecurityProfile::Localhost: {
        std::string name = sp->localhost_ref();
        if (name.starts_with("localhost/")) name = name.substr(10);
        if (name.empty()) bad(field, "Localhost needs a profile name");
        if (!apparmor_profile_loaded(host, name)) bad(field, "AppArmor profile " + quote(name) + " is not loaded");
        return name;
    }
    default:
        bad(field + ".profile_type", "unknown profile type " + std::to_string(sp->profile_type()));
    }
}

// ---- devices ------------------------------------------------------------

// A host device node as linux.devices wants it; nullopt when path is not one.
std::optional<spec::Device> device_from_path(const std::string& host_path, const std::string& container_path) {
    struct stat st{};
    if (::stat(host_path.c_str(), &st) < 0) throw_errno("stat " + host_path);
    spec::Device d;
    if (S_ISCHR(st.st_mode)) d.type = "c";
    else if (S_ISBLK(st.st_mode)) d.type = "b";
    else if (S_ISFIFO(st.st_mode)) d.type = "p";
    else return std::nullopt;
    d.path = container_path;
    d.major = major(st.st_rdev);
    d.minor = minor(st.st_rdev);
    d.fileMode = st.st_mode & 07777;
    d.uid = st.st_uid;
    d.gid = st.st_gid;
    return d;
}

// Every device under dir (containerd's oci.HostDevices / getDevices): the
// kernel's own subtrees (pts, shm, ...) and /dev/console are skipped.
void devices_under(const std::string& dir, const std::string& container_dir, std::vector<spec::Device>& out) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) throw_errno("open " + dir);
    std::vector<std::string> names;
    while (auto* e = ::readdir(d)) names.emplace_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    static const std::set<std::string> skip = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"};
    for (const auto& n : names) {
        if (n == "." || n == "..") continue;
        std::string p = dir + "/" + n, cp = container_dir + "/" + n;
        struct stat st{};
        if (::lstat(p.c_str(), &st) < 0) continue;   // gone meanwhile
        if (S_ISDIR(st.st_mode)) {
            if (!skip.count(n)) devices_under(p, cp, out);
            continue;
        }
        if (n == "console" || S_ISLNK(st.st_mode)) continue;
        try {
            if (auto dev = device_from_path(p, cp)) out.push_back(std::move(*dev));
        } catch (const Error&) {
            // vanished between readdir and stat: as containerd, skip it
        }
    }
}

void config_devices(spec::Config& cfg, const v1::ContainerConfig& c) {
    auto& res = *cfg.linux->resources;
    for (int i = 0; i < c.devices_size(); ++i) {
        const auto& d = c.devices(i);
        std::string f = "devices[" + std::to_string(i) + "]";
        if (d.host_path().empty()) bad(f + ".host_path", "empty");
        std::string perms = d.permissions().empty() ? "rwm" : d.permissions();
        if (perms.find_first_not_of("rwm") != std::string::npos) bad(f + ".permissions", "expected letters of \"rwm\", got " + quote(perms));
        std::string cpath = d.container_path().empty() ? d.host_path() : d.container_path();
        if (cpath[0] != '/') bad(f + ".container_path", "must be absolute: " + quote(cpath));
        char* real = ::realpath(d.host_path().c_str(), nullptr);
        if (!real) bad(f + ".host_path", quote(d.host_path()) + ": " + std::string(strerror(errno)));
        std::string host(real);
        ::free(real);
        std::vector<spec::Device> found;
        struct stat st{};
        if (::stat(host.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
            devices_under(host, clean_path(cpath), found);
        } else {
            auto dev = with_context(f + ".host_path", [&] { return device_from_path(host, cpath); });
            if (!dev) bad(f + ".host_path", quote(d.host_path()) + " is not a device node");
            found.push_back(std::move(*dev));
        }
        for (auto& dev : found) {
            res.devices.push_back({.allow = true, .type = dev.type, .major = dev.major, .minor = dev.minor, .access = perms});
            std::erase_if(cfg.linux->devices, [&](const spec::Device& x) { return x.path == dev.path; });
            cfg.linux->devices.push_back(std::move(dev));
        }
    }
}

// ---- mounts -------------------------------------------------------------

// containerd's default mounts (populateDefaultUnixSpec without /run), plus
// the cgroup mount its WithMounts adds.
std::vector<spec::Mount> default_mounts(bool privileged) {
    std::string rw = privileged ? "rw" : "ro";   // WithWriteableSysfs / WithWriteableCgroupfs
    return {
        {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
        {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
        {"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
        {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
        {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
        {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", rw}},
        {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", rw}},
    };
}

struct MountInfo {
    std::string mountpoint, optional;   // optional: "shared:1 master:2"
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s.find_first_not_of("01234567", i + 1) >= i + 4) {
            out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// The mount `path` is on: the longest mount point above it (containerd's
// mount.Lookup).
MountInfo lookup_mount(const std::string& mountinfo, const std::string& path, const std::string& field) {
    std::string text;
    try {
        text = read_file(mountinfo);
    } catch (const Error& e) {
        bad(field, std::string("cannot check the propagation of its host path: ") + e.what(), e.err());
    }
    MountInfo best;
    bool found = false;
    for (auto& line : split(text, '\n')) {
        auto f = split_ws(line);
        if (f.size() < 7) continue;
        std::string mp = unescape_mountinfo(f[4]);
        bool above = mp == "/" || path == mp || path.starts_with(mp + "/");
        if (!above || (found && mp.size() < best.mountpoint.size())) continue;
        best.mountpoint = mp;
        best.optional.clear();
        for (size_t i = 6; i < f.size() && f[i] != "-"; ++i) best.optional += (best.optional.empty() ? "" : " ") + f[i];
        found = true;
    }
    if (!found) bad(field, "no mount found for host path " + quote(path));
    return best;
}

bool has_tag(const std::string& optional, std::string_view prefix) {
    for (auto& t : split(optional, ' '))
        if (t.starts_with(prefix)) return true;
    return false;
}

// One CRI mount (a config mount, or one the pod adds) as an OCI bind mount.
struct CriMount {
    std::string container_path, host_path;
    bool readonly = false, rro = false, relabel = false;
    v1::MountPropagation propagation = v1::PROPAGATION_PRIVATE;
    std::vector<spec::IdMapping> uid_mappings, gid_mappings;
    std::string field;   // "mounts[2]", or what the pod gave
    bool from_config = false;
};

spec::Mount bind_mount(spec::Config& cfg, const CriMount& m, const HostFeatures& host) {
    std::string src = m.host_path;
    // As containerd: a missing host path is created as a directory, and
    // symlinks in it are resolved on the host (the host path is the admin's
    // or kubelet's, not the image's).
    if (!exists(src)) {
        std::string p;
        for (auto& c : split(clean_path(src), '/')) {
            if (c.empty()) continue;
            p += "/" + c;
            if (::mkdir(p.c_str(), 0755) < 0 && errno != EEXIST)
                bad(m.field + ".host_path", "cannot create " + quote(p) + ": " + strerror(errno), errno);
        }
    }
    char* real = ::realpath(src.c_str(), nullptr);
    if (!real) bad(m.field + ".host_path", "cannot resolve " + quote(src) + ": " + strerror(errno), errno);
    src = real;
    ::free(real);

    std::vector<std::string> opts = {"rbind"};
    switch (m.propagation) {
    case v1::PROPAGATION_PRIVATE:
        opts.push_back("rprivate");
        break;
    case v1::PROPAGATION_BIDIRECTIONAL: {
        auto mi = lookup_mount(host.mountinfo, src, m.field + ".propagation");
        if (!has_tag(mi.optional, "shared:"))
            bad(m.field + ".propagation", "PROPAGATION_BIDIRECTIONAL needs a shared host mount, but " + quote(src) +
                                              " is on " + quote(mi.mountpoint) + ", which is not shared");
        opts.push_back("rshared");
        cfg.linux->rootfsPropagation = "rshared";
        break;
    }
    case v1::PROPAGATION_HOST_TO_CONTAINER: {
        auto mi = lookup_mount(host.mountinfo, src, m.field + ".propagation");
        if (!has_tag(mi.optional, "shared:") && !has_tag(mi.optional, "master:"))
            bad(m.field + ".propagation", "PROPAGATION_HOST_TO_CONTAINER needs a shared or slave host mount, but " +
                                              quote(src) + " is on " + quote(mi.mountpoint) +
                                              ", which is neither");
        opts.push_back("rslave");
        if (cfg.linux->rootfsPropagation != "rshared") cfg.linux->rootfsPropagation = "rslave";
        break;
    }
    default:
        bad(m.field + ".propagation", "unknown propagation " + std::to_string(m.propagation));
    }
    if (m.rro) {
        if (!m.readonly) bad(m.field + ".recursive_read_only", "needs readonly");
        if (m.propagation != v1::PROPAGATION_PRIVATE)
            bad(m.field + ".recursive_read_only", "needs propagation PROPAGATION_PRIVATE");
        opts.push_back("rro");
    } else {
        opts.push_back(m.readonly ? "ro" : "rw");
    }
    if (m.relabel) {
        // berth applies no SELinux labels yet; where the host has SELinux
        // that is a missing feature, where it hasn't the request can't mean anything.
        bad(m.field + ".selinux_relabel",
            host.selinux ? "SELinux relabeling is not supported by berthd yet"
                         : "SELinux relabeling is not supported: SELinux is not enabled on this host",
            ENOTSUP);
    }
    spec::Mount out{m.container_path, "bind", src, std::move(opts)};
    out.uidMappings = m.uid_mappings;
    out.gidMappings = m.gid_mappings;
    return out;
}

std::vector<spec::IdMapping> id_mappings(const google::protobuf::RepeatedPtrField<v1::IDMapping>& in) {
    std::vector<spec::IdMapping> out;
    for (auto& m : in) out.push_back({m.container_id(), m.host_id(), m.length()});
    return out;
}

void mounts(spec::Config& cfg, const PodContext& pod, const ContainerContext& ctr, const HostFeatures& host) {
    const auto& c = *ctr.config;
    const auto& sc = c.linux().security_context();
    std::vector<CriMount> cri;
    for (int i = 0; i < c.mounts_size(); ++i) {
        const auto& m = c.mounts(i);
        CriMount x;
        x.field = "mounts[" + std::to_string(i) + "]";
        if (m.has_image() && !m.image().image().empty())
            bad(x.field + ".image", "image volume mounts are not supported", ENOTSUP);
        if (m.container_path().empty() || m.container_path()[0] != '/')
            bad(x.field + ".container_path", "must be an absolute path, got " + quote(m.container_path()));
        if (m.host_path().empty()) bad(x.field + ".host_path", "empty");
        x.container_path = clean_path(m.container_path());
        x.host_path = m.host_path();
        x.readonly = m.readonly();
        x.rro = m.recursive_read_only();
        x.relabel = m.selinux_relabel();
        x.propagation = m.propagation();
        x.uid_mappings = id_mappings(m.uidmappings());
        x.gid_mappings = id_mappings(m.gidmappings());
        x.from_config = true;
        cri.push_back(std::move(x));
    }
    auto in_config = [&](const std::string& dst) {
        return std::any_of(cri.begin(), cri.end(), [&](const CriMount& m) { return m.from_config && m.container_path == dst; });
    };
    // The pod's files (containerd's linuxContainerMounts): writable unless the
    // rootfs is read-only; a config mount of the same path wins.
    auto pod_file = [&](const std::string& dst, const std::string& src, const char* what) {
        if (src.empty() || in_config(dst)) return;
        CriMount m;
        m.container_path = dst;
        m.host_path = src;
        m.readonly = sc.readonly_rootfs();
        m.field = std::string("the pod's ") + what;
        cri.push_back(std::move(m));
    };
    pod_file("/etc/hostname", pod.hostname_file, "hostname file");
    pod_file("/etc/hosts", pod.hosts_file, "hosts file");
    pod_file("/etc/resolv.conf", pod.resolv_file, "resolv.conf");
    if (!in_config("/dev/shm")) {
        // The pod's tmpfs; the host's with host IPC; else (no pod shm) the
        // default spec's private tmpfs stays.
        std::string shm = pod.shm_dir;
        // Host IPC is the pod's choice (the container's option follows it).
        if (pod.config && pod.config->linux().security_context().namespace_options().ipc() == v1::NODE)
            shm = "/dev/shm";
        if (!shm.empty()) {
            CriMount m;
            m.container_path = "/dev/shm";
            m.host_path = shm;
            m.field = "the pod's /dev/shm";
            cri.push_back(std::move(m));
        }
    }
    // Image volumes: as CRI-O's default (image_volumes = "mkdir"), the
    // directory is made in the container's own writable rootfs, whose
    // content at that path the image already provides. (containerd binds
    // a fresh host directory with that content copied up instead.)
    if (ctr.image && !ctr.image->config.volumes.empty()) {
        UniqueFd root(::open(ctr.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) throw_errno("open rootfs " + ctr.rootfs);
        for (const auto& v : ctr.image->config.volumes) {
            std::string dst = clean_path("/" + v);
            if (in_config(dst)) continue;
            with_context("image config Volumes " + quote(v), [&] { mkdir_in_root(root.get(), dst); });
        }
    }

    // Default mounts, but those a CRI mount replaces (and all of /dev's when
    // /dev itself is mounted); then the CRI mounts, parents first.
    std::set<std::string> dsts;
    for (auto& m : cri) dsts.insert(m.container_path);
    for (auto& m : default_mounts(sc.privileged())) {
        if (dsts.count(m.destination)) continue;
        if (dsts.count("/dev") && m.destination.starts_with("/dev/")) continue;
        cfg.mounts.push_back(std::move(m));
    }
    std::stable_sort(cri.begin(), cri.end(), [](const CriMount& a, const CriMount& b) {
        return path_depth(a.container_path) < path_depth(b.container_path);
    });
    for (auto& m : cri) cfg.mounts.push_back(bind_mount(cfg, m, host));
}

// ---- namespaces ---------------------------------------------------------

void namespaces(spec::Linux& l, const PodContext& pod, const v1::LinuxContainerSecurityContext& sc, const HostFeatures& host) {
    const auto& ns = sc.namespace_options();
    const std::string f = sc_field + ".namespace_options";
    auto pinned = [&](const char* name, const std::string& field) -> std::string {
        auto it = pod.ns_paths.find(name);
        if (it == pod.ns_paths.end() || it->second.empty())
            bad(field, std::string("the pod has no ") + name + " namespace of its own to join (is the pod's " + name +
                           " namespace the host's?)");
        return it->second;
    };
    l.namespaces.push_back({spec::NsType::mount, ""});
    // Network and IPC are the pod's, whatever the container's options say
    // (as containerd has it: kubelet copies the pod's, crictl users often
    // leave them out): its pins, or the host's for a NODE pod.
    v1::NamespaceOption pod_ns;
    if (pod.config) pod_ns = pod.config->linux().security_context().namespace_options();
    if (pod_ns.network() != v1::NODE) l.namespaces.push_back({spec::NsType::network, pinned("network", f + ".network")});
    if (pod_ns.ipc() != v1::NODE) l.namespaces.push_back({spec::NsType::ipc, pinned("ipc", f + ".ipc")});
    // UTS is the pod's whenever it has one (host network: the host's).
    if (auto it = pod.ns_paths.find("uts"); it != pod.ns_paths.end() && !it->second.empty())
        l.namespaces.push_back({spec::NsType::uts, it->second});
    // pid POD in a pod without a pid namespace of its own (its pid mode is
    // CONTAINER, or NODE): containerd would join its pause container's,
    // which is one of its own (or the host's); berth has no pause, so the
    // container gets one of its own (or the host's).
    v1::NamespaceMode pid_mode = ns.pid();
    if (pid_mode == v1::POD && !pod.ns_paths.count("pid")) pid_mode = pod_ns.pid() == v1::NODE ? v1::NODE : v1::CONTAINER;
    switch (pid_mode) {
    case v1::NODE:
        break;
    case v1::CONTAINER:
        l.namespaces.push_back({spec::NsType::pid, ""});
        break;
    case v1::POD:
        l.namespaces.push_back({spec::NsType::pid, pinned("pid", f + ".pid")});
        break;
    case v1::TARGET: {
        if (ns.target_id().empty()) bad(f + ".target_id", "empty with pid mode TARGET");
        if (!pod.target_pid) bad(f + ".target_id", "no container of the pod to look " + quote(ns.target_id()) + " up in");
        pid_t pid = with_context(f + ".target_id", [&] { return pod.target_pid(ns.target_id()); });
        if (pid <= 0) bad(f + ".target_id", "container " + quote(ns.target_id()) + " is not running");
        l.namespaces.push_back({spec::NsType::pid, "/proc/" + std::to_string(pid) + "/ns/pid"});
        break;
    }
    default:
        bad(f + ".pid", "unknown mode " + std::to_string(ns.pid()));
    }
    if (ns.has_userns_options() && ns.userns_options().mode() != v1::NODE)
        bad(f + ".userns_options", "user namespaces are not supported yet", ENOTSUP);
    // containerd: a cgroup namespace on cgroup v2 hides the host's tree; not on
    // v1 nor for privileged containers (compatibility).
    if (host.cgroup_v2 && !sc.privileged()) l.namespaces.push_back({spec::NsType::cgroup, ""});
}

// ---- resources ----------------------------------------------------------

void resources(spec::Config& cfg, const v1::ContainerConfig& c, const HostFeatures& host) {
    if (!c.linux().has_resources()) return;
    int32_t oom = 0;
    auto res = oci_resources(c.linux().resources(), host, "linux.resources", &oom);
    cfg.process->oomScoreAdj = oom;
    auto& out = *cfg.linux->resources;
    out.cpu = res.cpu;
    out.memory = res.memory;
    out.hugepageLimits = res.hugepageLimits;
    out.unified = res.unified;
}

// ---- CDI ----------------------------------------------------------------

bool qualified_cdi_name(const std::string& n) {
    auto slash = n.find('/'), eq = n.find('=');
    return slash != std::string::npos && eq != std::string::npos && slash > 0 && eq > slash + 1 && eq + 1 < n.size();
}

void cdi(spec::Config& cfg, const v1::ContainerConfig& c, const HandlerOptions& handler) {
    std::vector<std::string> names = handler.cdi_devices;
    for (int i = 0; i < c.cdi_devices_size(); ++i) {
        const auto& n = c.cdi_devices(i).name();
        if (!qualified_cdi_name(n))
            bad("CDI_devices[" + std::to_string(i) + "].name", "expected vendor.com/class=name, got " + quote(n));
        names.push_back(n);
    }
    std::map<std::string, std::string> sorted(c.annotations().begin(), c.annotations().end());
    for (auto& [k, v] : sorted) {
        if (!k.starts_with("cdi.k8s.io/")) continue;
        for (auto& n : split(v, ',')) {
            if (!qualified_cdi_name(n))
                bad("annotations[" + k + "]", "expected comma-separated vendor.com/class=name, got " + quote(v));
            names.push_back(n);
        }
    }
    if (names.empty()) return;
    auto reg = cdi::Registry::load(handler.cdi_spec_dirs.empty() ? cdi::default_spec_dirs : handler.cdi_spec_dirs);
    with_context("CDI devices", [&] { cdi::apply_cdi_devices(cfg, names, reg); });
}

} // namespace

spec::Resources oci_resources(const v1::LinuxContainerResources& r, const HostFeatures& host, const std::string& f,
                              int32_t* oom_score_adj) {
    auto nonneg = [&](int64_t v, const char* name) {
        if (v < 0) bad(f + "." + name, "negative: " + std::to_string(v));
        return v;
    };
    if (r.oom_score_adj() < -1000 || r.oom_score_adj() > 1000)
        bad(f + ".oom_score_adj", "out of range [-1000, 1000]: " + std::to_string(r.oom_score_adj()));
    if (oom_score_adj) *oom_score_adj = static_cast<int32_t>(r.oom_score_adj());
    spec::Resources res;
    spec::Cpu cpu;
    if (nonneg(r.cpu_period(), "cpu_period")) cpu.period = static_cast<uint64_t>(r.cpu_period());
    if (r.cpu_quota()) cpu.quota = r.cpu_quota();
    if (nonneg(r.cpu_shares(), "cpu_shares")) cpu.shares = static_cast<uint64_t>(r.cpu_shares());
    cpu.cpus = r.cpuset_cpus();
    cpu.mems = r.cpuset_mems();
    if (cpu != spec::Cpu{}) res.cpu = cpu;
    spec::Memory mem;
    int64_t limit = nonneg(r.memory_limit_in_bytes(), "memory_limit_in_bytes");
    int64_t swap = r.memory_swap_limit_in_bytes();
    if (swap < -1) bad(f + ".memory_swap_limit_in_bytes", "below -1: " + std::to_string(swap));
    if (limit) {
        mem.limit = limit;
        // memory+swap = memory: no swapping unless asked (containerd).
        if (!swap && host.swap_controller) mem.swap = limit;
    }
    if (swap && host.swap_controller) mem.swap = swap;
    if (mem != spec::Memory{}) res.memory = mem;
    if (host.hugetlb)
        for (int i = 0; i < r.hugepage_limits_size(); ++i) {
            const auto& h = r.hugepage_limits(i);
            if (h.page_size().empty()) bad(f + ".hugepage_limits[" + std::to_string(i) + "].page_size", "empty");
            res.hugepageLimits.push_back({h.page_size(), h.limit()});
        }
    for (auto& [k, v] : r.unified()) res.unified[k] = v;
    return res;
}

std::string container_cgroups_path(const std::string& parent, const std::string& id, bool systemd) {
    if (parent.empty()) return "";
    std::string p = clean_path(parent);
    if (systemd) return p.substr(p.rfind('/') + 1) + ":berth:" + id;
    return (p == "/" ? "" : p) + "/" + id;
}

std::string container_cgroup_dir(const std::string& cgroups_path, const std::string& id) {
    if (cgroups_path.find(':') == std::string::npos) return cgroups_path;
    return cgroup::systemd::parse_path(cgroups_path, id, false).path;
}

HostFeatures HostFeatures::detect() {
    HostFeatures h;
    struct statfs fs{};
    h.cgroup_v2 = ::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
    if (h.cgroup_v2) {
        std::string self;
        try {
            for (auto& line : split(read_file("/proc/self/cgroup"), '\n'))
                if (line.starts_with("0::")) self = line.substr(3);
        } catch (const Error&) {
        }
        h.swap_controller = exists("/sys/fs/cgroup" + self + "/memory.swap.max");
        try {
            h.hugetlb = read_file("/sys/fs/cgroup/cgroup.controllers").find("hugetlb") != std::string::npos;
        } catch (const Error&) {
            h.hugetlb = false;
        }
    } else {
        h.swap_controller = exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
        h.hugetlb = exists("/sys/fs/cgroup/hugetlb");
    }
    h.apparmor = apparmor_enabled();
    h.selinux = selinux_enabled();
    try {
        h.cap_last_cap = std::stoi(read_file("/proc/sys/kernel/cap_last_cap"));
    } catch (...) {
    }
    char name[HOST_NAME_MAX + 1] = {};
    if (::gethostname(name, sizeof name - 1) == 0) h.hostname = name;
    return h;
}

spec::Config build_container_spec(const PodContext& pod, const ContainerContext& ctr, const HandlerOptions& handler) {
    return build_container_spec(pod, ctr, handler, HostFeatures::detect());
}

spec::Config build_container_spec(const PodContext& pod, const ContainerContext& ctr, const HandlerOptions& handler,
                                  const HostFeatures& host) {
    if (!ctr.config) bad("config", "missing");
    if (!pod.config) bad("sandbox_config", "missing");
    if (ctr.id.empty()) throw Error(EINVAL, "container id: empty");
    if (ctr.rootfs.empty() || ctr.rootfs[0] != '/') throw Error(EINVAL, "rootfs: expected an absolute path, got " + quote(ctr.rootfs));
    const auto& c = *ctr.config;
    const auto& sandbox = *pod.config;
    const auto& sc = c.linux().security_context();
    static const spec::image::ImageConfig no_image;
    const auto& img = (ctr.image ? *ctr.image : no_image).config;
    if (c.metadata().name().empty()) bad("metadata.name", "empty");
    if (sc.privileged() && !sandbox.linux().security_context().privileged())
        bad(sc_field + ".privileged", "the pod is not privileged (its linux.security_context.privileged is false)");

    spec::Config cfg;
    cfg.ociVersion = spec::default_config(false).ociVersion;
    cfg.root = {ctr.rootfs, sc.readonly_rootfs()};
    cfg.linux.emplace();
    cfg.linux->resources.emplace();
    // Deny every device, then allow what the spec lists; the runtime adds
    // the standard ones (null, zero, tty, ...) as runc does.
    cfg.linux->resources->devices = {{.allow = false, .access = "rwm"}};

    // Process. No rlimits: containerd drops the default spec's (its issue
    // 515), so the container inherits the shim's.
    spec::Process& p = cfg.process.emplace();
    p.args = process_args(c, img);
    p.terminal = c.tty();
    p.cwd = !c.working_dir().empty() ? c.working_dir() : !img.working_dir.empty() ? img.working_dir : "/";
    if (p.cwd[0] != '/') bad(c.working_dir().empty() ? "image config WorkingDir" : "working_dir", "must be absolute: " + quote(p.cwd));
    std::string hostname = sandbox.hostname().empty() ? host.hostname : sandbox.hostname();
    p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    merge_env(p.env, {"HOSTNAME=" + hostname});
    std::vector<std::string> env = img.env;
    for (int i = 0; i < c.envs_size(); ++i) {
        if (c.envs(i).key().empty() || c.envs(i).key().find('=') != std::string::npos)
            bad("envs[" + std::to_string(i) + "].key", "invalid name " + quote(c.envs(i).key()));
        env.push_back(c.envs(i).key() + "=" + c.envs(i).value());
    }
    merge_env(p.env, env);
    user(p, sc, img, ctr.rootfs);
    capabilities(p, sc, host);
    p.noNewPrivileges = sc.no_new_privs();
    p.apparmorProfile = apparmor(sc, handler, host);

    mounts(cfg, pod, ctr, host);
    namespaces(*cfg.linux, pod, sc, host);

    // Kubelet sends the default masked and read-only paths itself (procMount
    // Default) and empty lists for procMount Unmasked; containerd uses them
    // as given. Privileged: none.
    if (!sc.privileged()) {
        cfg.linux->maskedPaths.assign(sc.masked_paths().begin(), sc.masked_paths().end());
        cfg.linux->readonlyPaths.assign(sc.readonly_paths().begin(), sc.readonly_paths().end());
    }
    cfg.linux->seccomp = seccomp(sc, handler);

    // A tty in a container given the host's /dev needs /dev/console (containerd).
    bool host_dev = std::any_of(c.mounts().begin(), c.mounts().end(),
                                [](const v1::Mount& m) { return m.container_path() == "/dev" && m.host_path() == "/dev"; });
    v1::ContainerConfig with_console;
    const v1::ContainerConfig* devs = &c;
    if (c.tty() && host_dev &&
        std::none_of(c.devices().begin(), c.devices().end(), [](const v1::Device& d) { return d.container_path() == "/dev/console"; })) {
        with_console = c;
        auto* d = with_console.add_devices();
        d->set_host_path("/dev/console");
        d->set_container_path("/dev/console");
        d->set_permissions("rwm");
        devs = &with_console;
    }
    config_devices(cfg, *devs);
    if (sc.privileged()) {
        // Every host device, all allowed (containerd's WithHostDevices + WithAllDevicesAllowed).
        std::vector<spec::Device> all;
        devices_under(host.dev_dir, "/dev", all);
        for (auto& d : all) {
            std::erase_if(cfg.linux->devices, [&](const spec::Device& x) { return x.path == d.path; });
            cfg.linux->devices.push_back(std::move(d));
        }
        cfg.linux->resources->devices = {{.allow = true, .access = "rwm"}};
    }

    resources(cfg, c, host);
    cfg.linux->cgroupsPath = container_cgroups_path(pod.cgroup_parent, ctr.id, pod.systemd_cgroup);

    // Annotations: the config's (but the CDI requests, applied below, so the
    // runtime does not apply them a second time), then containerd's own.
    for (auto& [k, v] : c.annotations())
        if (!k.starts_with("cdi.k8s.io/")) cfg.annotations[k] = v;
    const auto& md = sandbox.metadata();
    cfg.annotations["io.kubernetes.cri.container-type"] = "container";
    cfg.annotations["io.kubernetes.cri.container-name"] = c.metadata().name();
    cfg.annotations["io.kubernetes.cri.sandbox-id"] = pod.sandbox_id;
    cfg.annotations["io.kubernetes.cri.sandbox-name"] = md.name();
    cfg.annotations["io.kubernetes.cri.sandbox-namespace"] = md.namespace_();
    cfg.annotations["io.kubernetes.cri.sandbox-uid"] = md.uid();
    cfg.annotations["io.kubernetes.cri.image-name"] = ctr.image_ref;

    cdi(cfg, c, handler);
    return cfg;
}

} // namespace berth::cri
