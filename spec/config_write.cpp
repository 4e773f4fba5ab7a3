// spec types -> config.json. put() writes a value; req() writes a key the
// spec requires; opt() writes a key only when it holds something (absent
// optional, empty string or array, false, zero), which parse_config reads
// back as the same default.
#include "config.hpp"

#include "json.hpp"

namespace berth::spec {

namespace {

using json::Writer;
using Key = std::string_view;

void put(Writer& w, const std::string& s) { w.string(s); }
void put(Writer& w, bool b) { w.boolean(b); }
void put(Writer& w, int32_t n) { w.int64(n); }
void put(Writer& w, int64_t n) { w.int64(n); }
void put(Writer& w, uint16_t n) { w.uint64(n); }
void put(Writer& w, uint32_t n) { w.uint64(n); }
void put(Writer& w, uint64_t n) { w.uint64(n); }
void put(Writer& w, const std::vector<std::string>& v) { w.string_array(v); }
void put(Writer& w, const std::map<std::string, std::string>& m) { w.string_map(m); }

void put(Writer& w, const User& v);
void put(Writer& w, const Rlimit& v);
void put(Writer& w, const Capabilities& v);
void put(Writer& w, const ConsoleSize& v);
void put(Writer& w, const Scheduler& v);
void put(Writer& w, const IoPriority& v);
void put(Writer& w, const ExecCpuAffinity& v);
void put(Writer& w, const Process& v);
void put(Writer& w, const IdMapping& v);
void put(Writer& w, const Mount& v);
void put(Writer& w, const Hook& v);
void put(Writer& w, const Namespace& v);
void put(Writer& w, const TimeOffset& v);
void put(Writer& w, const Device& v);
void put(Writer& w, const DeviceCgroup& v);
void put(Writer& w, const Memory& v);
void put(Writer& w, const Cpu& v);
void put(Writer& w, const Pids& v);
void put(Writer& w, const WeightDevice& v);
void put(Writer& w, const ThrottleDevice& v);
void put(Writer& w, const BlockIO& v);
void put(Writer& w, const HugepageLimit& v);
void put(Writer& w, const NetPriority& v);
void put(Writer& w, const Network& v);
void put(Writer& w, const Rdma& v);
void put(Writer& w, const Resources& v);
void put(Writer& w, const SeccompArg& v);
void put(Writer& w, const SeccompSyscall& v);
void put(Writer& w, const Seccomp& v);
void put(Writer& w, const Personality& v);
void put(Writer& w, const IntelRdt& v);
void put(Writer& w, const MemoryPolicy& v);
void put(Writer& w, const Linux& v);

template <class T>
void put(Writer& w, const std::vector<T>& v) {
    w.begin_array();
    for (auto& item : v) put(w, item);
    w.end_array();
}

template <class T>
void put(Writer& w, const std::map<std::string, T>& m) {
    w.begin_object();
    for (auto& [k, item] : m) {
        w.key(k);
        put(w, item);
    }
    w.end_object();
}

template <class T>
void req(Writer& w, Key k, const T& v) {
    w.key(k);
    put(w, v);
}

template <class T>
void opt(Writer& w, Key k, const std::optional<T>& v) {
    if (v) req(w, k, *v);
}

template <class T>
void opt(Writer& w, Key k, const std::vector<T>& v) {
    if (!v.empty()) req(w, k, v);
}

template <class T>
void opt(Writer& w, Key k, const std::map<std::string, T>& v) {
    if (!v.empty()) req(w, k, v);
}

void opt(Writer& w, Key k, const std::string& v) {
    if (!v.empty()) req(w, k, v);
}
void opt(Writer& w, Key k, bool v) {
    if (v) req(w, k, v);
}
void opt(Writer& w, Key k, int32_t v) {
    if (v != 0) req(w, k, v);
}
void opt(Writer& w, Key k, uint64_t v) {
    if (v != 0) req(w, k, v);
}

// ---- process ------------------------------------------------------------

void put(Writer& w, const User& v) {
    w.begin_object();
    req(w, "uid", v.uid);
    req(w, "gid", v.gid);
    opt(w, "umask", v.umask);
    opt(w, "additionalGids", v.additionalGids);
    opt(w, "username", v.username);
    w.end_object();
}

void put(Writer& w, const Rlimit& v) {
    w.begin_object();
    req(w, "type", v.type);
    req(w, "hard", v.hard);
    req(w, "soft", v.soft);
    w.end_object();
}

void put(Writer& w, const Capabilities& v) {
    w.begin_object();
    opt(w, "bounding", v.bounding);
    opt(w, "effective", v.effective);
    opt(w, "inheritable", v.inheritable);
    opt(w, "permitted", v.permitted);
    opt(w, "ambient", v.ambient);
    w.end_object();
}

void put(Writer& w, const ConsoleSize& v) {
    w.begin_object();
    req(w, "height", v.height);
    req(w, "width", v.width);
    w.end_object();
}

void put(Writer& w, const Scheduler& v) {
    w.begin_object();
    req(w, "policy", v.policy);
    opt(w, "nice", v.nice);
    opt(w, "priority", v.priority);
    opt(w, "flags", v.flags);
    opt(w, "runtime", v.runtime);
    opt(w, "deadline", v.deadline);
    opt(w, "period", v.period);
    w.end_object();
}

void put(Writer& w, const IoPriority& v) {
    w.begin_object();
    req(w, "class", v.ioClass);
    req(w, "priority", v.priority);
    w.end_object();
}

void put(Writer& w, const ExecCpuAffinity& v) {
    w.begin_object();
    opt(w, "initial", v.initial);
    opt(w, "final", v.final);
    w.end_object();
}

void put(Writer& w, const Process& v) {
    w.begin_object();
    opt(w, "terminal", v.terminal);
    opt(w, "consoleSize", v.consoleSize);
    req(w, "user", v.user);
    req(w, "args", v.args);
    opt(w, "env", v.env);
    req(w, "cwd", v.cwd);
    opt(w, "capabilities", v.capabilities);
    opt(w, "rlimits", v.rlimits);
    opt(w, "noNewPrivileges", v.noNewPrivileges);
    opt(w, "apparmorProfile", v.apparmorProfile);
    opt(w, "oomScoreAdj", v.oomScoreAdj);
    opt(w, "selinuxLabel", v.selinuxLabel);
    opt(w, "scheduler", v.scheduler);
    opt(w, "ioPriority", v.ioPriority);
    opt(w, "execCPUAffinity", v.execCPUAffinity);
    w.end_object();
}

// ---- root, mounts, hooks ------------------------------------------------

void put(Writer& w, const IdMapping& v) {
    w.begin_object();
    req(w, "containerID", v.containerID);
    req(w, "hostID", v.hostID);
    req(w, "size", v.size);
    w.end_object();
}

void put(Writer& w, const Mount& v) {
    w.begin_object();
    req(w, "destination", v.destination);
    opt(w, "type", v.type);
    opt(w, "source", v.source);
    opt(w, "options", v.options);
    opt(w, "uidMappings", v.uidMappings);
    opt(w, "gidMappings", v.gidMappings);
    w.end_object();
}

void put(Writer& w, const Hook& v) {
    w.begin_object();
    req(w, "path", v.path);
    opt(w, "args", v.args);
    opt(w, "env", v.env);
    opt(w, "timeout", v.timeout);
    w.end_object();
}

void put_hooks(Writer& w, const Hooks& v) {
    if (v == Hooks{}) return;
    w.key("hooks").begin_object();
    opt(w, "prestart", v.prestart);
    opt(w, "createRuntime", v.createRuntime);
    opt(w, "createContainer", v.createContainer);
    opt(w, "startContainer", v.startContainer);
    opt(w, "poststart", v.poststart);
    opt(w, "poststop", v.poststop);
    w.end_object();
}

// ---- linux --------------------------------------------------------------

void put(Writer& w, const Namespace& v) {
    w.begin_object();
    w.kv("type", ns_type_name(v.type));
    opt(w, "path", v.path);
    w.end_object();
}

void put(Writer& w, const TimeOffset& v) {
    w.begin_object();
    req(w, "secs", v.secs);
    req(w, "nanosecs", v.nanosecs);
    w.end_object();
}

void put(Writer& w, const Device& v) {
    w.begin_object();
    req(w, "type", v.type);
    req(w, "path", v.path);
    // Required unless the type is "p" (a FIFO has no numbers).
    if (v.type != "p" || v.major != 0 || v.minor != 0) {
        req(w, "major", v.major);
        req(w, "minor", v.minor);
    }
    opt(w, "fileMode", v.fileMode);
    opt(w, "uid", v.uid);
    opt(w, "gid", v.gid);
    w.end_object();
}

void put(Writer& w, const DeviceCgroup& v) {
    w.begin_object();
    req(w, "allow", v.allow);
    opt(w, "type", v.type);
    opt(w, "major", v.major);
    opt(w, "minor", v.minor);
    opt(w, "access", v.access);
    w.end_object();
}

void put(Writer& w, const Memory& v) {
    w.begin_object();
    opt(w, "limit", v.limit);
    opt(w, "reservation", v.reservation);
    opt(w, "swap", v.swap);
    opt(w, "kernel", v.kernel);
    opt(w, "kernelTCP", v.kernelTCP);
    opt(w, "swappiness", v.swappiness);
    opt(w, "disableOOMKiller", v.disableOOMKiller);
    opt(w, "useHierarchy", v.useHierarchy);
    opt(w, "checkBeforeUpdate", v.checkBeforeUpdate);
    w.end_object();
}

void put(Writer& w, const Cpu& v) {
    w.begin_object();
    opt(w, "shares", v.shares);
    opt(w, "quota", v.quota);
    opt(w, "burst", v.burst);
    opt(w, "period", v.period);
    opt(w, "realtimeRuntime", v.realtimeRuntime);
    opt(w, "realtimePeriod", v.realtimePeriod);
    opt(w, "cpus", v.cpus);
    opt(w, "mems", v.mems);
    opt(w, "idle", v.idle);
    w.end_object();
}

void put(Writer& w, const Pids& v) {
    w.begin_object();
    opt(w, "limit", v.limit);
    w.end_object();
}

void put(Writer& w, const WeightDevice& v) {
    w.begin_object();
    req(w, "major", v.major);
    req(w, "minor", v.minor);
    opt(w, "weight", v.weight);
    opt(w, "leafWeight", v.leafWeight);
    w.end_object();
}

void put(Writer& w, const ThrottleDevice& v) {
    w.begin_object();
    req(w, "major", v.major);
    req(w, "minor", v.minor);
    req(w, "rate", v.rate);
    w.end_object();
}

void put(Writer& w, const BlockIO& v) {
    w.begin_object();
    opt(w, "weight", v.weight);
    opt(w, "leafWeight", v.leafWeight);
    opt(w, "weightDevice", v.weightDevice);
    opt(w, "throttleReadBpsDevice", v.throttleReadBpsDevice);
    opt(w, "throttleWriteBpsDevice", v.throttleWriteBpsDevice);
    opt(w, "throttleReadIOPSDevice", v.throttleReadIOPSDevice);
    opt(w, "throttleWriteIOPSDevice", v.throttleWriteIOPSDevice);
    w.end_object();
}

void put(Writer& w, const HugepageLimit& v) {
    w.begin_object();
    req(w, "pageSize", v.pageSize);
    req(w, "limit", v.limit);
    w.end_object();
}

void put(Writer& w, const NetPriority& v) {
    w.begin_object();
    req(w, "name", v.name);
    req(w, "priority", v.priority);
    w.end_object();
}

void put(Writer& w, const Network& v) {
    w.begin_object();
    opt(w, "classID", v.classID);
    opt(w, "priorities", v.priorities);
    w.end_object();
}

void put(Writer& w, const Rdma& v) {
    w.begin_object();
    opt(w, "hcaHandles", v.hcaHandles);
    opt(w, "hcaObjects", v.hcaObjects);
    w.end_object();
}

void put(Writer& w, const Resources& v) {
    w.begin_object();
    opt(w, "devices", v.devices);
    opt(w, "memory", v.memory);
    opt(w, "cpu", v.cpu);
    opt(w, "pids", v.pids);
    opt(w, "blockIO", v.blockIO);
    opt(w, "hugepageLimits", v.hugepageLimits);
    opt(w, "network", v.network);
    opt(w, "rdma", v.rdma);
    opt(w, "unified", v.unified);
    w.end_object();
}

void put(Writer& w, const SeccompArg& v) {
    w.begin_object();
    req(w, "index", v.index);
    req(w, "value", v.value);
    opt(w, "valueTwo", v.valueTwo);
    req(w, "op", v.op);
    w.end_object();
}

void put(Writer& w, const SeccompSyscall& v) {
    w.begin_object();
    req(w, "names", v.names);
    req(w, "action", v.action);
    opt(w, "errnoRet", v.errnoRet);
    opt(w, "args", v.args);
    w.end_object();
}

void put(Writer& w, const Seccomp& v) {
    w.begin_object();
    req(w, "defaultAction", v.defaultAction);
    opt(w, "defaultErrnoRet", v.defaultErrnoRet);
    opt(w, "architectures", v.architectures);
    opt(w, "flags", v.flags);
    opt(w, "listenerPath", v.listenerPath);
    opt(w, "listenerMetadata", v.listenerMetadata);
    opt(w, "syscalls", v.syscalls);
    w.end_object();
}

void put(Writer& w, const Personality& v) {
    w.begin_object();
    req(w, "domain", v.domain);
    opt(w, "flags", v.flags);
    w.end_object();
}

void put(Writer& w, const IntelRdt& v) {
    w.begin_object();
    opt(w, "closID", v.closID);
    opt(w, "l3CacheSchema", v.l3CacheSchema);
    opt(w, "memBwSchema", v.memBwSchema);
    opt(w, "schemata", v.schemata);
    opt(w, "enableMonitoring", v.enableMonitoring);
    w.end_object();
}

void put(Writer& w, const MemoryPolicy& v) {
    w.begin_object();
    req(w, "mode", v.mode);
    opt(w, "nodes", v.nodes);
    opt(w, "flags", v.flags);
    w.end_object();
}

void put_net_devices(Writer& w, const std::map<std::string, std::string>& m) {
    if (m.empty()) return;
    w.key("netDevices").begin_object();
    for (auto& [host, name] : m) w.key(host).begin_object().kv("name", name).end_object();
    w.end_object();
}

void put(Writer& w, const Linux& v) {
    w.begin_object();
    opt(w, "namespaces", v.namespaces);
    opt(w, "uidMappings", v.uidMappings);
    opt(w, "gidMappings", v.gidMappings);
    opt(w, "timeOffsets", v.timeOffsets);
    opt(w, "devices", v.devices);
    opt(w, "cgroupsPath", v.cgroupsPath);
    opt(w, "resources", v.resources);
    opt(w, "rootfsPropagation", v.rootfsPropagation);
    opt(w, "sysctl", v.sysctl);
    opt(w, "seccomp", v.seccomp);
    opt(w, "maskedPaths", v.maskedPaths);
    opt(w, "readonlyPaths", v.readonlyPaths);
    opt(w, "mountLabel", v.mountLabel);
    opt(w, "personality", v.personality);
    opt(w, "intelRdt", v.intelRdt);
    put_net_devices(w, v.netDevices);
    opt(w, "memoryPolicy", v.memoryPolicy);
    w.end_object();
}

} // namespace

std::string to_json(const Resources& r, bool pretty) {
    Writer w(pretty);
    put(w, r);
    return w.str();
}

std::string to_json(const Process& p, bool pretty) {
    Writer w(pretty);
    put(w, p);
    return w.str();
}

std::string to_json(const Config& c, bool pretty) {
    Writer w(pretty);
    w.begin_object();
    req(w, "ociVersion", c.ociVersion);
    opt(w, "process", c.process);
    if (!c.root.path.empty() || c.root.readonly) {
        w.key("root").begin_object();
        req(w, "path", c.root.path);
        opt(w, "readonly", c.root.readonly);
        w.end_object();
    }
    opt(w, "hostname", c.hostname);
    opt(w, "domainname", c.domainname);
    opt(w, "mounts", c.mounts);
    put_hooks(w, c.hooks);
    opt(w, "annotations", c.annotations);
    opt(w, "linux", c.linux);
    w.end_object();
    return w.str();
}

} // namespace berth::spec
