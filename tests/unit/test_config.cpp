// spec/config: parsing every section, to_json round trips, default_config,
// load_bundle_config.
#include "spec_test_util.hpp"

#include "config.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <limits>

using namespace berth::spec;

namespace {

// Every section and field of config.hpp, with values that differ from the
// defaults so a field that is not read shows up as a mismatch.
constexpr const char* kFull = R"json({
  "ociVersion": "1.2.0",
  "unknownTopLevel": {"ignored": [1, 2, 3]},
  "process": {
    "terminal": true,
    "consoleSize": {"height": 25, "width": 80},
    "user": {"uid": 1000, "gid": 1001, "umask": 18, "additionalGids": [5, 6], "username": "me"},
    "args": ["/bin/sh", "-c", "echo hi"],
    "commandLine": "windows only, ignored",
    "env": ["PATH=/bin", "A=b"],
    "cwd": "/work",
    "capabilities": {
      "bounding": ["CAP_KILL", "CAP_CHOWN"],
      "effective": ["CAP_KILL"],
      "inheritable": ["CAP_SETUID"],
      "permitted": ["CAP_KILL", "CAP_NET_RAW"],
      "ambient": ["CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [
      {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
      {"type": "RLIMIT_CORE", "soft": 0, "hard": 18446744073709551615}
    ],
    "noNewPrivileges": true,
    "apparmorProfile": "berth-default",
    "oomScoreAdj": -500,
    "selinuxLabel": "system_u:system_r:container_t:s0",
    "scheduler": {"policy": "SCHED_DEADLINE", "nice": -3, "priority": 7, "flags": ["SCHED_FLAG_RESET_ON_FORK"],
                  "runtime": 100, "deadline": 200, "period": 300},
    "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
    "execCPUAffinity": {"initial": "0-3", "final": "2"}
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "domainname": "example.org",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/data", "type": "none", "source": "/srv/data", "options": ["rbind", "ro"],
     "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
     "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 1000}]}
  ],
  "hooks": {
    "prestart": [{"path": "/bin/pre", "args": ["pre", "1"], "env": ["X=1"], "timeout": 5}],
    "createRuntime": [{"path": "/bin/cr"}],
    "createContainer": [{"path": "/bin/cc"}],
    "startContainer": [{"path": "/bin/sc"}],
    "poststart": [{"path": "/bin/ps"}],
    "poststop": [{"path": "/bin/pst", "timeout": 1}, {"path": "/bin/pst2"}]
  },
  "annotations": {"org.example.key": "value", "other": ""},
  "linux": {
    "namespaces": [
      {"type": "pid"}, {"type": "network", "path": "/var/run/netns/x"}, {"type": "mount"}, {"type": "ipc"},
      {"type": "uts"}, {"type": "user"}, {"type": "cgroup"}, {"type": "time"}
    ],
    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
    "gidMappings": [{"containerID": 0, "hostID": 1001, "size": 2}],
    "timeOffsets": {"monotonic": {"secs": -10, "nanosecs": 500}, "boottime": {"secs": 3600}},
    "devices": [
      {"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
      {"type": "p", "path": "/dev/fifo"}
    ],
    "cgroupsPath": "/berth/c1",
    "resources": {
      "devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
        {"allow": true, "type": "b", "major": 8, "access": "r"}
      ],
      "memory": {"limit": 536870912, "reservation": 268435456, "swap": -1, "kernel": 1, "kernelTCP": 2,
                 "swappiness": 60, "disableOOMKiller": false, "useHierarchy": true, "checkBeforeUpdate": true},
      "cpu": {"shares": 1024, "quota": 50000, "burst": 10000, "period": 100000, "realtimeRuntime": 950,
              "realtimePeriod": 1000, "cpus": "0-1", "mems": "0", "idle": 1},
      "pids": {"limit": 100},
      "blockIO": {
        "weight": 500, "leafWeight": 300,
        "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 100}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 16, "rate": 2097152}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 200}]
      },
      "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
      "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
      "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
      "unified": {"memory.high": "1G", "io.weight": "default 100"}
    },
    "rootfsPropagation": "rslave",
    "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "4294967295"},
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
      "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "listenerPath": "/run/seccomp.sock",
      "listenerMetadata": "meta",
      "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
         "args": [{"index": 0, "value": 8, "valueTwo": 18446744073709551615, "op": "SCMP_CMP_MASKED_EQ"}]}
      ]
    },
    "maskedPaths": ["/proc/kcore", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys"],
    "mountLabel": "system_u:object_r:container_file_t:s0",
    "personality": {"domain": "LINUX32", "flags": []},
    "intelRdt": {"closID": "guaranteed", "l3CacheSchema": "L3:0=ff", "memBwSchema": "MB:0=50",
                 "schemata": ["L2:0=f"], "enableMonitoring": true},
    "netDevices": {"eth1": {"name": "ctr1"}, "eth2": {}},
    "memoryPolicy": {"mode": "MPOL_INTERLEAVE", "nodes": "0-1", "flags": ["MPOL_F_STATIC_NODES"]}
  }
})json";

