// Applying CDI devices to a config: resolve the names, merge the edits
// (spec-level once per spec, then each device's), refuse edits that
// disagree, then write them into the OCI config.
#include "cdi_devices.hpp"

#include "error.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <set>

namespace berth::cdi {

namespace sc = spec::cdi;

namespace {

// An edit plus where it came from, for conflict messages.
template <class T>
struct From {
    T item;
    std::string source;
};

std::string env_key(const std::string& kv) { return kv.substr(0, kv.find('=')); }

[[noreturn]] void conflict(const std::string& what, const std::string& a, const std::string& a_from,
                           const std::string& b, const std::string& b_from) {
    throw Error(EINVAL, "CDI edits conflict: " + what + ": " + a + " from " + a_from + ", but " + b + " from " + b_from);
}

std::string node_desc(const sc::DeviceNode& d) {
    std::string s = d.type + " " + std::to_string(d.major) + ":" + std::to_string(d.minor);
    if (d.hostPath != d.path) s += " (host " + d.hostPath + ")";
    return s;
}

std::string mount_desc(const sc::Mount& m) {
    std::string s = m.hostPath;
    if (!m.type.empty()) s += " type " + m.type;
    if (!m.options.empty()) {
        s += " [";
        for (size_t i = 0; i < m.options.size(); ++i) s += (i ? "," : "") + m.options[i];
        s += "]";
    }
    return s;
}

// The merged edits of every requested device.
class Merged {
public:
    explicit Merged(HostNodeLookup lookup) : lookup_(lookup) {}

    void add(const sc::ContainerEdits& e, const std::string& source) {
        for (const auto& kv : e.env) {
            std::string k = env_key(kv);
            auto it = std::find_if(env_.begin(), env_.end(), [&](auto& x) { return env_key(x.item) == k; });
            if (it == env_.end()) env_.push_back({kv, source});
            else if (it->item != kv) conflict("env " + k, it->item, it->source, kv, source);
        }
        for (auto d : e.deviceNodes) {
            with_context(source + ": device node " + d.path, [&] { fill_node(d); });
            auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](auto& x) { return x.item.path == d.path; });
            if (it == nodes_.end()) nodes_.push_back({d, source});
            else if (!(it->item == d)) {
                // One node from two edits: the same device, unless the
                // device number, the host node or the mode differ.
                if (node_desc(it->item) != node_desc(d) || it->item.fileMode != d.fileMode || it->item.uid != d.uid ||
                    it->item.gid != d.gid)
                    conflict("device node " + d.path, node_desc(it->item), it->source, node_desc(d), source);
                it->item.permissions = merge_permissions(it->item.permissions, d.permissions);
            }
        }
        for (const auto& m : e.mounts) {
            auto it = std::find_if(mounts_.begin(), mounts_.end(),
                                   [&](auto& x) { return x.item.containerPath == m.containerPath; });
            if (it == mounts_.end()) mounts_.push_back({m, source});
            else if (!(it->item == m))
                conflict("mount on " + m.containerPath, mount_desc(it->item), it->source, mount_desc(m), source);
        }
        for (const auto& h : e.hooks)
            if (std::none_of(hooks_.begin(), hooks_.end(), [&](auto& x) { return x == h; })) hooks_.push_back(h);
        for (auto g : e.additionalGids)
            if (g != 0 && std::find(gids_.begin(), gids_.end(), g) == gids_.end()) gids_.push_back(g);
        if (e.intelRdt) {
            if (rdt_ && !(rdt_->item == *e.intelRdt))
                conflict("intelRdt", "closID \"" + rdt_->item.closID + "\"", rdt_->source,
                         "closID \"" + e.intelRdt->closID + "\"", source);
            rdt_ = From<sc::IntelRdt>{*e.intelRdt, source};
        }
        for (const auto& n : e.netDevices) {
            for (auto& x : net_) {
                if (x.item.hostInterfaceName == n.hostInterfaceName && x.item.name != n.name)
                    conflict("net device " + n.hostInterfaceName, "name " + x.item.name, x.source, "name " + n.name, source);
                if (x.item.name == n.name && x.item.hostInterfaceName != n.hostInterfaceName)
                    conflict("net device name " + n.name, x.item.hostInterfaceName, x.source, n.hostInterfaceName, source);
            }
            if (std::none_of(net_.begin(), net_.end(), [&](auto& x) { return x.item == n; })) net_.push_back({n, source});
        }
    }

