// runtime CDI: the spec directories (priority, conflicts, bad files),
// applying devices to a config (edits, merging, conflicts), what a config
// asks for (annotations, NVIDIA_VISIBLE_DEVICES, defaults), and
// `cdi generate nvidia` against a fake driver tree.
#include "spec_test_util.hpp"

#include "cdi_devices.hpp"
#include "cdi_nvidia.hpp"
#include "file_util.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

using namespace berth;
using namespace berth::cdi;
namespace sc = berth::spec::cdi;

namespace {

std::string temp_dir() {
    char tmpl[] = "/tmp/berth-unit-cdi-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    return tmpl;
}

void rm_rf(const std::string& p) {
    std::error_code ec;
    std::filesystem::remove_all(p, ec);
}

void put(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    berth::write_file_atomic(path, text);
}

// Every host node is char 240:<last digit of the path> with mode 0660.
HostNode fake_lookup(const std::string& p) {
    if (p.find("missing") != std::string::npos) throw Error(ENOENT, "stat host device " + p);
    return {"c", 240, p.back() - '0', 0660};
}

spec::Config base_config() {
    spec::Config c;
    c.ociVersion = "1.2.0";
    c.root.path = "rootfs";
    c.process.emplace();
    c.process->args = {"sh"};
    c.process->env = {"PATH=/bin", "VENDOR=old"};
    c.linux.emplace();
    c.mounts.push_back({"/proc", "proc", "proc"});
    c.mounts.push_back({"/dev", "tmpfs", "tmpfs"});
    return c;
}

sc::Spec vendor_spec() {
    sc::Spec s;
    s.cdiVersion = "0.5.0";
    s.kind = "vendor.com/gpu";
    s.containerEdits.env = {"VENDOR=1"};
    s.containerEdits.deviceNodes.push_back({"/dev/vendorctl"});
    s.containerEdits.mounts.push_back({"/opt/v/libv.so.1", "/usr/lib/v/libv.so.1", {"ro", "bind"}, ""});
    sc::Hook h;
    h.hookName = "createContainer";
    h.path = "/usr/bin/vhook";
    s.containerEdits.hooks.push_back(h);
    for (int i = 0; i < 2; ++i) {
        sc::Device d;
        d.name = std::to_string(i);
        d.containerEdits.deviceNodes.push_back({"/dev/vendor" + std::to_string(i)});
        d.containerEdits.deviceNodes.back().permissions = "rw";
        s.devices.push_back(d);
    }
    sc::Device all;
    all.name = "all";
    all.containerEdits.deviceNodes = {s.devices[0].containerEdits.deviceNodes[0], s.devices[1].containerEdits.deviceNodes[0]};
    s.devices.push_back(all);
    return s;
}

Registry registry_of(sc::Spec s) {
    Registry r;
    r.add(std::move(s), "/etc/cdi/vendor.yaml", 0);
    cr_assert(r.errors.empty(), "%s", r.errors.empty() ? "" : r.errors[0].c_str());
    return r;
}

bool has_env(const spec::Config& c, const std::string& kv) {
    return std::find(c.process->env.begin(), c.process->env.end(), kv) != c.process->env.end();
}

} // namespace

Test(cdi_inject, devices_and_spec_edits_are_applied) {
    auto reg = registry_of(vendor_spec());
    auto c = base_config();
    c.process->user.uid = 1000;
    apply_cdi_devices(c, {"vendor.com/gpu=1", "vendor.com/gpu=1"}, reg, fake_lookup);
    cr_expect(has_env(c, "VENDOR=1"));
    cr_expect(!has_env(c, "VENDOR=old"), "the spec's env replaces the config's");
    auto& devs = c.linux->devices;
    cr_assert_eq(devs.size(), 2u);
    cr_expect_eq(devs[0].path, "/dev/vendorctl");
    cr_expect_eq(devs[1].path, "/dev/vendor1");
    cr_expect_eq(devs[1].type, "c");
    cr_expect_eq(devs[1].major, 240);
    cr_expect_eq(devs[1].minor, 1);
    cr_expect_eq(*devs[1].fileMode, 0660u);
    cr_expect_eq(*devs[1].uid, 1000u, "an unowned node goes to the process's user");
    auto& rules = c.linux->resources->devices;
    cr_assert_eq(rules.size(), 2u);
    cr_expect_eq(rules[1].type, "c");
    cr_expect_eq(*rules[1].major, 240);
    cr_expect_eq(*rules[1].minor, 1);
    cr_expect_eq(rules[1].access, "rw");
    cr_expect_eq(rules[0].access, "rwm");
    cr_expect(rules[0].allow);
    auto m = std::find_if(c.mounts.begin(), c.mounts.end(), [](auto& x) { return x.destination == "/usr/lib/v/libv.so.1"; });
    cr_assert(m != c.mounts.end());
    cr_expect_eq(m->source, "/opt/v/libv.so.1");
    cr_expect_eq(c.mounts.back().destination, "/usr/lib/v/libv.so.1", "deeper mounts come after shallower ones");
    cr_assert_eq(c.hooks.createContainer.size(), 1u);
    cr_expect_eq(c.hooks.createContainer[0].path, "/usr/bin/vhook");
}