Config full() { return parse_config(kFull); }

void write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
}

} // namespace

Test(config, full_process) {
    Config c = full();
    cr_expect_eq(c.ociVersion, "1.2.0");
    cr_assert(c.process.has_value());
    const Process& p = *c.process;
    cr_expect(p.terminal);
    cr_assert(p.consoleSize.has_value());
    cr_expect_eq(p.consoleSize->height, 25u);
    cr_expect_eq(p.consoleSize->width, 80u);
    cr_expect_eq(p.user.uid, 1000u);
    cr_expect_eq(p.user.gid, 1001u);
    cr_expect_eq(p.user.umask, std::optional<uint32_t>(18));
    cr_expect(p.user.additionalGids == std::vector<uint32_t>({5, 6}));
    cr_expect_eq(p.user.username, "me");
    cr_expect(p.args == std::vector<std::string>({"/bin/sh", "-c", "echo hi"}));
    cr_expect(p.env == std::vector<std::string>({"PATH=/bin", "A=b"}));
    cr_expect_eq(p.cwd, "/work");
    cr_assert(p.capabilities.has_value());
    cr_expect(p.capabilities->bounding == std::vector<std::string>({"CAP_KILL", "CAP_CHOWN"}));
    cr_expect(p.capabilities->inheritable == std::vector<std::string>({"CAP_SETUID"}));
    cr_expect(p.capabilities->ambient == std::vector<std::string>({"CAP_NET_BIND_SERVICE"}));
    cr_assert_eq(p.rlimits.size(), 2u);
    cr_expect_eq(p.rlimits[0].type, "RLIMIT_NOFILE");
    cr_expect_eq(p.rlimits[0].soft, 1024u);
    cr_expect_eq(p.rlimits[0].hard, 4096u);
    cr_expect_eq(p.rlimits[1].hard, std::numeric_limits<uint64_t>::max());
    cr_expect(p.noNewPrivileges);
    cr_expect_eq(p.apparmorProfile, "berth-default");
    cr_expect_eq(p.oomScoreAdj, std::optional<int32_t>(-500));
    cr_expect_eq(p.selinuxLabel, "system_u:system_r:container_t:s0");
    cr_assert(p.scheduler.has_value());
    cr_expect_eq(p.scheduler->policy, "SCHED_DEADLINE");
    cr_expect_eq(p.scheduler->nice, -3);
    cr_expect_eq(p.scheduler->priority, 7);
    cr_expect_eq(p.scheduler->flags.size(), 1u);
    cr_expect_eq(p.scheduler->runtime, 100u);
    cr_expect_eq(p.scheduler->deadline, 200u);
    cr_expect_eq(p.scheduler->period, 300u);
    cr_assert(p.ioPriority.has_value());
    cr_expect_eq(p.ioPriority->ioClass, "IOPRIO_CLASS_BE");
    cr_expect_eq(p.ioPriority->priority, 4);
    cr_assert(p.execCPUAffinity.has_value());
    cr_expect_eq(p.execCPUAffinity->initial, "0-3");
    cr_expect_eq(p.execCPUAffinity->final, "2");
}

