// CDI (Container Device Interface) spec files: types, parse (JSON and
// YAML), validate and write. Field names follow the spec's JSON keys
// (specs-go). Loaders reject unknown keys, as the CDI library does.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::spec::cdi {

// The newest cdiVersion berth reads and writes.
inline constexpr std::string_view current_version = "1.1.0";

struct DeviceNode {
    std::string path;          // in the container
    std::string hostPath;      // 0.5.0; empty: same as path
    std::string type;          // b, c, u, p; empty: from the host node
    int64_t major = 0;         // 0: from the host node
    int64_t minor = 0;
    std::optional<uint32_t> fileMode;
    std::string permissions;   // cgroup access, subset of "rwm"; empty: rwm; "none": no rule
    std::optional<uint32_t> uid, gid;
    bool operator==(const DeviceNode&) const = default;
};

struct Mount {
    std::string hostPath;
    std::string containerPath;
    std::vector<std::string> options;
    std::string type;   // 0.4.0
    bool operator==(const Mount&) const = default;
};

struct Hook {
    std::string hookName;   // prestart, createRuntime, createContainer, startContainer, poststart, poststop
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::optional<int32_t> timeout;
    bool operator==(const Hook&) const = default;
};

struct IntelRdt {
    std::string closID, l3CacheSchema, memBwSchema;
    std::optional<std::vector<std::string>> schemata;   // 1.1.0
    bool enableMonitoring = false;                      // 1.1.0
    bool operator==(const IntelRdt&) const = default;
};

struct NetDevice {   // 1.1.0
    std::string hostInterfaceName;
    std::string name;
    bool operator==(const NetDevice&) const = default;
};

struct ContainerEdits {
    std::vector<std::string> env;   // "K=V"
    std::vector<DeviceNode> deviceNodes;
    std::vector<Mount> mounts;
    std::vector<Hook> hooks;
    std::vector<uint32_t> additionalGids;   // 0.7.0
    std::optional<IntelRdt> intelRdt;       // 0.7.0
    std::vector<NetDevice> netDevices;      // 1.1.0
    bool empty() const {
        return env.empty() && deviceNodes.empty() && mounts.empty() && hooks.empty() && additionalGids.empty() &&
               !intelRdt && netDevices.empty();
    }
    bool operator==(const ContainerEdits&) const = default;
};

struct Device {
    std::string name;
    std::map<std::string, std::string> annotations;   // 0.6.0
    ContainerEdits containerEdits;
    bool operator==(const Device&) const = default;
};

struct Spec {
    std::string cdiVersion;
    std::string kind;   // vendor.com/class
    std::map<std::string, std::string> annotations;   // 0.6.0
    std::vector<Device> devices;
    ContainerEdits containerEdits;
    bool operator==(const Spec&) const = default;
};

// Parse a spec file's text; `yaml` selects YAML (else JSON). Throws
// Error(EINVAL, "<what>: <field>: <problem>"), e.g.
// "/etc/cdi/x.yaml: devices[0].containerEdits.deviceNodes[1].major: expected integer".
Spec parse_spec(std::string_view text, std::string_view what, bool yaml);
// Read and parse a file; YAML unless the name ends in ".json".
Spec read_spec_file(const std::string& path);

// The semantic rules: a known cdiVersion that is at least what the spec's
// fields need, a valid kind, unique valid device names, devices with edits,
// valid edits. Throws Error(EINVAL, "<what>: <field>: <problem>").
void validate_spec(const Spec& s, std::string_view what);
// The lowest cdiVersion that has every field the spec uses.
std::string minimum_version(const Spec& s);
// Versions berth reads, oldest first ("0.3.0" ... current_version).
const std::vector<std::string_view>& known_versions();

// Name syntax. Each returns "" when valid, else why not.
std::string check_vendor(std::string_view vendor);
std::string check_class(std::string_view cls);
std::string check_device_name(std::string_view name);
std::string check_kind(std::string_view kind);

// A fully-qualified device name "vendor.com/class=name".
struct QualifiedName {
    std::string vendor, cls, name;
    std::string kind() const { return vendor + "/" + cls; }
    std::string str() const { return vendor + "/" + cls + "=" + name; }
    bool operator==(const QualifiedName&) const = default;
};
// Throws Error(EINVAL, "\"x\": not a fully-qualified CDI device name (...)").
QualifiedName parse_qualified_name(std::string_view s);
bool is_qualified_name(std::string_view s);

// Serialize. JSON round-trips with parse_spec; YAML is block style with
// every string double-quoted.
std::string to_json(const Spec& s, bool pretty = true);
std::string to_yaml(const Spec& s);

} // namespace berth::spec::cdi
