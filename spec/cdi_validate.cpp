// CDI spec rules: names, versions and edits. Errors name the file and the
// field: "/etc/cdi/x.yaml: devices[2].name: invalid character '/' in device name".
#include "cdi.hpp"

#include "error.hpp"

#include <algorithm>

namespace berth::spec::cdi {

namespace {

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_letter(c) || (c >= '0' && c <= '9'); }

// Vendor and class share one rule: a letter first, a letter or digit
// last, and letters, digits, '_', '-', '.' between.
std::string check_label(std::string_view s, const char* what) {
    std::string q = "\"" + std::string(s) + "\"";
    if (s.empty()) return std::string("empty ") + what;
    if (!is_letter(s.front())) return std::string(what) + " " + q + " should start with a letter";
    for (char c : s)
        if (!is_alnum(c) && c != '_' && c != '-' && c != '.')
            return std::string("invalid character '") + c + "' in " + what + " " + q;
    if (!is_alnum(s.back())) return std::string(what) + " " + q + " should end with a letter or digit";
    return "";
}

// Version strings compare as x.y.z numbers.
std::vector<int> vparts(std::string_view v) {
    std::vector<int> out;
    int cur = 0;
    for (char c : v) {
        if (c == '.') {
            out.push_back(cur);
            cur = 0;
        } else {
            cur = cur * 10 + (c - '0');
        }
    }
    out.push_back(cur);
    return out;
}
bool version_less(std::string_view a, std::string_view b) { return vparts(a) < vparts(b); }

const char* const kHookNames[] = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                                  "poststop"};

void check_env(const std::vector<std::string>& env, const std::string& field) {
    for (size_t i = 0; i < env.size(); ++i)
        if (env[i].find('=') == std::string::npos || env[i].front() == '=')
            throw Error(EINVAL, field + "[" + std::to_string(i) + "]: \"" + env[i] + "\" is not KEY=VALUE");
}

void check_edits(const ContainerEdits& e, const std::string& f) {
    check_env(e.env, f + ".env");
    for (size_t i = 0; i < e.deviceNodes.size(); ++i) {
        const auto& d = e.deviceNodes[i];
        std::string p = f + ".deviceNodes[" + std::to_string(i) + "]";
        if (d.path.empty()) throw Error(EINVAL, p + ".path: required");
        if (d.path.front() != '/') throw Error(EINVAL, p + ".path: \"" + d.path + "\" is not absolute");
        if (!d.hostPath.empty() && d.hostPath.front() != '/')
            throw Error(EINVAL, p + ".hostPath: \"" + d.hostPath + "\" is not absolute");
        if (!d.type.empty() && d.type != "b" && d.type != "c" && d.type != "u" && d.type != "p")
            throw Error(EINVAL, p + ".type: \"" + d.type + "\" is not one of b, c, u, p");
        if (d.major < 0 || d.minor < 0) throw Error(EINVAL, p + ": negative device number");
        if (!d.permissions.empty() && d.permissions != "none" &&
            d.permissions.find_first_not_of("rwm") != std::string::npos)
            throw Error(EINVAL, p + ".permissions: \"" + d.permissions + "\" is not a subset of rwm (or \"none\")");
        if (d.fileMode && (*d.fileMode & ~07777u))
            throw Error(EINVAL, p + ".fileMode: " + std::to_string(*d.fileMode) + " has bits beyond 07777");
    }
    for (size_t i = 0; i < e.mounts.size(); ++i) {
        const auto& m = e.mounts[i];
        std::string p = f + ".mounts[" + std::to_string(i) + "]";
        if (m.hostPath.empty()) throw Error(EINVAL, p + ".hostPath: required");
        if (m.containerPath.empty()) throw Error(EINVAL, p + ".containerPath: required");
        if (m.containerPath.front() != '/')
            throw Error(EINVAL, p + ".containerPath: \"" + m.containerPath + "\" is not absolute");
    }
    for (size_t i = 0; i < e.hooks.size(); ++i) {
        const auto& h = e.hooks[i];
        std::string p = f + ".hooks[" + std::to_string(i) + "]";
        if (std::find(std::begin(kHookNames), std::end(kHookNames), h.hookName) == std::end(kHookNames))
            throw Error(EINVAL, p + ".hookName: unknown hook \"" + h.hookName + "\"");
        if (h.path.empty()) throw Error(EINVAL, p + ".path: required");
        if (h.path.front() != '/') throw Error(EINVAL, p + ".path: \"" + h.path + "\" is not absolute");
        if (h.timeout && *h.timeout <= 0) throw Error(EINVAL, p + ".timeout: must be positive");
        check_env(h.env, p + ".env");
    }
    if (e.intelRdt) {
        const auto& c = e.intelRdt->closID;
        if (c != "/" && (c.size() >= 4096 || c == "." || c == ".." || c.find_first_of("/\n") != std::string::npos))
            throw Error(EINVAL, f + ".intelRdt.closID: \"" + c + "\" is not a valid CLOS name");
    }
    for (size_t i = 0; i < e.netDevices.size(); ++i) {
        const auto& n = e.netDevices[i];
        std::string p = f + ".netDevices[" + std::to_string(i) + "]";
        if (n.hostInterfaceName.empty()) throw Error(EINVAL, p + ".hostInterfaceName: required");
        if (n.name.empty()) throw Error(EINVAL, p + ".name: required");
        for (size_t j = 0; j < i; ++j) {
            if (e.netDevices[j].hostInterfaceName == n.hostInterfaceName)
                throw Error(EINVAL, p + ".hostInterfaceName: \"" + n.hostInterfaceName + "\" given twice");
            if (e.netDevices[j].name == n.name) throw Error(EINVAL, p + ".name: \"" + n.name + "\" given twice");
        }
    }
}