Test(config, full_root_mounts_hooks_annotations) {
    Config c = full();
    cr_expect_eq(c.root.path, "rootfs");
    cr_expect(c.root.readonly);
    cr_expect_eq(c.hostname, "box");
    cr_expect_eq(c.domainname, "example.org");
    cr_assert_eq(c.mounts.size(), 2u);
    cr_expect_eq(c.mounts[0].destination, "/proc");
    cr_expect(c.mounts[0].options.empty());
    const Mount& m = c.mounts[1];
    cr_expect_eq(m.type, "none");
    cr_expect_eq(m.source, "/srv/data");
    cr_expect(m.options == std::vector<std::string>({"rbind", "ro"}));
    cr_assert_eq(m.uidMappings.size(), 1u);
    cr_expect(m.uidMappings[0] == (IdMapping{0, 100000, 65536}));
    cr_expect(m.gidMappings[0] == (IdMapping{0, 200000, 1000}));
    cr_assert_eq(c.hooks.prestart.size(), 1u);
    cr_expect_eq(c.hooks.prestart[0].path, "/bin/pre");
    cr_expect(c.hooks.prestart[0].args == std::vector<std::string>({"pre", "1"}));
    cr_expect(c.hooks.prestart[0].env == std::vector<std::string>({"X=1"}));
    cr_expect_eq(c.hooks.prestart[0].timeout, std::optional<int32_t>(5));
    cr_expect_eq(c.hooks.createRuntime.at(0).path, "/bin/cr");
    cr_expect_eq(c.hooks.createContainer.at(0).path, "/bin/cc");
    cr_expect_eq(c.hooks.startContainer.at(0).path, "/bin/sc");
    cr_expect_eq(c.hooks.poststart.at(0).path, "/bin/ps");
    cr_expect_eq(c.hooks.poststop.size(), 2u);
    cr_expect(!c.hooks.poststop[1].timeout.has_value());
    cr_expect_eq(c.annotations.size(), 2u);
    cr_expect_eq(c.annotations.at("org.example.key"), "value");
}

Test(config, full_linux) {
    Config c = full();
    cr_assert(c.linux.has_value());
    const Linux& l = *c.linux;
    cr_assert_eq(l.namespaces.size(), 8u);
    cr_expect(l.namespaces[1].type == NsType::network);
    cr_expect_eq(l.namespaces[1].path, "/var/run/netns/x");
    cr_expect(l.namespaces[7].type == NsType::time);
    cr_expect(l.find_ns(NsType::cgroup) != nullptr);
    cr_expect(l.uidMappings.at(0) == (IdMapping{0, 1000, 1}));
    cr_expect(l.gidMappings.at(0) == (IdMapping{0, 1001, 2}));
    cr_expect_eq(l.timeOffsets.at("monotonic").secs, -10);
    cr_expect_eq(l.timeOffsets.at("monotonic").nanosecs, 500u);
    cr_expect_eq(l.timeOffsets.at("boottime").secs, 3600);
    cr_assert_eq(l.devices.size(), 2u);
    cr_expect_eq(l.devices[0].major, 10);
    cr_expect_eq(l.devices[0].minor, 229);
    cr_expect_eq(l.devices[0].fileMode, std::optional<uint32_t>(0666));
    cr_expect_eq(l.devices[0].uid, std::optional<uint32_t>(0));
    cr_expect_eq(l.devices[1].type, "p");
    cr_expect_eq(l.cgroupsPath, "/berth/c1");
    cr_expect_eq(l.rootfsPropagation, "rslave");
    cr_expect_eq(l.sysctl.at("net.ipv4.ip_forward"), "1");
    cr_expect_eq(l.maskedPaths.size(), 2u);
    cr_expect(l.readonlyPaths == std::vector<std::string>({"/proc/sys"}));
    cr_expect_eq(l.mountLabel, "system_u:object_r:container_file_t:s0");
    cr_assert(l.personality.has_value());
    cr_expect_eq(l.personality->domain, "LINUX32");
    cr_assert(l.intelRdt.has_value());
    cr_expect_eq(l.intelRdt->closID, "guaranteed");
    cr_expect_eq(l.intelRdt->l3CacheSchema, "L3:0=ff");
    cr_expect_eq(l.intelRdt->memBwSchema, "MB:0=50");
    cr_expect(l.intelRdt->schemata == std::vector<std::string>({"L2:0=f"}));
    cr_expect(l.intelRdt->enableMonitoring);
    cr_expect_eq(l.netDevices.size(), 2u);
    cr_expect_eq(l.netDevices.at("eth1"), "ctr1");
    cr_expect_eq(l.netDevices.at("eth2"), "eth2");   // no name: keeps the host name
    cr_assert(l.memoryPolicy.has_value());
    cr_expect_eq(l.memoryPolicy->mode, "MPOL_INTERLEAVE");
    cr_expect_eq(l.memoryPolicy->nodes, "0-1");
    cr_expect_eq(l.memoryPolicy->flags.size(), 1u);
}

