// Types for the OCI runtime spec (1.2) config.json, Linux parts.
// Field names follow the spec's JSON keys. std::optional marks fields whose
// absence means something different from a zero value. Every type compares
// member-wise (==), for round-trip checks and for diffing updates.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::spec {

// ---- process ------------------------------------------------------------

struct User {
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::optional<uint32_t> umask;
    std::vector<uint32_t> additionalGids;
    std::string username;
    bool operator==(const User&) const = default;
};

struct Rlimit {
    std::string type;   // "RLIMIT_NOFILE", validated against the known names
    uint64_t soft = 0;
    uint64_t hard = 0;
    bool operator==(const Rlimit&) const = default;
};

struct Capabilities {
    std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
    bool operator==(const Capabilities&) const = default;
};

struct ConsoleSize {
    uint32_t height = 0;
    uint32_t width = 0;
    bool operator==(const ConsoleSize&) const = default;
};

struct Scheduler {
    std::string policy;   // SCHED_OTHER, SCHED_FIFO, ...
    int32_t nice = 0;
    int32_t priority = 0;
    std::vector<std::string> flags;
    uint64_t runtime = 0, deadline = 0, period = 0;
    bool operator==(const Scheduler&) const = default;
};

struct IoPriority {
    std::string ioClass;   // JSON key "class": IOPRIO_CLASS_RT|BE|IDLE
    int32_t priority = 0;
    bool operator==(const IoPriority&) const = default;
};

struct ExecCpuAffinity {
    std::string initial;
    std::string final;
    bool operator==(const ExecCpuAffinity&) const = default;
};

struct Process {
    bool terminal = false;
    std::optional<ConsoleSize> consoleSize;
    User user;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd = "/";
    std::optional<Capabilities> capabilities;
    std::vector<Rlimit> rlimits;
    bool noNewPrivileges = false;
    std::string apparmorProfile;
    std::optional<int32_t> oomScoreAdj;
    std::string selinuxLabel;
    std::optional<Scheduler> scheduler;
    std::optional<IoPriority> ioPriority;
    std::optional<ExecCpuAffinity> execCPUAffinity;
    bool operator==(const Process&) const = default;
};

// ---- root, mounts, hooks ------------------------------------------------

struct Root {
    std::string path;
    bool readonly = false;
    bool operator==(const Root&) const = default;
};

struct IdMapping {
    uint32_t containerID = 0;
    uint32_t hostID = 0;
    uint32_t size = 0;
    bool operator==(const IdMapping&) const = default;
};

struct Mount {
    std::string destination;
    std::string type;
    std::string source;
    std::vector<std::string> options;
    std::vector<IdMapping> uidMappings, gidMappings;
    bool operator==(const Mount&) const = default;
};

struct Hook {
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::optional<int32_t> timeout;   // seconds, > 0
    bool operator==(const Hook&) const = default;
};

struct Hooks {
    std::vector<Hook> prestart, createRuntime, createContainer, startContainer, poststart, poststop;
    bool operator==(const Hooks&) const = default;
};

// ---- linux --------------------------------------------------------------

enum class NsType { pid, network, mount, ipc, uts, user, cgroup, time };
// The spec's name for a namespace type ("network", "mount", ...).
std::string_view ns_type_name(NsType t);
// Parse a spec name; returns false for unknown names.
bool parse_ns_type(std::string_view name, NsType& out);

struct Namespace {
    NsType type;
    std::string path;   // empty: create a new one
    bool operator==(const Namespace&) const = default;
};

struct TimeOffset {
    int64_t secs = 0;
    uint32_t nanosecs = 0;
    bool operator==(const TimeOffset&) const = default;
};

struct Device {
    std::string type;   // "c", "b", "u", "p"
    std::string path;
    int64_t major = 0;
    int64_t minor = 0;
    std::optional<uint32_t> fileMode;
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
    bool operator==(const Device&) const = default;
};

struct DeviceCgroup {
    bool allow = false;
    std::string type;                 // "a", "c", "b"; empty means "a"
    std::optional<int64_t> major;     // absent means any (*)
    std::optional<int64_t> minor;
    std::string access;               // subset of "rwm"
    bool operator==(const DeviceCgroup&) const = default;
};

struct Memory {
    std::optional<int64_t> limit, reservation, swap, kernel, kernelTCP;
    std::optional<uint64_t> swappiness;
    std::optional<bool> disableOOMKiller, useHierarchy, checkBeforeUpdate;
    bool operator==(const Memory&) const = default;
};

struct Cpu {
    std::optional<uint64_t> shares;
    std::optional<int64_t> quota;
    std::optional<uint64_t> burst;
    std::optional<uint64_t> period;
    std::optional<int64_t> realtimeRuntime;
    std::optional<uint64_t> realtimePeriod;
    std::string cpus, mems;
    std::optional<int64_t> idle;
    bool operator==(const Cpu&) const = default;
};

struct Pids {
    std::optional<int64_t> limit;
    bool operator==(const Pids&) const = default;
};

struct WeightDevice {
    int64_t major = 0, minor = 0;
    std::optional<uint16_t> weight, leafWeight;
    bool operator==(const WeightDevice&) const = default;
};

struct ThrottleDevice {
    int64_t major = 0, minor = 0;
    uint64_t rate = 0;
    bool operator==(const ThrottleDevice&) const = default;
};

struct BlockIO {
    std::optional<uint16_t> weight, leafWeight;
    std::vector<WeightDevice> weightDevice;
    std::vector<ThrottleDevice> throttleReadBpsDevice, throttleWriteBpsDevice,
        throttleReadIOPSDevice, throttleWriteIOPSDevice;
    bool operator==(const BlockIO&) const = default;
};

