// spec/validate: one test per rule, each checking the field the error names.
#include "spec_test_util.hpp"

#include "config.hpp"

using namespace berth::spec;

namespace {

// A minimal valid config; each test breaks one thing.
Config base() {
    Config c;
    c.ociVersion = "1.2.0";
    c.root.path = "rootfs";
    c.process.emplace();
    c.process->args = {"sh"};
    c.linux.emplace();
    for (NsType t : {NsType::pid, NsType::mount, NsType::ipc})
        c.linux->namespaces.push_back({t, ""});
    return c;
}

void add_ns(Config& c, NsType t, std::string path = "") { c.linux->namespaces.push_back({t, std::move(path)}); }

// Validate c against a fresh bundle and expect an error containing want.
void expect_invalid(const Config& c, const char* want) {
    TempBundle b;
    expect_error([&] { validate_config(c, b.path()); }, want);
}

void expect_valid(const Config& c) {
    TempBundle b;
    expect_ok([&] { validate_config(c, b.path()); });
}

} // namespace

Test(validate, base_is_valid) { expect_valid(base()); }

Test(validate, oci_version_missing) {
    Config c = base();
    c.ociVersion.clear();
    expect_invalid(c, "ociVersion: missing");
}

Test(validate, oci_version_major) {
    Config c = base();
    c.ociVersion = "2.0.0";
    expect_invalid(c, R"(ociVersion: unsupported version "2.0.0")");
    c.ociVersion = "10.1";
    expect_invalid(c, R"(ociVersion: unsupported version "10.1")");
    c.ociVersion = "1.0.2-dev";
    expect_valid(c);
}

Test(validate, root_path_missing) {
    Config c = base();
    c.root.path.clear();
    expect_invalid(c, "root.path: missing");
}

Test(validate, root_path_does_not_exist) {
    TempBundle b;
    Config c = base();
    c.root.path = "nope";
    std::string want = "root.path: " + b.path() + "/nope: No such file or directory";
    expect_error([&] { validate_config(c, b.path()); }, want.c_str());
}

Test(validate, root_path_not_a_directory) {
    TempBundle b;
    std::string file = b.path() + "/file";
    FILE* f = std::fopen(file.c_str(), "w");
    cr_assert(f != nullptr);
    std::fclose(f);
    Config c = base();
    c.root.path = file;   // absolute: used as is
    expect_error([&] { validate_config(c, b.path()); }, ("root.path: " + file + ": Not a directory").c_str());
    c.root.path = b.path() + "/rootfs";
    expect_ok([&] { validate_config(c, b.path()); });
}

Test(validate, process_args_empty) {
    Config c = base();
    c.process->args.clear();
    expect_invalid(c, "process.args: must not be empty");
    c.process.reset();   // no process at all is fine (create-only bundles)
    expect_valid(c);
}

Test(validate, process_cwd_relative) {
    Config c = base();
    c.process->cwd = "work";
    expect_invalid(c, R"(process.cwd: not an absolute path: "work")");
    c.process->cwd = "";
    expect_invalid(c, R"(process.cwd: not an absolute path: "")");
}

Test(validate, rlimit_unknown) {
    Config c = base();
    c.process->rlimits = {{"RLIMIT_NOFILE", 1, 1}, {"RLIMIT_BOGUS", 1, 1}};
    expect_invalid(c, R"(process.rlimits[1].type: unknown rlimit "RLIMIT_BOGUS")");
}

Test(validate, rlimit_duplicate) {
    Config c = base();
    c.process->rlimits = {{"RLIMIT_NOFILE", 1, 1}, {"RLIMIT_CORE", 0, 0}, {"RLIMIT_NOFILE", 2, 2}};
    expect_invalid(c, R"(process.rlimits[2].type: duplicate rlimit "RLIMIT_NOFILE")");
}

Test(validate, rlimit_soft_above_hard) {
    Config c = base();
    c.process->rlimits = {{"RLIMIT_NOFILE", 2048, 1024}};
    expect_invalid(c, "process.rlimits[0]: soft limit 2048 exceeds hard limit 1024");
}

Test(validate, namespace_duplicate) {
    Config c = base();
    add_ns(c, NsType::pid);
    expect_invalid(c, R"(linux.namespaces[3]: duplicate namespace "pid")");
}

Test(validate, namespace_path_relative) {
    Config c = base();
    add_ns(c, NsType::network, "run/netns/x");
    expect_invalid(c, R"(linux.namespaces[3].path: not an absolute path: "run/netns/x")");
    c.linux->namespaces.back().path = "/run/netns/x";
    expect_valid(c);
}

Test(validate, mount_destination_empty) {
    Config c = base();
    c.mounts = {{"/proc", "proc", "proc", {}}, {"", "tmpfs", "tmpfs", {}}};
    expect_invalid(c, "mounts[1].destination: must not be empty");
    c.mounts[1].destination = "tmp";   // relative: read as relative to "/"
    expect_valid(c);
}

Test(validate, uid_mappings_without_userns) {
    Config c = base();
    c.linux->uidMappings = {{0, 1000, 1}};
    expect_invalid(c, "linux.uidMappings: requires a user namespace");
    add_ns(c, NsType::user);
    expect_valid(c);
}