Test(config, full_resources) {
    Config c = full();
    cr_assert(c.linux && c.linux->resources);
    const Resources& r = *c.linux->resources;
    cr_assert_eq(r.devices.size(), 3u);
    cr_expect(!r.devices[0].allow);
    cr_expect(r.devices[0].type.empty());
    cr_expect(!r.devices[0].major.has_value());
    cr_expect_eq(r.devices[1].major, std::optional<int64_t>(10));
    cr_expect_eq(r.devices[2].major, std::optional<int64_t>(8));
    cr_expect(!r.devices[2].minor.has_value());   // any minor
    cr_assert(r.memory.has_value());
    cr_expect_eq(r.memory->limit, std::optional<int64_t>(536870912));
    cr_expect_eq(r.memory->swap, std::optional<int64_t>(-1));
    cr_expect_eq(r.memory->swappiness, std::optional<uint64_t>(60));
    cr_expect_eq(r.memory->disableOOMKiller, std::optional<bool>(false));
    cr_expect_eq(r.memory->checkBeforeUpdate, std::optional<bool>(true));
    cr_assert(r.cpu.has_value());
    cr_expect_eq(r.cpu->shares, std::optional<uint64_t>(1024));
    cr_expect_eq(r.cpu->quota, std::optional<int64_t>(50000));
    cr_expect_eq(r.cpu->burst, std::optional<uint64_t>(10000));
    cr_expect_eq(r.cpu->realtimeRuntime, std::optional<int64_t>(950));
    cr_expect_eq(r.cpu->cpus, "0-1");
    cr_expect_eq(r.cpu->idle, std::optional<int64_t>(1));
    cr_expect_eq(r.pids->limit, std::optional<int64_t>(100));
    cr_assert(r.blockIO.has_value());
    cr_expect_eq(r.blockIO->weight, std::optional<uint16_t>(500));
    cr_expect_eq(r.blockIO->weightDevice.at(0).leafWeight, std::optional<uint16_t>(100));
    cr_expect_eq(r.blockIO->throttleWriteBpsDevice.at(0).minor, 16);
    cr_expect_eq(r.blockIO->throttleWriteIOPSDevice.at(0).rate, 200u);
    cr_expect_eq(r.hugepageLimits.at(0).pageSize, "2MB");
    cr_expect_eq(r.network->classID, std::optional<uint32_t>(1048577));
    cr_expect_eq(r.network->priorities.at(0).priority, 500u);
    cr_expect_eq(r.rdma.at("mlx5_1").hcaObjects, std::optional<uint32_t>(10000));
    cr_expect_eq(r.unified.at("io.weight"), "default 100");
}

Test(config, full_seccomp) {
    Config c = full();
    cr_assert(c.linux && c.linux->seccomp);
    const Seccomp& s = *c.linux->seccomp;
    cr_expect_eq(s.defaultAction, "SCMP_ACT_ERRNO");
    cr_expect_eq(s.defaultErrnoRet, std::optional<uint32_t>(1));
    cr_expect_eq(s.architectures.size(), 2u);
    cr_expect_eq(s.flags.size(), 1u);
    cr_expect_eq(s.listenerPath, "/run/seccomp.sock");
    cr_expect_eq(s.listenerMetadata, "meta");
    cr_assert_eq(s.syscalls.size(), 2u);
    cr_expect(!s.syscalls[0].errnoRet.has_value());
    cr_expect_eq(s.syscalls[1].errnoRet, std::optional<uint32_t>(38));
    cr_assert_eq(s.syscalls[1].args.size(), 1u);
    cr_expect_eq(s.syscalls[1].args[0].value, 8u);
    cr_expect_eq(s.syscalls[1].args[0].valueTwo, std::numeric_limits<uint64_t>::max());
    cr_expect_eq(s.syscalls[1].args[0].op, "SCMP_CMP_MASKED_EQ");
}