    void apply(spec::Config& cfg) const {
        auto& proc = *cfg.process;
        auto& lin = cfg.linux ? *cfg.linux : cfg.linux.emplace();
        for (const auto& e : env_) {
            std::string k = env_key(e.item) + "=";
            std::erase_if(proc.env, [&](const std::string& x) { return x.rfind(k, 0) == 0; });
            proc.env.push_back(e.item);
        }
        for (const auto& [d, source] : nodes_) {
            spec::Device od;
            od.type = d.type;
            od.path = d.path;
            od.major = d.major;
            od.minor = d.minor;
            od.fileMode = d.fileMode;
            od.uid = d.uid;
            od.gid = d.gid;
            // As the CDI library does: a node the config leaves unowned goes
            // to the container's user.
            if (!od.uid && proc.user.uid > 0) od.uid = proc.user.uid;
            if (!od.gid && proc.user.gid > 0) od.gid = proc.user.gid;
            std::erase_if(lin.devices, [&](const spec::Device& x) { return x.path == d.path; });
            lin.devices.push_back(od);
            if ((d.type == "b" || d.type == "c") && d.permissions != "none") {
                spec::DeviceCgroup rule;
                rule.allow = true;
                rule.type = d.type;
                rule.major = d.major;
                rule.minor = d.minor;
                rule.access = d.permissions.empty() ? "rwm" : d.permissions;
                auto& res = lin.resources ? *lin.resources : lin.resources.emplace();
                res.devices.push_back(rule);
            }
        }
        if (!mounts_.empty()) {
            for (const auto& [m, source] : mounts_) {
                spec::Mount om;
                om.destination = m.containerPath;
                om.source = m.hostPath;
                om.type = m.type;
                om.options = m.options;
                // A mount with neither a type nor a bind option would be a
                // mount of nothing: CDI mounts are binds.
                bool bind = std::any_of(om.options.begin(), om.options.end(),
                                        [](const std::string& o) { return o == "bind" || o == "rbind"; });
                if (om.type.empty() && !bind) om.options.push_back("bind");
                std::erase_if(cfg.mounts, [&](const spec::Mount& x) { return x.destination == om.destination; });
                cfg.mounts.push_back(om);
            }
            // Parents before children, as the CDI library orders them.
            auto depth = [](const std::string& p) {
                std::string s = p;
                while (s.size() > 1 && s.back() == '/') s.pop_back();
                return std::count(s.begin(), s.end(), '/');
            };
            std::stable_sort(cfg.mounts.begin(), cfg.mounts.end(), [&](const spec::Mount& a, const spec::Mount& b) {
                return depth(a.destination) < depth(b.destination);
            });
        }
        for (const auto& h : hooks_) {
            spec::Hook oh{h.path, h.args, h.env, h.timeout};
            auto& hk = cfg.hooks;
            auto& list = h.hookName == "prestart"          ? hk.prestart
                         : h.hookName == "createRuntime"   ? hk.createRuntime
                         : h.hookName == "createContainer" ? hk.createContainer
                         : h.hookName == "startContainer"  ? hk.startContainer
                         : h.hookName == "poststart"       ? hk.poststart
                                                           : hk.poststop;
            list.push_back(oh);
        }
        for (auto g : gids_) {
            auto& ag = proc.user.additionalGids;
            if (std::find(ag.begin(), ag.end(), g) == ag.end()) ag.push_back(g);
        }
        if (rdt_) {
            spec::IntelRdt r;
            r.closID = rdt_->item.closID;
            r.l3CacheSchema = rdt_->item.l3CacheSchema;
            r.memBwSchema = rdt_->item.memBwSchema;
            if (rdt_->item.schemata) r.schemata = *rdt_->item.schemata;
            r.enableMonitoring = rdt_->item.enableMonitoring;
            lin.intelRdt = r;
        }
        for (const auto& n : net_) lin.netDevices[n.item.hostInterfaceName] = n.item.name;
    }

private:
    // hostPath, type, major, minor (and fileMode) from the host node when
    // the spec leaves them out.
    void fill_node(sc::DeviceNode& d) const {
        if (d.hostPath.empty()) d.hostPath = d.path;
        if (d.type == "u") return;
        if (!d.type.empty() && (d.major != 0 || d.type == "p")) return;
        HostNode h = lookup_(d.hostPath);
        if (d.type.empty()) d.type = h.type;
        else if (d.type != h.type)
            throw Error(EINVAL, "type " + d.type + " but the host node " + d.hostPath + " is of type " + h.type);
        if (!d.fileMode) d.fileMode = h.mode;
        if (d.type == "p") return;
        if (d.major == 0) {
            d.major = h.major;
            d.minor = h.minor;
        }
    }