Test(validate, gid_mappings_without_userns) {
    Config c = base();
    c.linux->gidMappings = {{0, 1000, 1}};
    expect_invalid(c, "linux.gidMappings: requires a user namespace");
}

Test(validate, time_offsets_without_timens) {
    Config c = base();
    c.linux->timeOffsets["monotonic"] = {1, 0};
    expect_invalid(c, "linux.timeOffsets: requires a time namespace");
    add_ns(c, NsType::time);
    expect_valid(c);
}

Test(validate, time_offsets_unknown_clock) {
    Config c = base();
    add_ns(c, NsType::time);
    c.linux->timeOffsets["boottime"] = {1, 0};
    c.linux->timeOffsets["realtime"] = {1, 0};
    expect_invalid(c, "linux.timeOffsets.realtime: unknown clock");
}

Test(validate, time_offsets_nanosecs_range) {
    Config c = base();
    add_ns(c, NsType::time);
    c.linux->timeOffsets["monotonic"] = {0, 1000000000};
    expect_invalid(c, "linux.timeOffsets.monotonic.nanosecs: must be less than 1000000000");
}

Test(validate, hostname_without_uts) {
    Config c = base();
    c.hostname = "box";
    expect_invalid(c, "hostname: requires a uts namespace");
    add_ns(c, NsType::uts);
    expect_valid(c);
}

Test(validate, domainname_without_uts) {
    Config c = base();
    c.domainname = "example.org";
    expect_invalid(c, "domainname: requires a uts namespace");
    c.linux.reset();
    expect_invalid(c, "domainname: requires a uts namespace");
}

Test(validate, device_type) {
    Config c = base();
    c.linux->devices = {{.type = "c", .path = "/dev/null", .major = 1, .minor = 3}, {.type = "x", .path = "/dev/x"}};
    expect_invalid(c, R"(linux.devices[1].type: unknown device type "x")");
    c.linux->devices[1].type = "p";   // a FIFO needs no major/minor
    expect_valid(c);
}

Test(validate, device_path_relative) {
    Config c = base();
    c.linux->devices = {{.type = "b", .path = "dev/sda", .major = 8, .minor = 0}};
    expect_invalid(c, R"(linux.devices[0].path: not an absolute path: "dev/sda")");
}

Test(validate, rootfs_propagation) {
    Config c = base();
    for (const char* ok : {"", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"}) {
        c.linux->rootfsPropagation = ok;
        expect_valid(c);
    }
    c.linux->rootfsPropagation = "rsharedd";
    expect_invalid(c, R"(linux.rootfsPropagation: unknown propagation "rsharedd")");
}

Test(validate, device_cgroup_type) {
    Config c = base();
    c.linux->resources.emplace();
    c.linux->resources->devices = {{.allow = false, .access = "rwm"}, {.allow = true, .type = "u", .access = "r"}};
    expect_invalid(c, R"(linux.resources.devices[1].type: unknown device type "u")");
}

Test(validate, device_cgroup_access) {
    Config c = base();
    c.linux->resources.emplace();
    c.linux->resources->devices = {{.allow = true, .type = "c", .major = 1, .access = "rwx"}};
    expect_invalid(c, R"(linux.resources.devices[0].access: invalid access "rwx")");
    c.linux->resources->devices[0].access = "mr";
    expect_valid(c);
}

Test(validate, sysctl_empty_key) {
    Config c = base();
    c.linux->sysctl = {{"net.ipv4.ip_forward", "1"}, {"", "x"}};
    expect_invalid(c, "linux.sysctl: key must not be empty");
}

Test(validate, net_devices_without_netns) {
    Config c = base();
    c.linux->netDevices = {{"eth1", "ctr1"}};
    expect_invalid(c, "linux.netDevices: requires a network namespace");
    add_ns(c, NsType::network);
    expect_valid(c);
}

Test(validate, net_device_names) {
    Config c = base();
    add_ns(c, NsType::network);
    c.linux->netDevices = {{"eth1", "a/b"}};
    expect_invalid(c, R"(linux.netDevices.eth1.name: invalid network device name "a/b")");
    c.linux->netDevices = {{"eth1", "sixteen-chars-xx"}};
    expect_invalid(c, R"(linux.netDevices.eth1.name: invalid network device name "sixteen-chars-xx")");
    c.linux->netDevices = {{"..", "ctr0"}};
    expect_invalid(c, R"(linux.netDevices...: invalid network device name "..")");
}

Test(validate, hook_path_relative) {
    Config c = base();
    c.hooks.poststop = {{.path = "/bin/true"}, {.path = "bin/hook"}};
    expect_invalid(c, R"(hooks.poststop[1].path: not an absolute path: "bin/hook")");
}

Test(validate, hook_timeout_positive) {
    Config c = base();
    c.hooks.createRuntime = {{.path = "/bin/hook", .timeout = 0}};
    expect_invalid(c, "hooks.createRuntime[0].timeout: must be greater than zero");
}

Test(validate, errors_are_einval) {
    TempBundle b;
    Config c = base();
    c.process->args.clear();
    try {
        validate_config(c, b.path());
        cr_expect(false, "no error");
    } catch (const berth::Error& e) {
        cr_expect_eq(e.err(), EINVAL);
        cr_expect_eq(e.context(), std::string("process.args: must not be empty"));
    }
}