Test(config, minimal_keeps_defaults) {
    Config c = parse_config(R"({"ociVersion": "1.0.0", "process": {"args": ["sh"]}})");
    cr_expect_eq(c.process->cwd, "/");
    cr_expect(!c.process->terminal);
    cr_expect(!c.process->capabilities.has_value());
    cr_expect(!c.linux.has_value());
    cr_expect(c.mounts.empty());
    // null reads as absent, like Go's decoder.
    Config n = parse_config(R"({"ociVersion": "1.0.0", "linux": null, "process": null})");
    cr_expect(!n.linux.has_value());
    cr_expect(!n.process.has_value());
}

Test(config, parse_errors_name_the_path) {
    expect_error([] { parse_config(R"({"process": {"user": {"uid": "root"}}})"); },
                 "process.user.uid: expected unsigned integer");
    expect_error([] { parse_config(R"({"process": {"user": {"uid": -1}}})"); },
                 "process.user.uid: expected unsigned integer");
    expect_error([] { parse_config(R"({"process": {"user": {"uid": 4294967296}}})"); },
                 "process.user.uid: 4294967296 out of range for uint32");
    expect_error([] { parse_config(R"({"process": 5})"); }, "process: expected object");
    expect_error([] { parse_config(R"({"process": {"args": "sh"}})"); }, "process.args: expected array");
    expect_error([] { parse_config(R"({"process": {"args": ["sh", 1]}})"); }, "process.args[1]: expected string");
    expect_error([] { parse_config(R"({"linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "foo"}]}})"); },
                 R"(linux.namespaces[2].type: unknown namespace "foo")");
    expect_error([] { parse_config(R"({"linux": {"namespaces": [{"type": 1}]}})"); },
                 "linux.namespaces[0].type: expected string");
    expect_error([] { parse_config(R"({"linux": {"namespaces": [{}]}})"); }, "linux.namespaces[0].type: missing");
    expect_error([] { parse_config(R"({"linux": {"resources": {"memory": {"limit": 1.5}}}})"); },
                 "linux.resources.memory.limit: expected integer");
    expect_error([] { parse_config(R"({"linux": {"resources": {"blockIO": {"weight": 70000}}}})"); },
                 "linux.resources.blockIO.weight: 70000 out of range for uint16");
    expect_error([] { parse_config(R"({"linux": {"timeOffsets": {"monotonic": {"secs": "1"}}}})"); },
                 "linux.timeOffsets.monotonic.secs: expected integer");
    expect_error([] { parse_config(R"({"linux": {"netDevices": {"eth0": {"name": 3}}}})"); },
                 "linux.netDevices.eth0.name: expected string");
    expect_error([] { parse_config(R"({"linux": {"sysctl": {"net.ipv4.ip_forward": 1}}})"); },
                 R"(linux.sysctl["net.ipv4.ip_forward"]: expected string)");
    expect_error([] { parse_config(R"({"process": {"ioPriority": {"class": 2}}})"); },
                 "process.ioPriority.class: expected string");
    expect_error([] { parse_config(R"({"hooks": {"prestart": [{"path": "/x", "timeout": "5"}]}})"); },
                 "hooks.prestart[0].timeout: expected integer");
    expect_error([] { parse_config("[]"); }, "expected object");
}

Test(config, syntax_error_names_source) {
    expect_error([] { parse_config("{\"ociVersion\": }"); }, "config.json: parse error:");
    expect_error([] { parse_config("{", "/b/config.json"); }, "/b/config.json: parse error: premature EOF");
}

