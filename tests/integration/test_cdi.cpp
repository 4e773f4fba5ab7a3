// CDI injection in real containers: a fake vendor spec with mknod'ed
// device nodes and a fake library, asked for by annotation; the nodes,
// mount, env and hooks inside, and the device cgroup (v1 devices.list, read
// from the host) allowing exactly the injected nodes. Bad specs and unknown
// names fail create and leave nothing behind. berth-gpu with
// NVIDIA_VISIBLE_DEVICES against a spec `berth cdi generate nvidia` wrote
// for a fake driver tree.
#include "harness.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>

using itest::contains;

TestSuite(cdi, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

namespace {

// Majors 240-254 are for local/experimental use: no driver claims them, so
// the nodes can exist (mknod) but never open a real device.
void make_node(const std::string& path, int major, int minor, mode_t mode) {
    ::unlink(path.c_str());
    cr_assert(::mknod(path.c_str(), S_IFCHR | mode, makedev(major, minor)) == 0, "mknod %s: %s", path.c_str(),
              std::strerror(errno));
    ::chmod(path.c_str(), mode);
}

struct Vendor {
    std::string spec_dir;
    std::string hook_log;
};

// example.com/fake: spec-level control node, library, env, an update-ldcache
// hook and a recording hook; devices gpu0, gpu1 and all.
Vendor fake_vendor() {
    Vendor v;
    std::string w = itest::work_dir();
    v.spec_dir = itest::make_dir("cdi");
    v.hook_log = w + "/hook.log";
    itest::make_dir("nodes");
    make_node(w + "/nodes/fakectl", 240, 255, 0666);
    make_node(w + "/nodes/fake0", 240, 7, 0640);
    make_node(w + "/nodes/fake1", 240, 8, 0640);
    itest::make_dir("lib");
    itest::write_file(w + "/lib/libfake.so.1", "fake library\n");
    std::string rec = w + "/record.sh";
    itest::write_file(rec, "#!/bin/sh\necho \"hook $1 $(cat | head -c 20)\" >> " + v.hook_log + "\n");
    ::chmod(rec.c_str(), 0755);
    std::string berth = std::getenv("BERTH");
    itest::write_file(v.spec_dir + "/fake.yaml", R"(cdiVersion: "0.6.0"
kind: example.com/fake
containerEdits:
  env: [FAKE_VENDOR=yes]
  deviceNodes:
  - path: /dev/fakectl
    hostPath: )" + w + R"(/nodes/fakectl
  mounts:
  - hostPath: )" + w + R"(/lib/libfake.so.1
    containerPath: /usr/lib/fake/libfake.so.1
    options: [ro, nosuid, nodev, bind]
  hooks:
  - hookName: createContainer
    path: )" + berth + R"(
    args: [berth, cdi, hook, update-ldcache, --folder, /usr/lib/fake]
  - hookName: createContainer
    path: )" + rec + R"(
    args: [record, createContainer]
devices:
- name: gpu0
  containerEdits:
    deviceNodes:
    - {path: /dev/fakegpu0, hostPath: )" + w + R"(/nodes/fake0, permissions: rw}
- name: gpu1
  containerEdits:
    deviceNodes:
    - {path: /dev/fakegpu1, hostPath: )" + w + R"(/nodes/fake1, permissions: rw}
- name: all
  containerEdits:
    deviceNodes:
    - {path: /dev/fakegpu0, hostPath: )" + w + R"(/nodes/fake0}
    - {path: /dev/fakegpu1, hostPath: )" + w + R"(/nodes/fake1}
)");
    return v;
}

// `berth [CDI flags] create ...` (global flags go before the command).
itest::Result create_with(const itest::Container& c, const std::string& spec_dir) {
    c.write_config();
    itest::SpawnOpts o;
    o.stdout_path = c.out_path;
    return itest::berth({"--cdi-spec-dir", spec_dir, "--cdi-config", itest::work_dir() + "/no-cdi.json", "create",
                         "--bundle", c.bundle, c.id},
                        o);
}

std::string devices_list(const itest::Container& c) {
    for (auto& d : itest::cgroup_dirs_for(itest::cgroup_parent() + "/" + c.id))
        if (contains(d, "/devices/")) return itest::read_file(d + "/devices.list");
    return "";
}

} // namespace

Test(cdi, annotation_injects_nodes_mounts_env_hooks_and_cgroup_rules) {
    auto v = fake_vendor();
    auto c = itest::container();
    auto rootfs = c.copy_rootfs();
    ::unlink((rootfs + "/etc/ld.so.cache").c_str());
    ::mkdir((rootfs + "/etc/ld.so.conf.d").c_str(), 0755);
    c.cfg.annotations["cdi.k8s.io/test_gpu0"] = "example.com/fake=gpu0";
    c.sh("for n in fakectl fakegpu0 fakegpu1; do stat -c \"$n %F %t:%T %a\" /dev/$n 2>&1; done; "
         "cat /usr/lib/fake/libfake.so.1; echo \"env FAKE_VENDOR=$FAKE_VENDOR\"; "
         "test -s /etc/ld.so.cache && echo ldcache-built; cat /etc/ld.so.conf.d/00-berth-cdi.conf; echo done; exec sleep 60");
    auto r = create_with(c, v.spec_dir);
    IT_ASSERT_OK(r);

    // v1 devices.list: deny-all, the runtime's defaults, and exactly the injected nodes.
    std::string list = devices_list(c);
    cr_expect(!list.empty() || !itest::exists("/sys/fs/cgroup/devices"), "no devices.list for the container");
    if (!list.empty()) {
        cr_expect(contains(list, "c 240:255 rwm"), "%s", list.c_str());
        cr_expect(contains(list, "c 240:7 rw\n"), "%s", list.c_str());
        cr_expect(!contains(list, "240:8"), "gpu1 was not asked for:\n%s", list.c_str());
        cr_expect(!contains(list, "a *:* rwm"), "%s", list.c_str());
    }

    IT_ASSERT_OK(c.start());
    auto out = itest::wait_output(c, "done");
    cr_expect(contains(out, "fakectl character special file f0:ff 666"), "%s", out.c_str());
    cr_expect(contains(out, "fakegpu0 character special file f0:7 640"), "%s", out.c_str());
    cr_expect(contains(out, "can't stat '/dev/fakegpu1'") || contains(out, "No such file"), "%s", out.c_str());
    cr_expect(contains(out, "fake library"), "%s", out.c_str());
    cr_expect(contains(out, "env FAKE_VENDOR=yes"), "%s", out.c_str());
    cr_expect(contains(out, "ldcache-built"), "the update-ldcache hook ran:\n%s", out.c_str());
    cr_expect(contains(out, "/usr/lib/fake\n"), "%s", out.c_str());
    cr_expect(contains(itest::read_file(v.hook_log), "hook createContainer {"), "the spec's hook ran");

    // exec starts from the injected config: the env is there too.
    auto e = itest::berth({"exec", c.id, "sh", "-c", "echo $FAKE_VENDOR"});
    IT_ASSERT_OK(e);
    IT_ASSERT_STR_EQ(itest::trim(e.out), "yes", e.describe());
    IT_ASSERT_OK(c.del(true));
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(cdi, unknown_device_fails_create_and_leaves_nothing) {
    auto v = fake_vendor();
    auto c = itest::container();
    c.cfg.annotations["cdi.k8s.io/test"] = "example.com/fake=gpu9,example.com/fake=gpu0";
    c.sh("true");
    auto r = create_with(c, v.spec_dir);
    IT_ASSERT_FAIL(r, "unresolvable CDI devices example.com/fake=gpu9");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);

    c.cfg.annotations["cdi.k8s.io/test"] = "gpu0";
    r = create_with(c, v.spec_dir);
    IT_ASSERT_FAIL(r, "annotation cdi.k8s.io/test", "\"gpu0\" is not a fully-qualified CDI device name");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(cdi, bad_spec_fails_with_file_and_field) {
    auto v = fake_vendor();
    std::string bad = v.spec_dir + "/broken.json";
    itest::write_file(bad, R"({"cdiVersion": "0.6.0", "kind": "example.com/broken",
      "devices": [{"name": "x", "containerEdits": {"deviceNodes": [{"path": "/dev/x", "major": "240"}]}}]})");
    auto c = itest::container();
    c.cfg.annotations["cdi.k8s.io/test"] = "example.com/broken=x";
    c.sh("true");
    auto r = create_with(c, v.spec_dir);
    IT_ASSERT_FAIL(r, bad + ": devices[0].containerEdits.deviceNodes[0].major: expected integer");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);

    // A host node that is gone fails too, naming the device and the node.
    ::unlink((itest::work_dir() + "/nodes/fake0").c_str());
    c.cfg.annotations["cdi.k8s.io/test"] = "example.com/fake=gpu0";
    r = create_with(c, v.spec_dir);
    IT_ASSERT_FAIL(r, "example.com/fake=gpu0", "stat host device " + itest::work_dir() + "/nodes/fake0");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(cdi, berth_gpu_honours_nvidia_visible_devices_with_a_generated_spec) {
    // A fake driver tree, and the spec `cdi generate nvidia` makes of it.
    std::string root = itest::make_dir("driver");
    ::mkdir((root + "/dev").c_str(), 0755);
    make_node(root + "/dev/nvidia0", 241, 0, 0666);
    make_node(root + "/dev/nvidia1", 241, 1, 0666);
    make_node(root + "/dev/nvidiactl", 241, 255, 0666);
    std::string lib = root + "/usr/local/nvidia/lib64";
    auto r = itest::run_cmd({"/bin/mkdir", "-p", lib, root + "/usr/local/nvidia/bin", root + "/proc/driver/nvidia"});
    IT_ASSERT_OK(r);
    itest::write_file(lib + "/libcuda.so.580.1.2", "fake libcuda\n");
    itest::write_file(lib + "/libnvidia-ml.so.580.1.2", "fake nvml\n");
    ::symlink("libcuda.so.580.1.2", (lib + "/libcuda.so.1").c_str());
    itest::write_file(root + "/usr/local/nvidia/bin/nvidia-smi", "#!/bin/sh\necho fake nvidia-smi\n");
    ::chmod((root + "/usr/local/nvidia/bin/nvidia-smi").c_str(), 0755);
    std::string spec_dir = itest::make_dir("cdi");
    r = itest::berth({"cdi", "generate", "nvidia", "--root", root, "--ldconfig", "/sbin/ldconfig", "--output",
                      spec_dir + "/nvidia.yaml"});
    IT_ASSERT_OK(r);
    r = itest::berth({"--cdi-spec-dir", spec_dir, "cdi", "list"});
    IT_ASSERT_OK(r);
    cr_expect(contains(r.out, "nvidia.com/gpu=0\t") && contains(r.out, "nvidia.com/gpu=1\t") &&
                  contains(r.out, "nvidia.com/gpu=all\t"),
              "%s", r.describe().c_str());

    // berth-gpu: berth under another name.
    std::string gpu = itest::work_dir() + "/berth-gpu";
    ::symlink(std::getenv("BERTH"), gpu.c_str());
    auto c = itest::container();
    c.copy_rootfs();
    c.cfg.process->env.push_back("NVIDIA_VISIBLE_DEVICES=1");
    c.sh("ls /dev | grep nvidia | tr '\\n' ' '; echo; cat /usr/local/nvidia/lib64/libcuda.so.580.1.2; "
         "cat /usr/local/nvidia/lib64/libnvidia-ml.so.580.1.2; /usr/bin/nvidia-smi");
    c.write_config();
    r = itest::run_cmd({gpu, "--root", itest::state_root(), "--cdi-spec-dir", spec_dir, "--cdi-config",
                        itest::work_dir() + "/no-cdi.json", "run", "--bundle", c.bundle, c.id});
    IT_ASSERT_OK(r);
    cr_expect(contains(r.out, "nvidia1 nvidiactl \n"), "only GPU 1 and the control node:\n%s", r.describe().c_str());
    cr_expect(contains(r.out, "fake libcuda"), "%s", r.describe().c_str());
    cr_expect(contains(r.out, "fake nvml"), "%s", r.describe().c_str());
    cr_expect(contains(r.out, "fake nvidia-smi"), "%s", r.describe().c_str());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);

    // Plain berth ignores the legacy env: no GPU, no spec needed.
    auto plain = itest::container();
    plain.cfg.process->env.push_back("NVIDIA_VISIBLE_DEVICES=all");
    plain.sh("ls /dev | grep -c nvidia");
    plain.write_config();
    r = itest::berth({"--cdi-spec-dir", itest::work_dir() + "/none", "--cdi-config", itest::work_dir() + "/no-cdi.json",
                      "run", "--bundle", plain.bundle, plain.id});
    cr_expect_eq(itest::trim(r.out), "0", "%s", r.describe().c_str());
    itest::finish();
}