Test(cdi_inject, all_and_overlapping_devices_merge) {
    auto reg = registry_of(vendor_spec());
    auto c = base_config();
    apply_cdi_devices(c, {"vendor.com/gpu=all", "vendor.com/gpu=0"}, reg, fake_lookup);
    cr_expect_eq(c.linux->devices.size(), 3u);
    cr_expect_eq(c.hooks.createContainer.size(), 1u, "spec-level edits apply once");
}

Test(cdi_inject, conflicting_edits_fail_and_leave_the_config_alone) {
    auto s = vendor_spec();
    s.devices[0].containerEdits.env = {"MODE=a"};
    s.devices[1].containerEdits.env = {"MODE=b"};
    auto reg = registry_of(s);
    auto c = base_config();
    auto before = c;
    expect_error([&] { apply_cdi_devices(c, {"vendor.com/gpu=0", "vendor.com/gpu=1"}, reg, fake_lookup); },
                 "CDI edits conflict: env MODE: MODE=a from vendor.com/gpu=0 (/etc/cdi/vendor.yaml), but MODE=b from "
                 "vendor.com/gpu=1");
    cr_expect(c == before);

    s = vendor_spec();
    s.devices[1].containerEdits.deviceNodes[0].path = "/dev/vendor0";
    s.devices[1].containerEdits.deviceNodes[0].hostPath = "/dev/other9";
    reg = registry_of(s);
    expect_error([&] { apply_cdi_devices(c, {"vendor.com/gpu=0", "vendor.com/gpu=1"}, reg, fake_lookup); },
                 "device node /dev/vendor0");

    s = vendor_spec();
    s.devices[1].containerEdits.mounts.push_back({"/elsewhere", "/usr/lib/v/libv.so.1", {"ro", "bind"}, ""});
    reg = registry_of(s);
    expect_error([&] { apply_cdi_devices(c, {"vendor.com/gpu=1"}, reg, fake_lookup); }, "mount on /usr/lib/v/libv.so.1");
    cr_expect(c == before);
}

Test(cdi_inject, unknown_and_bad_names_fail) {
    auto reg = registry_of(vendor_spec());
    reg.errors.push_back("/etc/cdi/broken.json: kind: required");
    auto c = base_config();
    expect_error([&] { apply_cdi_devices(c, {"vendor.com/gpu=7", "other.com/x=1"}, reg, fake_lookup); },
                 "unresolvable CDI devices vendor.com/gpu=7, other.com/x=1; spec file error: /etc/cdi/broken.json: kind");
    expect_error([&] { apply_cdi_devices(c, {"gpu0"}, reg, fake_lookup); }, "\"gpu0\" is not a fully-qualified");
    auto s = vendor_spec();
    s.devices[0].containerEdits.deviceNodes[0].hostPath = "/dev/missing0";
    reg = registry_of(s);
    expect_error([&] { apply_cdi_devices(c, {"vendor.com/gpu=0"}, reg, fake_lookup); },
                 "vendor.com/gpu=0 (/etc/cdi/vendor.yaml): device node /dev/vendor0: stat host device /dev/missing0");
}