Test(config, round_trip_full) {
    Config c = full();
    for (bool pretty : {true, false}) {
        std::string text = to_json(c, pretty);
        Config back = parse_config(text);
        cr_expect(back == c, "round trip changed the config:\n%s", text.c_str());
        cr_expect_eq(to_json(back, pretty), text);
    }
}

Test(config, round_trip_sections) {
    // Each section compared on its own, so a failure points at the section.
    Config c = full();
    Config back = parse_config(to_json(c, false));
    cr_expect(back.process == c.process);
    cr_expect(back.root == c.root);
    cr_expect(back.mounts == c.mounts);
    cr_expect(back.hooks == c.hooks);
    cr_expect(back.annotations == c.annotations);
    cr_assert(back.linux.has_value());
    cr_expect(back.linux->namespaces == c.linux->namespaces);
    cr_expect(back.linux->timeOffsets == c.linux->timeOffsets);
    cr_expect(back.linux->devices == c.linux->devices);
    cr_expect(back.linux->resources == c.linux->resources);
    cr_expect(back.linux->seccomp == c.linux->seccomp);
    cr_expect(back.linux->intelRdt == c.linux->intelRdt);
    cr_expect(back.linux->netDevices == c.linux->netDevices);
    cr_expect(back.linux->memoryPolicy == c.linux->memoryPolicy);
}

Test(config, to_json_omits_absent_fields) {
    Config c;
    c.ociVersion = "1.2.0";
    c.root.path = "rootfs";
    std::string text = to_json(c, false);
    cr_expect_eq(text, std::string(R"({"ociVersion":"1.2.0","root":{"path":"rootfs"}})"));
    cr_expect(to_json(c, true).ends_with("}\n"));
    Config back = parse_config(text);
    cr_expect(back == c);
}

Test(config, round_trip_defaults) {
    for (bool rootless : {false, true}) {
        Config c = default_config(rootless);
        Config back = parse_config(to_json(c));
        cr_expect(back == c, "rootless=%d", rootless);
    }
}

Test(config, process_and_resources_documents) {
    Process p = parse_process(R"({"args": ["ls"], "cwd": "/tmp", "user": {"uid": 5}})");
    cr_expect(p.args == std::vector<std::string>({"ls"}));
    cr_expect_eq(p.user.uid, 5u);
    expect_error([] { parse_process(R"({"args": [1]})"); }, "args[0]: expected string");
    expect_error([] { parse_process("{"); }, "process.json: parse error");
    Resources r = parse_resources(R"({"memory": {"limit": 1048576}, "pids": {"limit": -1}})");
    cr_expect_eq(r.memory->limit, std::optional<int64_t>(1048576));
    cr_expect_eq(r.pids->limit, std::optional<int64_t>(-1));
    expect_error([] { parse_resources(R"({"cpu": {"shares": -2}})"); }, "cpu.shares: expected unsigned integer");
    expect_error([] { parse_resources("x", "update.json"); }, "update.json: lexical error");
}

Test(config, default_config_matches_runc_spec) {
    Config c = default_config(false);
    cr_expect_eq(c.ociVersion, "1.2.0");
    cr_assert(c.process.has_value());
    cr_expect(c.process->terminal);
    cr_expect(c.process->args == std::vector<std::string>({"sh"}));
    cr_expect_eq(c.process->env.size(), 2u);
    cr_expect_eq(c.process->env[1], "TERM=xterm");
    cr_expect_eq(c.process->capabilities->bounding.size(), 3u);
    cr_expect(c.process->capabilities->inheritable.empty());
    cr_expect(c.process->rlimits.at(0) == (Rlimit{"RLIMIT_NOFILE", 1024, 1024}));
    cr_expect(c.process->noNewPrivileges);
    cr_expect_eq(c.root.path, "rootfs");
    cr_expect(c.root.readonly);
    cr_expect_eq(c.hostname, "berth");
    cr_assert_eq(c.mounts.size(), 7u);
    cr_expect_eq(c.mounts[2].options.back(), "gid=5");
    cr_expect_eq(c.mounts[5].type, "sysfs");
    cr_expect_eq(c.mounts[6].destination, "/sys/fs/cgroup");
    cr_assert(c.linux.has_value());
    cr_expect_eq(c.linux->namespaces.size(), 5u, "runc's default has no cgroup namespace");
    cr_expect(c.process->capabilities->ambient == c.process->capabilities->bounding);
    cr_expect(c.linux->find_ns(NsType::network) != nullptr);
    cr_expect(c.linux->find_ns(NsType::user) == nullptr);
    cr_assert(c.linux->resources.has_value());
    cr_expect(c.linux->resources->devices.at(0) == (DeviceCgroup{.allow = false, .access = "rwm"}));
    cr_expect_eq(c.linux->maskedPaths.size(), 10u);
    cr_expect_eq(c.linux->readonlyPaths.size(), 5u);
}

