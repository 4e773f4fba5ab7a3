// config.json -> spec types. One get_to() overload per type reads a JSON value
// into it; field() reads an optional key. Absent and null keys leave the
// default in place (as Go's decoder does); unknown keys are ignored.
#include "config.hpp"

#include "error.hpp"
#include "json.hpp"

namespace berth::spec {

namespace {

using json::Value;

void get_to(const Value& v, std::string& out) { out = v.as_string(); }
void get_to(const Value& v, bool& out) { out = v.as_bool(); }
void get_to(const Value& v, int32_t& out) { out = v.as_int32(); }
void get_to(const Value& v, int64_t& out) { out = v.as_int64(); }
void get_to(const Value& v, uint16_t& out) { out = v.as_uint16(); }
void get_to(const Value& v, uint32_t& out) { out = v.as_uint32(); }
void get_to(const Value& v, uint64_t& out) { out = v.as_uint64(); }
void get_to(const Value& v, std::vector<std::string>& out) { out = v.as_string_array(); }
void get_to(const Value& v, std::map<std::string, std::string>& out) { out = v.as_string_map(); }

void get_to(const Value& v, User& out);
void get_to(const Value& v, Rlimit& out);
void get_to(const Value& v, Capabilities& out);
void get_to(const Value& v, ConsoleSize& out);
void get_to(const Value& v, Scheduler& out);
void get_to(const Value& v, IoPriority& out);
void get_to(const Value& v, ExecCpuAffinity& out);
void get_to(const Value& v, Process& out);
void get_to(const Value& v, Root& out);
void get_to(const Value& v, IdMapping& out);
void get_to(const Value& v, Mount& out);
void get_to(const Value& v, Hook& out);
void get_to(const Value& v, Hooks& out);
void get_to(const Value& v, Namespace& out);
void get_to(const Value& v, TimeOffset& out);
void get_to(const Value& v, Device& out);
void get_to(const Value& v, DeviceCgroup& out);
void get_to(const Value& v, Memory& out);
void get_to(const Value& v, Cpu& out);
void get_to(const Value& v, Pids& out);
void get_to(const Value& v, WeightDevice& out);
void get_to(const Value& v, ThrottleDevice& out);
void get_to(const Value& v, BlockIO& out);
void get_to(const Value& v, HugepageLimit& out);
void get_to(const Value& v, NetPriority& out);
void get_to(const Value& v, Network& out);
void get_to(const Value& v, Rdma& out);
void get_to(const Value& v, Resources& out);
void get_to(const Value& v, SeccompArg& out);
void get_to(const Value& v, SeccompSyscall& out);
void get_to(const Value& v, Seccomp& out);
void get_to(const Value& v, Personality& out);
void get_to(const Value& v, IntelRdt& out);
void get_to(const Value& v, MemoryPolicy& out);
void get_to(const Value& v, Linux& out);
void get_to(const Value& v, Config& out);

template <class T>
void get_to(const Value& v, std::optional<T>& out) {
    get_to(v, out.emplace());
}

template <class T>
void get_to(const Value& v, std::vector<T>& out) {
    std::vector<Value> items = v.as_array();
    out.clear();
    out.reserve(items.size());
    for (auto& item : items) get_to(item, out.emplace_back());
}

template <class T>
void get_to(const Value& v, std::map<std::string, T>& out) {
    out.clear();
    for (auto& [k, item] : v.members()) get_to(item, out[k]);
}

// Most keys a config could have are absent; find() builds no path for them.
template <class T>
void field(const Value& obj, std::string_view key, T& out) {
    if (std::optional<Value> v = obj.find(key)) get_to(*v, out);
}

// Every struct reader starts here so `"process": 5` fails as
// "process: expected object" even for a struct whose keys are all absent.
void require_object(const Value& v) {
    if (!v.is_object()) v.fail("expected object");
}

// ---- process ------------------------------------------------------------

void get_to(const Value& v, User& out) {
    require_object(v);
    field(v, "uid", out.uid);
    field(v, "gid", out.gid);
    field(v, "umask", out.umask);
    field(v, "additionalGids", out.additionalGids);
    field(v, "username", out.username);
}

void get_to(const Value& v, Rlimit& out) {
    require_object(v);
    field(v, "type", out.type);
    field(v, "soft", out.soft);
    field(v, "hard", out.hard);
}

void get_to(const Value& v, Capabilities& out) {
    require_object(v);
    field(v, "bounding", out.bounding);
    field(v, "effective", out.effective);
    field(v, "inheritable", out.inheritable);
    field(v, "permitted", out.permitted);
    field(v, "ambient", out.ambient);
}

void get_to(const Value& v, ConsoleSize& out) {
    require_object(v);
    field(v, "height", out.height);
    field(v, "width", out.width);
}

void get_to(const Value& v, Scheduler& out) {
    require_object(v);
    field(v, "policy", out.policy);
    field(v, "nice", out.nice);
    field(v, "priority", out.priority);
    field(v, "flags", out.flags);
    field(v, "runtime", out.runtime);
    field(v, "deadline", out.deadline);
    field(v, "period", out.period);
}

void get_to(const Value& v, IoPriority& out) {
    require_object(v);
    field(v, "class", out.ioClass);
    field(v, "priority", out.priority);
}

void get_to(const Value& v, ExecCpuAffinity& out) {
    require_object(v);
    field(v, "initial", out.initial);
    field(v, "final", out.final);
}

void get_to(const Value& v, Process& out) {
    require_object(v);
    field(v, "terminal", out.terminal);
    field(v, "consoleSize", out.consoleSize);
    field(v, "user", out.user);
    field(v, "args", out.args);
    field(v, "env", out.env);
    field(v, "cwd", out.cwd);
    field(v, "capabilities", out.capabilities);
    field(v, "rlimits", out.rlimits);
    field(v, "noNewPrivileges", out.noNewPrivileges);
    field(v, "apparmorProfile", out.apparmorProfile);
    field(v, "oomScoreAdj", out.oomScoreAdj);
    field(v, "selinuxLabel", out.selinuxLabel);
    field(v, "scheduler", out.scheduler);
    field(v, "ioPriority", out.ioPriority);
    field(v, "execCPUAffinity", out.execCPUAffinity);
}

// ---- root, mounts, hooks ------------------------------------------------

void get_to(const Value& v, Root& out) {
    require_object(v);
    field(v, "path", out.path);
    field(v, "readonly", out.readonly);
}

void get_to(const Value& v, IdMapping& out) {
    require_object(v);
    field(v, "containerID", out.containerID);
    field(v, "hostID", out.hostID);
    field(v, "size", out.size);
}

void get_to(const Value& v, Mount& out) {
    require_object(v);
    field(v, "destination", out.destination);
    field(v, "type", out.type);
    field(v, "source", out.source);
    field(v, "options", out.options);
    field(v, "uidMappings", out.uidMappings);
    field(v, "gidMappings", out.gidMappings);
}

void get_to(const Value& v, Hook& out) {
    require_object(v);
    field(v, "path", out.path);
    field(v, "args", out.args);
    field(v, "env", out.env);
    field(v, "timeout", out.timeout);
}

void get_to(const Value& v, Hooks& out) {
    require_object(v);
    field(v, "prestart", out.prestart);
    field(v, "createRuntime", out.createRuntime);
    field(v, "createContainer", out.createContainer);
    field(v, "startContainer", out.startContainer);
    field(v, "poststart", out.poststart);
    field(v, "poststop", out.poststop);
}

// ---- linux --------------------------------------------------------------

void get_to(const Value& v, Namespace& out) {
    require_object(v);
    Value t = v.get("type");
    std::string name = t.as_string();
    if (!parse_ns_type(name, out.type)) t.fail("unknown namespace \"" + name + "\"");
    field(v, "path", out.path);
}

void get_to(const Value& v, TimeOffset& out) {
    require_object(v);
    field(v, "secs", out.secs);
    field(v, "nanosecs", out.nanosecs);
}

void get_to(const Value& v, Device& out) {
    require_object(v);
    field(v, "type", out.type);
    field(v, "path", out.path);
    field(v, "major", out.major);
    field(v, "minor", out.minor);
    field(v, "fileMode", out.fileMode);
    field(v, "uid", out.uid);
    field(v, "gid", out.gid);
}

void get_to(const Value& v, DeviceCgroup& out) {
    require_object(v);
    field(v, "allow", out.allow);
    field(v, "type", out.type);
    field(v, "major", out.major);
    field(v, "minor", out.minor);
    field(v, "access", out.access);
}

void get_to(const Value& v, Memory& out) {
    require_object(v);
    field(v, "limit", out.limit);
    field(v, "reservation", out.reservation);
    field(v, "swap", out.swap);
    field(v, "kernel", out.kernel);
    field(v, "kernelTCP", out.kernelTCP);
    field(v, "swappiness", out.swappiness);
    field(v, "disableOOMKiller", out.disableOOMKiller);
    field(v, "useHierarchy", out.useHierarchy);
    field(v, "checkBeforeUpdate", out.checkBeforeUpdate);
}

void get_to(const Value& v, Cpu& out) {
    require_object(v);
    field(v, "shares", out.shares);
    field(v, "quota", out.quota);
    field(v, "burst", out.burst);
    field(v, "period", out.period);
    field(v, "realtimeRuntime", out.realtimeRuntime);
    field(v, "realtimePeriod", out.realtimePeriod);
    field(v, "cpus", out.cpus);
    field(v, "mems", out.mems);
    field(v, "idle", out.idle);
}

void get_to(const Value& v, Pids& out) {
    require_object(v);
    field(v, "limit", out.limit);
}

void get_to(const Value& v, WeightDevice& out) {
    require_object(v);
    field(v, "major", out.major);
    field(v, "minor", out.minor);
    field(v, "weight", out.weight);
    field(v, "leafWeight", out.leafWeight);
}

void get_to(const Value& v, ThrottleDevice& out) {
    require_object(v);
    field(v, "major", out.major);
    field(v, "minor", out.minor);
    field(v, "rate", out.rate);
}

void get_to(const Value& v, BlockIO& out) {
    require_object(v);
    field(v, "weight", out.weight);
    field(v, "leafWeight", out.leafWeight);
    field(v, "weightDevice", out.weightDevice);
    field(v, "throttleReadBpsDevice", out.throttleReadBpsDevice);
    field(v, "throttleWriteBpsDevice", out.throttleWriteBpsDevice);
    field(v, "throttleReadIOPSDevice", out.throttleReadIOPSDevice);
    field(v, "throttleWriteIOPSDevice", out.throttleWriteIOPSDevice);
}

void get_to(const Value& v, HugepageLimit& out) {
    require_object(v);
    field(v, "pageSize", out.pageSize);
    field(v, "limit", out.limit);
}

void get_to(const Value& v, NetPriority& out) {
    require_object(v);
    field(v, "name", out.name);
    field(v, "priority", out.priority);
}

void get_to(const Value& v, Network& out) {
    require_object(v);
    field(v, "classID", out.classID);
    field(v, "priorities", out.priorities);
}

void get_to(const Value& v, Rdma& out) {
    require_object(v);
    field(v, "hcaHandles", out.hcaHandles);
    field(v, "hcaObjects", out.hcaObjects);
}

void get_to(const Value& v, Resources& out) {
    require_object(v);
    field(v, "devices", out.devices);
    field(v, "memory", out.memory);
    field(v, "cpu", out.cpu);
    field(v, "pids", out.pids);
    field(v, "blockIO", out.blockIO);
    field(v, "hugepageLimits", out.hugepageLimits);
    field(v, "network", out.network);
    field(v, "rdma", out.rdma);
    field(v, "unified", out.unified);
}

void get_to(const Value& v, SeccompArg& out) {
    require_object(v);
    field(v, "index", out.index);
    field(v, "value", out.value);
    field(v, "valueTwo", out.valueTwo);
    field(v, "op", out.op);
}

void get_to(const Value& v, SeccompSyscall& out) {
    require_object(v);
    field(v, "names", out.names);
    field(v, "action", out.action);
    field(v, "errnoRet", out.errnoRet);
    field(v, "args", out.args);
}

void get_to(const Value& v, Seccomp& out) {
    require_object(v);
    field(v, "defaultAction", out.defaultAction);
    field(v, "defaultErrnoRet", out.defaultErrnoRet);
    field(v, "architectures", out.architectures);
    field(v, "flags", out.flags);
    field(v, "listenerPath", out.listenerPath);
    field(v, "listenerMetadata", out.listenerMetadata);
    field(v, "syscalls", out.syscalls);
}

void get_to(const Value& v, Personality& out) {
    require_object(v);
    field(v, "domain", out.domain);
    field(v, "flags", out.flags);
}

void get_to(const Value& v, IntelRdt& out) {
    require_object(v);
    field(v, "closID", out.closID);
    field(v, "l3CacheSchema", out.l3CacheSchema);
    field(v, "memBwSchema", out.memBwSchema);
    field(v, "schemata", out.schemata);
    field(v, "enableMonitoring", out.enableMonitoring);
}

void get_to(const Value& v, MemoryPolicy& out) {
    require_object(v);
    field(v, "mode", out.mode);
    field(v, "nodes", out.nodes);
    field(v, "flags", out.flags);
}

// {"eth0": {"name": "ctr0"}}: a device without a name keeps its host name.
void read_net_devices(const Value& v, std::map<std::string, std::string>& out) {
    out.clear();
    for (auto& [host, dev] : v.members()) {
        std::string name;
        require_object(dev);
        field(dev, "name", name);
        out.insert_or_assign(host, name.empty() ? host : std::move(name));
    }
}

void get_to(const Value& v, Linux& out) {
    require_object(v);
    field(v, "namespaces", out.namespaces);
    field(v, "uidMappings", out.uidMappings);
    field(v, "gidMappings", out.gidMappings);
    field(v, "timeOffsets", out.timeOffsets);
    field(v, "devices", out.devices);
    field(v, "cgroupsPath", out.cgroupsPath);
    field(v, "resources", out.resources);
    field(v, "rootfsPropagation", out.rootfsPropagation);
    field(v, "sysctl", out.sysctl);
    field(v, "seccomp", out.seccomp);
    field(v, "maskedPaths", out.maskedPaths);
    field(v, "readonlyPaths", out.readonlyPaths);
    field(v, "mountLabel", out.mountLabel);
    field(v, "personality", out.personality);
    field(v, "intelRdt", out.intelRdt);
    if (std::optional<Value> nd = v.find("netDevices")) read_net_devices(*nd, out.netDevices);
    field(v, "memoryPolicy", out.memoryPolicy);
}

void get_to(const Value& v, Config& out) {
    require_object(v);
    field(v, "ociVersion", out.ociVersion);
    field(v, "process", out.process);
    field(v, "root", out.root);
    field(v, "hostname", out.hostname);
    field(v, "domainname", out.domainname);
    field(v, "mounts", out.mounts);
    field(v, "hooks", out.hooks);
    field(v, "annotations", out.annotations);
    field(v, "linux", out.linux);
}

template <class T>
T parse_document(std::string_view text, std::string_view what) {
    json::Document doc(text, what);
    T out;
    get_to(doc.root(), out);
    return out;
}

} // namespace

Config parse_config(std::string_view text, std::string_view what) { return parse_document<Config>(text, what); }
Process parse_process(std::string_view text, std::string_view what) { return parse_document<Process>(text, what); }
Resources parse_resources(std::string_view text, std::string_view what) { return parse_document<Resources>(text, what); }

} // namespace berth::spec