Test(cdi_inject, spec_dirs_priority_and_conflicts) {
    auto dir = temp_dir();
    put(dir + "/etc/vendor.yaml", sc::to_yaml(vendor_spec()));
    auto late = vendor_spec();
    late.devices[0].containerEdits.env = {"LATE=1"};
    put(dir + "/run/vendor.json", sc::to_json(late));
    auto dup = vendor_spec();
    dup.kind = "vendor.com/dup";
    put(dir + "/etc/a.yaml", sc::to_yaml(dup));
    put(dir + "/etc/b.yaml", sc::to_yaml(dup));
    put(dir + "/etc/broken.yaml", "cdiVersion: 0.3.0\nkind: x.com/y\ndevices:\n- name: a\n  containerEdits:\n    env: nope\n");
    put(dir + "/etc/ignored.txt", "not a spec");
    auto reg = Registry::load({dir + "/etc", dir + "/run", dir + "/absent"});
    cr_assert_eq(reg.errors.size(), 1u);
    cr_expect(std::strstr(reg.errors[0].c_str(), "broken.yaml: devices[0].containerEdits.env: expected array"), "%s",
              reg.errors[0].c_str());
    auto at = reg.devices.at("vendor.com/gpu=0");
    cr_expect_eq(reg.files[at.file].path, dir + "/run/vendor.json", "the later directory wins");
    cr_expect_eq(reg.files[reg.devices.at("vendor.com/gpu=1").file].path, dir + "/run/vendor.json");
    cr_expect(reg.conflicts.count("vendor.com/dup=0"));
    auto c = base_config();
    expect_error([&] { apply_cdi_devices(c, {"vendor.com/dup=0"}, reg, fake_lookup); },
                 ("CDI device vendor.com/dup=0 is defined by both " + dir + "/etc/a.yaml and " + dir + "/etc/b.yaml").c_str());
    apply_cdi_devices(c, {"vendor.com/gpu=0"}, reg, fake_lookup);
    cr_expect(has_env(c, "LATE=1"));
    rm_rf(dir);
}

Test(cdi_request, nvidia_visible_devices) {
    using V = std::vector<std::string>;
    cr_expect(nvidia_visible_devices("all") == V{"nvidia.com/gpu=all"});
    cr_expect(nvidia_visible_devices("none").empty());
    cr_expect(nvidia_visible_devices("void").empty());
    cr_expect(nvidia_visible_devices("").empty());
    cr_expect(nvidia_visible_devices("0, 2") == (V{"nvidia.com/gpu=0", "nvidia.com/gpu=2"}));
    cr_expect(nvidia_visible_devices("GPU-8f6e0a1c-1111-2222-3333-444455556666,MIG-1:0") ==
              (V{"nvidia.com/gpu=GPU-8f6e0a1c-1111-2222-3333-444455556666", "nvidia.com/gpu=MIG-1:0"}));
    expect_error([] { nvidia_visible_devices("0;1"); }, "NVIDIA_VISIBLE_DEVICES: \"nvidia.com/gpu=0;1\"");
}

Test(cdi_request, annotations_env_and_defaults) {
    auto dir = temp_dir();
    Settings s;
    s.config_path = dir + "/none.json";
    auto c = base_config();
    cr_expect(requested_devices(c, s).devices.empty(), "plain berth asks for nothing");
    cr_expect(requested_devices(c, s).spec_dirs == default_spec_dirs);

    c.annotations["cdi.k8s.io/vendor_dev"] = "vendor.com/gpu=0,vendor.com/gpu=1";
    c.annotations["other"] = "x";
    cr_expect(requested_devices(c, s).devices == (std::vector<std::string>{"vendor.com/gpu=0", "vendor.com/gpu=1"}));
    c.annotations["cdi.k8s.io/bad"] = "gpu0";
    expect_error([&] { requested_devices(c, s); }, "annotation cdi.k8s.io/bad: \"gpu0\"");
    c.annotations.erase("cdi.k8s.io/bad");

    // NVIDIA_VISIBLE_DEVICES only counts for berth-gpu (or when enabled).
    c.annotations.clear();
    c.process->env.push_back("NVIDIA_VISIBLE_DEVICES=1");
    cr_expect(requested_devices(c, s).devices.empty());
    s.gpu_mode = true;
    cr_expect(requested_devices(c, s).devices == std::vector<std::string>{"nvidia.com/gpu=1"});
    c.process->env.back() = "NVIDIA_VISIBLE_DEVICES=void";
    cr_expect(requested_devices(c, s).devices.empty(), "void opts out of the GPU default");
    c.process->env.pop_back();
    cr_expect(requested_devices(c, s).devices == std::vector<std::string>{"nvidia.com/gpu=all"});

    // The config file: spec dirs, defaults, the env switch.
    s.gpu_mode = false;
    s.config_path = dir + "/cdi.json";
    put(s.config_path, R"({"specDirs": ["/x"], "defaultDevices": ["vendor.com/gpu=0"], "nvidiaVisibleDevices": true})");
    auto r = requested_devices(c, s);
    cr_expect(r.spec_dirs == std::vector<std::string>{"/x"});
    cr_expect(r.devices == std::vector<std::string>{"vendor.com/gpu=0"});
    c.process->env.push_back("NVIDIA_VISIBLE_DEVICES=all");
    cr_expect(requested_devices(c, s).devices == std::vector<std::string>{"nvidia.com/gpu=all"});
    s.spec_dirs = {"/flag"};
    cr_expect(requested_devices(c, s).spec_dirs == std::vector<std::string>{"/flag"});
    put(s.config_path, R"({"specDir": []})");
    expect_error([&] { requested_devices(c, s); }, "cdi.json: specDir: unknown key");
    rm_rf(dir);
}