Test(config, default_config_rootless) {
    Config c = default_config(true);
    cr_assert(c.linux.has_value());
    const Linux& l = *c.linux;
    cr_expect(l.find_ns(NsType::network) == nullptr);
    cr_expect(l.namespaces.back().type == NsType::user);
    cr_expect(l.uidMappings.at(0) == (IdMapping{0, static_cast<uint32_t>(::geteuid()), 1}));
    cr_expect(l.gidMappings.at(0) == (IdMapping{0, static_cast<uint32_t>(::getegid()), 1}));
    cr_expect(!l.resources.has_value());
    for (const Mount& m : c.mounts) {
        for (const std::string& o : m.options) cr_expect(!o.starts_with("gid="), "%s has %s", m.destination.c_str(), o.c_str());
        if (m.destination == "/sys") {
            cr_expect_eq(m.type, "none");
            cr_expect_eq(m.source, "/sys");
            cr_expect(m.options == std::vector<std::string>({"rbind", "nosuid", "noexec", "nodev", "ro"}));
        }
    }
    cr_expect_eq(c.mounts.size(), 7u, "runc keeps the read-only cgroup mount");
    cr_expect(l.find_ns(NsType::cgroup) == nullptr);
}

Test(config, default_configs_validate) {
    TempBundle b;
    expect_ok([&] { validate_config(default_config(false), b.path()); });
    expect_ok([&] { validate_config(default_config(true), b.path()); });
}

Test(config, full_config_validates) {
    TempBundle b;
    expect_ok([&] { validate_config(full(), b.path()); });
}

Test(config, load_bundle_config_reads_and_validates) {
    TempBundle b;
    write_text(b.path() + "/config.json", to_json(default_config(false)));
    Config c = load_bundle_config(b.path());
    cr_expect(c == default_config(false));
}

Test(config, load_bundle_config_errors_name_the_file) {
    TempBundle b;
    std::string file = b.path() + "/config.json";
    expect_error([&] { load_bundle_config(b.path()); }, ("open " + file + ": No such file or directory").c_str());

    Config c = default_config(false);
    c.process->args.clear();
    write_text(file, to_json(c));
    expect_error([&] { load_bundle_config(b.path()); }, (file + ": process.args: must not be empty").c_str());

    write_text(file, R"({"ociVersion": "1.2.0", "process": {"user": {"uid": "x"}}})");
    expect_error([&] { load_bundle_config(b.path()); }, (file + ": process.user.uid: expected unsigned integer").c_str());

    write_text(file, "{\"ociVersion\": ");
    expect_error([&] { load_bundle_config(b.path()); }, (file + ": parse error: premature EOF").c_str());
}

Test(config, names) {
    cr_expect_eq(rlimit_resource("RLIMIT_NOFILE"), RLIMIT_NOFILE);
    cr_expect_eq(rlimit_resource("RLIMIT_RTTIME"), RLIMIT_RTTIME);
    cr_expect_eq(rlimit_resource("RLIMIT_AS"), RLIMIT_AS);
    cr_expect_eq(rlimit_resource("RLIMIT_BOGUS"), -1);
    cr_expect_eq(rlimit_resource("nofile"), -1);
    const char* names[] = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"};
    for (const char* n : names) {
        NsType t;
        cr_assert(parse_ns_type(n, t), "%s", n);
        cr_expect_eq(ns_type_name(t), std::string_view(n));
    }
    NsType t;
    cr_expect(!parse_ns_type("net", t));
}