struct HugepageLimit {
    std::string pageSize;   // "2MB", "1GB"
    uint64_t limit = 0;
    bool operator==(const HugepageLimit&) const = default;
};

struct NetPriority {
    std::string name;
    uint32_t priority = 0;
    bool operator==(const NetPriority&) const = default;
};

struct Network {
    std::optional<uint32_t> classID;
    std::vector<NetPriority> priorities;
    bool operator==(const Network&) const = default;
};

struct Rdma {
    std::optional<uint32_t> hcaHandles, hcaObjects;
    bool operator==(const Rdma&) const = default;
};

struct Resources {
    std::vector<DeviceCgroup> devices;
    std::optional<Memory> memory;
    std::optional<Cpu> cpu;
    std::optional<Pids> pids;
    std::optional<BlockIO> blockIO;
    std::vector<HugepageLimit> hugepageLimits;
    std::optional<Network> network;
    std::map<std::string, Rdma> rdma;
    std::map<std::string, std::string> unified;
    bool operator==(const Resources&) const = default;
};

struct SeccompArg {
    uint32_t index = 0;
    uint64_t value = 0;
    uint64_t valueTwo = 0;
    std::string op;   // SCMP_CMP_*
    bool operator==(const SeccompArg&) const = default;
};

struct SeccompSyscall {
    std::vector<std::string> names;
    std::string action;   // SCMP_ACT_*
    std::optional<uint32_t> errnoRet;
    std::vector<SeccompArg> args;
    bool operator==(const SeccompSyscall&) const = default;
};

struct Seccomp {
    std::string defaultAction;
    std::optional<uint32_t> defaultErrnoRet;
    std::vector<std::string> architectures;
    std::vector<std::string> flags;
    std::string listenerPath;
    std::string listenerMetadata;
    std::vector<SeccompSyscall> syscalls;
    bool operator==(const Seccomp&) const = default;
};

struct Personality {
    std::string domain;   // LINUX or LINUX32
    std::vector<std::string> flags;
    bool operator==(const Personality&) const = default;
};

struct IntelRdt {
    std::string closID, l3CacheSchema, memBwSchema;
    std::vector<std::string> schemata;
    bool enableMonitoring = false;
    bool operator==(const IntelRdt&) const = default;
};

struct MemoryPolicy {
    std::string mode;
    std::string nodes;
    std::vector<std::string> flags;
    bool operator==(const MemoryPolicy&) const = default;
};

struct Linux {
    std::vector<Namespace> namespaces;
    std::vector<IdMapping> uidMappings, gidMappings;
    std::map<std::string, TimeOffset> timeOffsets;   // "monotonic", "boottime"
    std::vector<Device> devices;
    std::string cgroupsPath;
    std::optional<Resources> resources;
    std::string rootfsPropagation;   // "", private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable
    std::map<std::string, std::string> sysctl;
    std::optional<Seccomp> seccomp;
    std::vector<std::string> maskedPaths;
    std::vector<std::string> readonlyPaths;
    std::string mountLabel;
    std::optional<Personality> personality;
    std::optional<IntelRdt> intelRdt;
    std::map<std::string, std::string> netDevices;   // host name -> name in container
    std::optional<MemoryPolicy> memoryPolicy;

    const Namespace* find_ns(NsType t) const {
        for (auto& n : namespaces)
            if (n.type == t) return &n;
        return nullptr;
    }
    bool operator==(const Linux&) const = default;
};

struct Config {
    std::string ociVersion;
    std::optional<Process> process;
    Root root;
    std::string hostname;
    std::string domainname;
    std::vector<Mount> mounts;
    Hooks hooks;
    std::map<std::string, std::string> annotations;
    std::optional<Linux> linux;
    bool operator==(const Config&) const = default;
};

// ---- parse, validate, write ---------------------------------------------

// Parse config.json text. Throws berth::Error(EINVAL) whose message names the
// JSON path and the problem ("process.user.uid: expected unsigned integer").
// `what` names the source in syntax errors. Unknown keys are ignored.
Config parse_config(std::string_view text, std::string_view what = "config.json");

// Check the semantic rules (see spec/validate.cpp). `bundle` is the bundle
// directory, used to resolve a relative root.path. Throws berth::Error naming
// the field.
void validate_config(const Config& c, const std::string& bundle);

// Repair in place what runc accepts though the spec or the kernel would not
// (see spec/relax.cpp), before validate_config; one warning per repair.
std::vector<std::string> relax_config(Config& c);

// Read BUNDLE/config.json, parse, relax and validate it. Errors name the
// file. `text`, when given, receives the config as it runs (the file's
// contents unless relax_config changed it); `warnings` relax_config's.
Config load_bundle_config(const std::string& bundle, std::string* text = nullptr,
                          std::vector<std::string>* warnings = nullptr);

// Parse a process.json (for exec --process) and a LinuxResources document
// (for update -r).
Process parse_process(std::string_view text, std::string_view what = "process.json");
Resources parse_resources(std::string_view text, std::string_view what = "resources.json");

// Serialize (pretty) a config; round-trips with parse_config. Absent
// optionals and empty optional strings and arrays are left out. Pretty output
// ends with a newline (yajl adds it); compact output does not.
std::string to_json(const Config& c, bool pretty = true);
// A process.json (exec --process), round-tripping with parse_process.
std::string to_json(const Process& p, bool pretty = false);
// A LinuxResources document (update -r), round-tripping with parse_resources.
std::string to_json(const Resources& r, bool pretty = false);

// A default config.json like `runc spec` (and `runc spec --rootless`).
Config default_config(bool rootless);

// Map an rlimit name ("RLIMIT_NOFILE") to its resource number; -1 if unknown.
int rlimit_resource(std::string_view name);

} // namespace berth::spec