namespace {

// A fake driver tree: two GPUs in /proc, device nodes, libraries with
// soname links, binaries, firmware and an ld cache naming one library.
std::string fake_driver_tree() {
    auto root = temp_dir();
    auto node = [&](const std::string& p, int minor) {
        std::filesystem::create_directories(std::filesystem::path(root + p).parent_path());
        // Real nodes as root; a plain file does as well (generate only checks existence).
        if (::geteuid() != 0 || ::mknod((root + p).c_str(), S_IFCHR | 0666, makedev(195, minor)) < 0) put(root + p, "");
    };
    node("/dev/nvidia0", 0);
    node("/dev/nvidia1", 1);
    node("/dev/nvidiactl", 255);
    node("/dev/nvidia-uvm", 0);
    node("/dev/nvidia-caps/nvidia-cap1", 1);
    put(root + "/proc/driver/nvidia/version", "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.1.2  Thu Jan 1\n");
    put(root + "/proc/driver/nvidia/gpus/0000:3b:00.0/information",
        "Model: \t\t NVIDIA H100\nGPU UUID: \t GPU-aaaa\nDevice Minor: \t 1\nBus Location: \t 0000:3b:00.0\n");
    put(root + "/proc/driver/nvidia/gpus/0000:1a:00.0/information",
        "Model: \t\t NVIDIA H100\nGPU UUID: \t GPU-bbbb\nDevice Minor: \t 0\nBus Location: \t 0000:1a:00.0\n");
    std::string lib = root + "/usr/local/nvidia/lib64";
    for (auto n : {"libcuda", "libnvidia-ml", "libnvidia-ptxjitcompiler"}) {
        put(lib + "/" + n + ".so.580.1.2", "fake");
        ::symlink((std::string(n) + ".so.580.1.2").c_str(), (lib + "/" + n + ".so.1").c_str());
    }
    put(lib + "/libunrelated.so.1", "no");
    put(root + "/opt/nv/lib/libnvidia-cfg.so.580.1.2", "fake");
    static const char cache[] = "glibc-ld.so.cache1.1\0libnvidia-cfg.so.1\0/opt/nv/lib/libnvidia-cfg.so.580.1.2";
    put(root + "/etc/ld.so.cache", std::string(cache, sizeof cache));
    put(root + "/usr/local/nvidia/bin/nvidia-smi", "#!/bin/sh\n");
    put(root + "/usr/bin/nvidia-debugdump", "#!/bin/sh\n");
    put(root + "/lib/firmware/nvidia/580.1.2/gsp_ga10x.bin", "fw");
    return root;
}

bool has_mount(const sc::Spec& s, const std::string& target) {
    return std::any_of(s.containerEdits.mounts.begin(), s.containerEdits.mounts.end(),
                       [&](auto& m) { return m.containerPath == target; });
}

} // namespace