bool uses(const Spec& s, bool (*pred)(const ContainerEdits&)) {
    if (pred(s.containerEdits)) return true;
    return std::any_of(s.devices.begin(), s.devices.end(), [&](const Device& d) { return pred(d.containerEdits); });
}

} // namespace

const std::vector<std::string_view>& known_versions() {
    // 0.1.0 and 0.2.0 had another layout; the CDI library refuses them too.
    static const std::vector<std::string_view> v = {"0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0",
                                                    "0.8.0", "1.0.0", current_version};
    return v;
}

std::string check_vendor(std::string_view vendor) { return check_label(vendor, "vendor"); }
std::string check_class(std::string_view cls) { return check_label(cls, "class"); }

std::string check_device_name(std::string_view name) {
    std::string q = "\"" + std::string(name) + "\"";
    if (name.empty()) return "empty device name";
    if (!is_alnum(name.front())) return "device name " + q + " should start with a letter or digit";
    for (char c : name)
        if (!is_alnum(c) && c != '_' && c != '-' && c != '.' && c != ':')
            return std::string("invalid character '") + c + "' in device name " + q;
    if (!is_alnum(name.back())) return "device name " + q + " should end with a letter or digit";
    return "";
}

std::string check_kind(std::string_view kind) {
    auto slash = kind.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == kind.size())
        return "\"" + std::string(kind) + "\" is not vendor.com/class";
    if (auto why = check_vendor(kind.substr(0, slash)); !why.empty()) return why;
    return check_class(kind.substr(slash + 1));
}

bool is_qualified_name(std::string_view s) {
    auto eq = s.find('=');
    return eq != std::string_view::npos && check_kind(s.substr(0, eq)).empty() &&
           check_device_name(s.substr(eq + 1)).empty();
}