    static std::string merge_permissions(const std::string& a, const std::string& b) {
        if (a.empty() || b.empty()) return "";   // rwm
        if (a == "none") return b;
        if (b == "none") return a;
        std::string out;
        for (char c : std::string("rwm"))
            if (a.find(c) != std::string::npos || b.find(c) != std::string::npos) out.push_back(c);
        return out;
    }

    HostNodeLookup lookup_;
    std::vector<From<std::string>> env_;
    std::vector<From<sc::DeviceNode>> nodes_;
    std::vector<From<sc::Mount>> mounts_;
    std::vector<sc::Hook> hooks_;
    std::vector<uint32_t> gids_;
    std::optional<From<sc::IntelRdt>> rdt_;
    std::vector<From<sc::NetDevice>> net_;
};

} // namespace

HostNode stat_host_node(const std::string& host_path) {
    struct stat st;
    if (::stat(host_path.c_str(), &st) < 0) throw_errno("stat host device " + host_path);
    HostNode h;
    if (S_ISCHR(st.st_mode)) h.type = "c";
    else if (S_ISBLK(st.st_mode)) h.type = "b";
    else if (S_ISFIFO(st.st_mode)) h.type = "p";
    else throw Error(EINVAL, "host device " + host_path + " is not a device node or fifo");
    h.major = major(st.st_rdev);
    h.minor = minor(st.st_rdev);
    h.mode = st.st_mode & 07777;
    return h;
}

void apply_cdi_devices(spec::Config& cfg, const std::vector<std::string>& names, const Registry& reg,
                       HostNodeLookup lookup) {
    if (names.empty()) return;
    if (!cfg.process) throw Error(EINVAL, "CDI devices need a process in the config");
    Merged merged(lookup);
    std::set<std::string> seen;
    std::set<size_t> specs_applied;
    std::vector<std::string> unresolved;
    for (const auto& n : names) {
        if (!seen.insert(n).second) continue;
        auto q = sc::parse_qualified_name(n);   // throws with the reason
        if (auto c = reg.conflicts.find(n); c != reg.conflicts.end()) throw Error(EINVAL, c->second);
        auto it = reg.devices.find(n);
        if (it == reg.devices.end()) {
            unresolved.push_back(n);
            continue;
        }
        const auto& file = reg.files[it->second.file];
        if (specs_applied.insert(it->second.file).second && !file.spec.containerEdits.empty())
            merged.add(file.spec.containerEdits, file.spec.kind + " (" + file.path + ")");
        merged.add(file.spec.devices[it->second.device].containerEdits, n + " (" + file.path + ")");
    }
    if (!unresolved.empty()) {
        std::string msg = "unresolvable CDI devices";
        for (size_t i = 0; i < unresolved.size(); ++i) msg += (i ? ", " : " ") + unresolved[i];
        if (reg.files.empty() && reg.errors.empty()) {
            msg += " (no CDI spec files in";
            for (const auto& d : reg.dirs) msg += " " + d;
            msg += ")";
        }
        for (const auto& e : reg.errors) msg += "; spec file error: " + e;
        throw Error(ENOENT, msg);
    }
    spec::Config out = cfg;
    merged.apply(out);
    cfg = std::move(out);
}

} // namespace berth::cdi