Test(cdi_generate, nvidia_fake_tree) {
    auto root = fake_driver_tree();
    NvidiaOptions o;
    o.root = root;
    o.hook_path = "/usr/bin/berth";
    auto gpus = discover_nvidia_gpus(o);
    cr_assert_eq(gpus.size(), 2u);
    cr_expect_eq(gpus[0].uuid, "GPU-bbbb", "index follows the PCI bus order");
    cr_expect_eq(gpus[0].minor, 0);
    cr_expect_eq(gpus[1].minor, 1);

    auto s = generate_nvidia_spec(o);
    expect_ok([&] { sc::validate_spec(s, "generated"); });
    cr_expect_eq(s.kind, "nvidia.com/gpu");
    std::vector<std::string> names;
    for (auto& d : s.devices) names.push_back(d.name);
    cr_expect(names == (std::vector<std::string>{"0", "GPU-bbbb", "1", "GPU-aaaa", "all"}));
    cr_expect_eq(s.devices[2].containerEdits.deviceNodes[0].path, "/dev/nvidia1");
    cr_expect_eq(s.devices[2].containerEdits.deviceNodes[0].hostPath, root + "/dev/nvidia1");
    cr_expect_eq(s.devices[4].containerEdits.deviceNodes.size(), 3u, "all: both GPUs and the caps node");
    auto& e = s.containerEdits;
    cr_expect_eq(e.deviceNodes.size(), 2u, "nvidiactl and nvidia-uvm");
    cr_expect(has_mount(s, "/usr/local/nvidia/lib64/libcuda.so.580.1.2"));
    cr_expect(has_mount(s, "/usr/local/nvidia/lib64/libnvidia-ml.so.580.1.2"));
    cr_expect(has_mount(s, "/usr/local/nvidia/lib64/libnvidia-ptxjitcompiler.so.580.1.2"));
    cr_expect(has_mount(s, "/opt/nv/lib/libnvidia-cfg.so.580.1.2"), "found through the ld cache");
    cr_expect(!has_mount(s, "/usr/local/nvidia/lib64/libcuda.so.1"), "links are not mounted; the hook makes them");
    cr_expect(!has_mount(s, "/usr/local/nvidia/lib64/libunrelated.so.1"));
    cr_expect(has_mount(s, "/usr/bin/nvidia-smi"));
    cr_expect(has_mount(s, "/usr/bin/nvidia-debugdump"));
    cr_expect(has_mount(s, "/lib/firmware/nvidia/580.1.2/gsp_ga10x.bin"));
    auto cuda = std::find_if(e.mounts.begin(), e.mounts.end(), [](auto& m) { return m.containerPath.find("libcuda") != std::string::npos; });
    cr_expect_eq(cuda->hostPath, root + "/usr/local/nvidia/lib64/libcuda.so.580.1.2");
    cr_assert_eq(e.hooks.size(), 1u);
    cr_expect_eq(e.hooks[0].hookName, "createContainer");
    cr_expect(e.hooks[0].args == (std::vector<std::string>{"berth", "cdi", "hook", "update-ldcache", "--folder",
                                                            "/usr/local/nvidia/lib64", "--folder",
                                                            "/opt/nv/lib"}));
    cr_expect_eq(s.cdiVersion, "0.5.0");
    // It round-trips through YAML and resolves by index, UUID and all.
    auto back = sc::parse_spec(sc::to_yaml(s), "nvidia.yaml", true);
    cr_expect(back == s);
    Registry reg;
    reg.add(back, "/var/run/cdi/nvidia.yaml", 1);
    auto c = base_config();
    apply_cdi_devices(c, {"nvidia.com/gpu=GPU-aaaa"}, reg, fake_lookup);
    cr_expect_eq(c.linux->devices.back().path, "/dev/nvidia1");
    rm_rf(root);
}

Test(cdi_generate, nvidia_smi_fallback_and_no_gpu) {
    auto root = temp_dir();
    NvidiaOptions o;
    o.root = root;
    expect_error([&] { generate_nvidia_spec(o); }, "no NVIDIA GPU found");
    put(root + "/dev/nvidia0", "");
    put(root + "/usr/local/nvidia/bin/nvidia-smi",
        "#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1234-abcd)'\n");
    ::chmod((root + "/usr/local/nvidia/bin/nvidia-smi").c_str(), 0755);
    auto gpus = discover_nvidia_gpus(o);
    cr_assert_eq(gpus.size(), 1u);
    cr_expect_eq(gpus[0].uuid, "GPU-1234-abcd");
    expect_error([&] { generate_nvidia_spec(o); }, "no NVIDIA driver libraries");
    rm_rf(root);
}