QualifiedName parse_qualified_name(std::string_view s) {
    auto eq = s.find('=');
    std::string why;
    if (eq == std::string_view::npos) why = "no '='";
    else if (why = check_kind(s.substr(0, eq)); why.empty()) why = check_device_name(s.substr(eq + 1));
    if (!why.empty())
        throw Error(EINVAL, "\"" + std::string(s) + "\" is not a fully-qualified CDI device name vendor.com/class=name: " + why);
    auto slash = s.find('/');
    return {std::string(s.substr(0, slash)), std::string(s.substr(slash + 1, eq - slash - 1)),
            std::string(s.substr(eq + 1))};
}

std::string minimum_version(const Spec& s) {
    auto has_v110 = [](const ContainerEdits& e) {
        return !e.netDevices.empty() || (e.intelRdt && (e.intelRdt->schemata || e.intelRdt->enableMonitoring));
    };
    auto has_v070 = [](const ContainerEdits& e) { return e.intelRdt.has_value() || !e.additionalGids.empty(); };
    auto has_v050 = [](const ContainerEdits& e) {
        return std::any_of(e.deviceNodes.begin(), e.deviceNodes.end(),
                           [](const DeviceNode& d) { return !d.hostPath.empty(); });
    };
    auto has_v040 = [](const ContainerEdits& e) {
        return std::any_of(e.mounts.begin(), e.mounts.end(), [](const Mount& m) { return !m.type.empty(); });
    };
    if (uses(s, has_v110)) return "1.1.0";
    if (uses(s, has_v070)) return "0.7.0";
    bool annotations = !s.annotations.empty() ||
                       std::any_of(s.devices.begin(), s.devices.end(), [](const Device& d) { return !d.annotations.empty(); });
    auto slash = s.kind.find('/');
    bool dotted_class = slash != std::string::npos && s.kind.find('.', slash) != std::string::npos;
    if (annotations || dotted_class) return "0.6.0";
    bool digit_name = std::any_of(s.devices.begin(), s.devices.end(),
                                  [](const Device& d) { return !d.name.empty() && !is_letter(d.name.front()); });
    if (digit_name || uses(s, has_v050)) return "0.5.0";
    if (uses(s, has_v040)) return "0.4.0";
    return "0.3.0";
}

void validate_spec(const Spec& s, std::string_view what) {
    with_context(what, [&] {
        if (s.cdiVersion.empty()) throw Error(EINVAL, "cdiVersion: required");
        const auto& known = known_versions();
        if (std::find(known.begin(), known.end(), s.cdiVersion) == known.end()) {
            std::string list;
            for (auto v : known) list += (list.empty() ? "" : ", ") + std::string(v);
            throw Error(EINVAL, "cdiVersion: unknown version \"" + s.cdiVersion + "\" (known: " + list + ")");
        }
        std::string need = minimum_version(s);
        if (version_less(s.cdiVersion, need))
            throw Error(EINVAL, "cdiVersion: " + s.cdiVersion + " lacks fields this spec uses; it needs at least " + need);
        if (s.kind.empty()) throw Error(EINVAL, "kind: required");
        if (auto why = check_kind(s.kind); !why.empty()) throw Error(EINVAL, "kind: " + why);
        for (const auto& [k, v] : s.annotations)
            if (k.empty()) throw Error(EINVAL, "annotations: empty key");
        check_edits(s.containerEdits, "containerEdits");
        if (s.devices.empty()) throw Error(EINVAL, "devices: a spec needs at least one device");
        for (size_t i = 0; i < s.devices.size(); ++i) {
            const auto& d = s.devices[i];
            std::string p = "devices[" + std::to_string(i) + "]";
            if (auto why = check_device_name(d.name); !why.empty()) throw Error(EINVAL, p + ".name: " + why);
            for (size_t j = 0; j < i; ++j)
                if (s.devices[j].name == d.name)
                    throw Error(EINVAL, p + ".name: device \"" + d.name + "\" is also devices[" + std::to_string(j) + "]");
            if (d.containerEdits.empty()) throw Error(EINVAL, p + ".containerEdits: a device needs at least one edit");
            check_edits(d.containerEdits, p + ".containerEdits");
        }
    });
}

} // namespace berth::spec::cdi
