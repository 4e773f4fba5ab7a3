// berthd's CreateContainer spec (cri/container/spec_builder.cpp) and the
// pod's /etc files (cri/pod/pod_files.cpp): each CRI rule, each error
// naming its field, and every built spec round-tripped through
// config.json and berth's own validation. No root needed: the rootfs is a
// plain directory with etc/passwd and etc/group, the host's mount table a
// file.
#include "pod_files.hpp"
#include "pod_resources.hpp"
#include "spec_builder.hpp"
#include "test_dir.hpp"
#include "user.hpp"

#include "error.hpp"

#include <criterion/criterion.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>

using namespace berth;
using namespace berth::cri;
namespace v1 = runtime::v1;

namespace {

void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

void mkdirs(const std::string& p) { std::filesystem::create_directories(p); }

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// A pod, a container and an image as kubelet would send them, over a fake rootfs.
struct Fx {
    v1::PodSandboxConfig pod_cfg;
    v1::ContainerConfig cfg;
    spec::image::ImageConfig image;
    PodContext pod;
    ContainerContext ctr;
    HandlerOptions handler;
    HostFeatures host;
    std::string rootfs;

    Fx() {
        rootfs = test_dir() + "/rootfs";
        mkdirs(rootfs + "/etc");
        write(rootfs + "/etc/passwd",
              "root:x:0:0:root:/root:/bin/sh\n"
              "# a comment\n"
              "daemon:x:1:1::/:/bin/false\n"
              "app:x:1000:1001:App:/home/app:/bin/sh\n"
              "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
        write(rootfs + "/etc/group",
              "root:x:0:\n"
              "daemon:x:1:\n"
              "appgrp:x:1001:\n"
              "wheel:x:10:root,app\n"
              "video:x:44:app\n"
              "app:x:1005:app\n"   // named like the user: its own group, not a supplementary one
              "nogroup:x:65534:\n");
        pod_cfg.mutable_metadata()->set_name("web");
        pod_cfg.mutable_metadata()->set_namespace_("prod");
        pod_cfg.mutable_metadata()->set_uid("uid-123");
        pod_cfg.set_hostname("web-0");
        cfg.mutable_metadata()->set_name("app");
        cfg.mutable_image()->set_image("sha256:abc");
        image.config.entrypoint = {"/entry"};
        image.config.cmd = {"serve", "--port=80"};
        image.config.env = {"PATH=/app/bin:/bin", "IMG=1", "SHARED=image"};
        pod.sandbox_id = "pod1";
        pod.config = &pod_cfg;
        pod.ns_paths = {{"network", "/run/berth/pods/pod1/ns/net"},
                        {"ipc", "/run/berth/pods/pod1/ns/ipc"},
                        {"uts", "/run/berth/pods/pod1/ns/uts"},
                        {"pid", "/run/berth/pods/pod1/ns/pid"}};
        pod.cgroup_parent = "/kubepods/burstable/podabc";
        ctr.id = "c1";
        ctr.config = &cfg;
        ctr.image = &image;
        ctr.image_ref = "docker.io/library/app:1";
        ctr.rootfs = rootfs;
        host.cgroup_v2 = false;
        host.swap_controller = true;
        host.hugetlb = true;
        host.apparmor = false;
        host.selinux = false;
        host.cap_last_cap = 40;
        host.hostname = "node1";
        host.mountinfo = test_dir() + "/mountinfo";
        write(host.mountinfo,
              "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
              "30 22 0:26 / /tmp rw,nosuid shared:5 - tmpfs tmpfs rw\n");
    }

    v1::LinuxContainerSecurityContext* sc() { return cfg.mutable_linux()->mutable_security_context(); }

    // Build, and check the result survives config.json and berth's validation.
    spec::Config build() {
        spec::Config c = build_container_spec(pod, ctr, handler, host);
        std::string text = spec::to_json(c);
        spec::Config back = spec::parse_config(text, "built config.json");
        cr_assert(back == c, "spec changed in a config.json round trip:\n%s", text.c_str());
        try {
            spec::validate_config(c, test_dir());
        } catch (const std::exception& e) {
            cr_assert_fail("built spec fails berth's validation: %s\n%s", e.what(), text.c_str());
        }
        return c;
    }

    // Build must fail with `err` and a message starting with `prefix` and containing `part`.
    void fails(int err, const std::string& prefix, const std::string& part = "") {
        try {
            build_container_spec(pod, ctr, handler, host);
        } catch (const Error& e) {
            std::string m = e.what();
            cr_assert(m.starts_with(prefix) && m.find(part) != std::string::npos && e.err() == err,
                      "error [%s] (errno %d): want prefix [%s], part [%s], errno %d", m.c_str(), e.err(), prefix.c_str(),
                      part.c_str(), err);
            return;
        }
        cr_assert_fail("build succeeded; wanted an error starting with [%s]", prefix.c_str());
    }
};

const spec::Mount* find_mount(const spec::Config& c, const std::string& dst) {
    for (auto& m : c.mounts)
        if (m.destination == dst) return &m;
    return nullptr;
}

const spec::Namespace* find_ns(const spec::Config& c, spec::NsType t) { return c.linux->find_ns(t); }

std::string env_of(const spec::Config& c, const std::string& key) {
    for (auto& e : c.process->env)
        if (e.starts_with(key + "=")) return e.substr(key.size() + 1);
    return "<unset>";
}

} // namespace

TestSuite(container_spec, .init = make_test_dir, .fini = remove_test_dir);

// ---- process ---------------------------------------------------------------

Test(container_spec, args_follow_kubernetes_rules) {
    Fx f;
    cr_assert(f.build().process->args == std::vector<std::string>({"/entry", "serve", "--port=80"}));
    f.cfg.add_args("--debug");   // args alone replace the image's cmd
    cr_assert(f.build().process->args == std::vector<std::string>({"/entry", "--debug"}));
    f.cfg.add_command("/bin/sh");   // command replaces the entrypoint and drops cmd
    cr_assert(f.build().process->args == std::vector<std::string>({"/bin/sh", "--debug"}));
    f.cfg.clear_args();
    cr_assert(f.build().process->args == std::vector<std::string>({"/bin/sh"}));
    f.cfg.clear_command();
    f.image.config.entrypoint = {""};   // [""]: no entrypoint
    cr_assert(f.build().process->args == std::vector<std::string>({"serve", "--port=80"}));
    f.image.config.cmd.clear();
    f.fails(EINVAL, "command: no command");
}

Test(container_spec, env_image_then_config_by_name) {
    Fx f;
    auto* e = f.cfg.add_envs();
    e->set_key("SHARED");
    e->set_value("config");
    e = f.cfg.add_envs();
    e->set_key("NEW");
    e->set_value("a=b");
    auto c = f.build();
    cr_assert_eq(env_of(c, "PATH"), "/app/bin:/bin");   // the image's replaces the default
    cr_assert_eq(env_of(c, "IMG"), "1");
    cr_assert_eq(env_of(c, "SHARED"), "config");
    cr_assert_eq(env_of(c, "NEW"), "a=b");
    cr_assert_eq(env_of(c, "HOSTNAME"), "web-0");
    cr_assert_eq(std::count_if(c.process->env.begin(), c.process->env.end(),
                               [](const std::string& s) { return s.starts_with("SHARED="); }), 1);
    f.pod_cfg.clear_hostname();
    cr_assert_eq(env_of(f.build(), "HOSTNAME"), "node1");
    e = f.cfg.add_envs();
    e->set_key("");
    f.fails(EINVAL, "envs[2].key: invalid name");
}

Test(container_spec, cwd_tty_oom_no_rlimits) {
    Fx f;
    auto c = f.build();
    cr_assert_eq(c.process->cwd, "/");
    cr_assert_not(c.process->terminal);
    cr_assert(c.process->rlimits.empty(), "containerd drops the default rlimits");
    cr_assert_not(c.process->noNewPrivileges);
    cr_assert_not(c.process->oomScoreAdj.has_value());
    f.image.config.working_dir = "/srv";
    cr_assert_eq(f.build().process->cwd, "/srv");
    f.cfg.set_working_dir("/work");
    f.cfg.set_tty(true);
    f.cfg.mutable_linux()->mutable_resources()->set_oom_score_adj(-997);
    c = f.build();
    cr_assert_eq(c.process->cwd, "/work");
    cr_assert(c.process->terminal);
    cr_assert_eq(*c.process->oomScoreAdj, -997);
    f.cfg.set_working_dir("rel");
    f.fails(EINVAL, "working_dir: must be absolute");
}

// ---- user ------------------------------------------------------------------

Test(container_spec, user_default_root_and_image_user) {
    Fx f;
    auto c = f.build();
    cr_assert_eq(c.process->user.uid, 0u);
    cr_assert_eq(c.process->user.gid, 0u);
    cr_assert(c.process->user.additionalGids == std::vector<uint32_t>({0, 10}), "root is in wheel");
    f.image.config.user = "app";
    c = f.build();
    cr_assert_eq(c.process->user.uid, 1000u);
    cr_assert_eq(c.process->user.gid, 1001u);
    cr_assert(c.process->user.additionalGids == std::vector<uint32_t>({1001, 10, 44}));
    f.image.config.user = "app:video";
    c = f.build();
    cr_assert_eq(c.process->user.uid, 1000u);
    cr_assert_eq(c.process->user.gid, 44u);
    f.image.config.user = "1234:5678";   // numeric: no entry needed
    c = f.build();
    cr_assert_eq(c.process->user.uid, 1234u);
    cr_assert_eq(c.process->user.gid, 5678u);
    cr_assert(c.process->user.additionalGids == std::vector<uint32_t>({5678}));
    f.image.config.user = "1000";   // gid from the passwd entry
    cr_assert_eq(f.build().process->user.gid, 1001u);
    f.image.config.user = "4321";   // no entry: gid 0
    cr_assert_eq(f.build().process->user.gid, 0u);
    f.image.config.user = "ghost";
    f.fails(EINVAL, "image config User: user \"ghost\" not found in the image's /etc/passwd");
    f.image.config.user = "app:ghosts";
    f.fails(EINVAL, "image config User: group \"ghosts\" not found in the image's /etc/group");
    f.image.config.user = "a:b:c";
    f.fails(EINVAL, "image config User: invalid user");
}

Test(container_spec, user_from_security_context) {
    Fx f;
    f.image.config.user = "nobody";
    f.sc()->set_run_as_username("app");
    auto c = f.build();
    cr_assert_eq(c.process->user.uid, 1000u);
    cr_assert_eq(c.process->user.gid, 1001u);
    f.sc()->mutable_run_as_group()->set_value(44);
    cr_assert_eq(f.build().process->user.gid, 44u);
    f.sc()->set_run_as_username("nobody2");
    f.fails(EINVAL, "linux.security_context.run_as_username: user \"nobody2\" not found in the image's /etc/passwd");
    f.sc()->clear_run_as_username();
    f.sc()->mutable_run_as_user()->set_value(1000);
    f.sc()->add_supplemental_groups(3000);
    f.sc()->add_supplemental_groups(44);   // already there: once
    c = f.build();
    cr_assert_eq(c.process->user.uid, 1000u);
    cr_assert_eq(c.process->user.gid, 44u);
    cr_assert(c.process->user.additionalGids == std::vector<uint32_t>({44, 10, 3000}),
              "primary, the /etc/group memberships, then supplemental_groups");
    f.sc()->set_supplemental_groups_policy(v1::Strict);
    cr_assert(f.build().process->user.additionalGids == std::vector<uint32_t>({44, 3000}));
    f.sc()->clear_run_as_user();
    f.fails(EINVAL, "linux.security_context.run_as_group: given without run_as_user");
    f.sc()->clear_run_as_group();
    f.sc()->mutable_run_as_user()->set_value(-1);
    f.fails(EINVAL, "linux.security_context.run_as_user: out of range");
}

Test(container_spec, user_files_never_leave_the_rootfs) {
    Fx f;
    // A host file the image points at: its user must stay invisible.
    std::string outside = test_dir() + "/host-secret";
    write(outside, "evil:x:4242:4242::/:/bin/sh\n");
    write(test_dir() + "/host-group", "evilgrp:x:4343:\n");
    ::unlink((f.rootfs + "/etc/passwd").c_str());
    ::unlink((f.rootfs + "/etc/group").c_str());
    cr_assert_eq(::symlink(outside.c_str(), (f.rootfs + "/etc/passwd").c_str()), 0);
    cr_assert_eq(::symlink("../../../../../../../../host-group", (f.rootfs + "/etc/group").c_str()), 0);
    f.sc()->set_run_as_username("evil");
    f.fails(EINVAL, "linux.security_context.run_as_username: user \"evil\" not found in the image's /etc/passwd",
            "(the image has no /etc/passwd)");
    f.sc()->clear_run_as_username();
    f.image.config.user = "0:evilgrp";
    f.fails(EINVAL, "image config User: group \"evilgrp\" not found");
    // The same link resolved inside the rootfs is followed there.
    mkdirs(f.rootfs + test_dir());
    write(f.rootfs + outside, "inside:x:77:78::/:/bin/sh\n");
    f.image.config.user = "inside";
    auto c = f.build();
    cr_assert_eq(c.process->user.uid, 77u);
    cr_assert_eq(c.process->user.gid, 78u);
    // A FIFO must not hang the lookup; a directory is refused.
    ::unlink((f.rootfs + "/etc/passwd").c_str());
    cr_assert_eq(::mkfifo((f.rootfs + "/etc/passwd").c_str(), 0644), 0);
    f.fails(EINVAL, "the image's /etc/passwd: not a regular file");
    ::unlink((f.rootfs + "/etc/passwd").c_str());
    mkdirs(f.rootfs + "/etc/passwd");
    f.fails(EINVAL, "the image's /etc/passwd: not a regular file");
}

Test(container_spec, passwd_and_group_parsing) {
    auto pw = parse_passwd("a:x:1:2::/:/bin/sh\n+nis\nbad:x:notanumber:1\nshort:x:3\n\nb:x:4294967295:0:::\n");
    cr_assert_eq(pw.size(), 2u);
    cr_assert_eq(pw[1].uid, 4294967295u);
    auto gr = parse_group("g:x:5:a,b,,c\nh:x:6\n");
    cr_assert_eq(gr.size(), 2u);
    cr_assert(gr[0].members == std::vector<std::string>({"a", "b", "c"}));
    cr_assert(gr[1].members.empty());
}

// ---- namespaces ------------------------------------------------------------

Test(container_spec, namespaces_from_the_pod) {
    Fx f;
    auto c = f.build();
    cr_assert_eq(find_ns(c, spec::NsType::network)->path, "/run/berth/pods/pod1/ns/net");
    cr_assert_eq(find_ns(c, spec::NsType::ipc)->path, "/run/berth/pods/pod1/ns/ipc");
    cr_assert_eq(find_ns(c, spec::NsType::uts)->path, "/run/berth/pods/pod1/ns/uts");
    cr_assert_eq(find_ns(c, spec::NsType::pid)->path, "/run/berth/pods/pod1/ns/pid");
    cr_assert_eq(find_ns(c, spec::NsType::mount)->path, "");
    cr_assert_null(find_ns(c, spec::NsType::cgroup), "no cgroup namespace on v1");
    cr_assert_null(find_ns(c, spec::NsType::user));
    cr_assert(c.hostname.empty(), "the pinned UTS namespace has the name (containerd sets none)");
    f.host.cgroup_v2 = true;
    cr_assert_not_null(find_ns(f.build(), spec::NsType::cgroup));

    auto* ns = f.sc()->mutable_namespace_options();
    ns->set_pid(v1::CONTAINER);
    cr_assert_eq(find_ns(f.build(), spec::NsType::pid)->path, "");
    // Network and IPC follow the pod's options (containerd), whatever the
    // container's say: a host-network, host-IPC pod has no pins for them.
    auto* pns = f.pod_cfg.mutable_linux()->mutable_security_context()->mutable_namespace_options();
    pns->set_network(v1::NODE);
    pns->set_ipc(v1::NODE);
    f.pod.ns_paths.erase("network");
    f.pod.ns_paths.erase("ipc");
    f.pod.ns_paths.erase("uts");   // a host-network pod has no UTS namespace of its own
    ns->set_pid(v1::NODE);
    c = f.build();
    cr_assert_null(find_ns(c, spec::NsType::network));
    cr_assert_null(find_ns(c, spec::NsType::ipc));
    cr_assert_null(find_ns(c, spec::NsType::pid));
    cr_assert_null(find_ns(c, spec::NsType::uts));
    cr_assert_eq(find_mount(c, "/dev/shm")->source, "/dev/shm", "host IPC: the host's /dev/shm");

    ns->set_pid(v1::TARGET);
    f.fails(EINVAL, "linux.security_context.namespace_options.target_id: empty");
    ns->set_target_id("c0");
    f.fails(EINVAL, "linux.security_context.namespace_options.target_id: no container");
    f.pod.target_pid = [](const std::string& id) -> pid_t { return id == "c0" ? 4242 : 0; };
    cr_assert_eq(find_ns(f.build(), spec::NsType::pid)->path, "/proc/4242/ns/pid");
    ns->set_target_id("c9");
    f.fails(EINVAL, "linux.security_context.namespace_options.target_id: container \"c9\" is not running");
    f.pod.target_pid = [](const std::string&) -> pid_t { throw Error(ENOENT, "container c9: not found"); };
    f.fails(ENOENT, "linux.security_context.namespace_options.target_id: container c9: not found");

    // pid POD in a pod without a pid namespace: one of the container's own
    // (containerd would join its pause's), or the host's for a NODE pod.
    ns->set_pid(v1::POD);
    f.pod.ns_paths.erase("pid");
    cr_assert_eq(find_ns(f.build(), spec::NsType::pid)->path, "");
    pns->set_pid(v1::NODE);
    cr_assert_null(find_ns(f.build(), spec::NsType::pid));
    // A pod that should have a network pin but lacks it is an error.
    pns->set_network(v1::POD);
    f.fails(EINVAL, "linux.security_context.namespace_options.network: the pod has no network namespace");
    pns->set_network(v1::NODE);
    ns->set_pid(v1::CONTAINER);
    ns->mutable_userns_options()->set_mode(v1::POD);
    f.fails(ENOTSUP, "linux.security_context.namespace_options.userns_options: user namespaces are not supported");
}

// ---- mounts ----------------------------------------------------------------

Test(container_spec, default_and_pod_mounts) {
    Fx f;
    std::string pd = test_dir() + "/pod";
    mkdirs(pd + "/shm");
    for (auto n : {"hostname", "hosts", "resolv.conf"}) write(pd + "/" + n, "x\n");
    f.pod.hostname_file = pd + "/hostname";
    f.pod.hosts_file = pd + "/hosts";
    f.pod.resolv_file = pd + "/resolv.conf";
    f.pod.shm_dir = pd + "/shm";
    auto c = f.build();
    for (auto d : {"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup"})
        cr_assert_not_null(find_mount(c, d), "default mount %s", d);
    cr_assert_null(find_mount(c, "/run"), "containerd drops /run");
    cr_assert(has(find_mount(c, "/sys/fs/cgroup")->options, "ro"));
    cr_assert(has(find_mount(c, "/sys")->options, "ro"));
    auto* hosts = find_mount(c, "/etc/hosts");
    cr_assert_not_null(hosts);
    cr_assert_eq(hosts->source, pd + "/hosts");
    cr_assert_eq(hosts->type, "bind");
    cr_assert(hosts->options == std::vector<std::string>({"rbind", "rprivate", "rw"}));
    cr_assert_eq(find_mount(c, "/etc/hostname")->source, pd + "/hostname");
    cr_assert_eq(find_mount(c, "/etc/resolv.conf")->source, pd + "/resolv.conf");
    auto* shm = find_mount(c, "/dev/shm");
    cr_assert_eq(shm->type, "bind");
    cr_assert_eq(shm->source, pd + "/shm");
    cr_assert_eq(std::count_if(c.mounts.begin(), c.mounts.end(), [](auto& m) { return m.destination == "/dev/shm"; }), 1);

    f.sc()->set_readonly_rootfs(true);
    c = f.build();
    cr_assert(c.root.readonly);
    cr_assert(has(find_mount(c, "/etc/hosts")->options, "ro"), "the pod's files follow readonly_rootfs");
    cr_assert(has(find_mount(c, "/dev/shm")->options, "rw"));

    // The config's own /etc/hosts wins; a /dev mount replaces all of /dev's.
    std::string mine = test_dir() + "/my-hosts";
    write(mine, "1.2.3.4 x\n");
    auto* m = f.cfg.add_mounts();
    m->set_container_path("/etc/hosts");
    m->set_host_path(mine);
    m = f.cfg.add_mounts();
    m->set_container_path("/dev");
    m->set_host_path("/dev");
    c = f.build();
    cr_assert_eq(std::count_if(c.mounts.begin(), c.mounts.end(), [](auto& m) { return m.destination == "/etc/hosts"; }), 1);
    cr_assert_eq(find_mount(c, "/etc/hosts")->source, mine);
    cr_assert_null(find_mount(c, "/dev/pts"));
    cr_assert_null(find_mount(c, "/dev/mqueue"));
    cr_assert_eq(find_mount(c, "/dev")->type, "bind");
    // A tty with the host's /dev gets /dev/console (containerd).
    f.cfg.set_tty(true);
    c = f.build();
    cr_assert(std::any_of(c.linux->devices.begin(), c.linux->devices.end(), [](auto& d) { return d.path == "/dev/console"; }));
}

Test(container_spec, config_mounts_sorted_and_options) {
    Fx f;
    std::string h = test_dir() + "/vol";
    auto add = [&](const std::string& dst, const std::string& src) {
        auto* m = f.cfg.add_mounts();
        m->set_container_path(dst);
        m->set_host_path(src);
        return m;
    };
    add("/data/a/b", h + "/ab");
    add("/data", h + "/data")->set_readonly(true);
    add("/data/a/", h + "/a");
    auto c = f.build();
    std::vector<std::string> order;
    for (auto& m : c.mounts)
        if (m.destination.starts_with("/data")) order.push_back(m.destination);
    cr_assert(order == std::vector<std::string>({"/data", "/data/a", "/data/a/b"}), "parents before children");
    struct stat st{};
    cr_assert_eq(::stat((h + "/ab").c_str(), &st), 0, "a missing host path is created (containerd)");
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert(find_mount(c, "/data")->options == std::vector<std::string>({"rbind", "rprivate", "ro"}));
    // A symlinked host path is resolved on the host.
    cr_assert_eq(::symlink((h + "/a").c_str(), (test_dir() + "/link").c_str()), 0);
    f.cfg.mutable_mounts(2)->set_host_path(test_dir() + "/link");
    cr_assert_eq(find_mount(f.build(), "/data/a")->source, h + "/a");

    f.cfg.mutable_mounts(1)->set_recursive_read_only(true);
    cr_assert(find_mount(f.build(), "/data")->options == std::vector<std::string>({"rbind", "rprivate", "rro"}));
    f.cfg.mutable_mounts(1)->set_readonly(false);
    f.fails(EINVAL, "mounts[1].recursive_read_only: needs readonly");
    f.cfg.mutable_mounts(1)->set_readonly(true);
    f.cfg.mutable_mounts(1)->set_propagation(v1::PROPAGATION_HOST_TO_CONTAINER);
    f.fails(EINVAL, "mounts[1].recursive_read_only: needs propagation PROPAGATION_PRIVATE");
    f.cfg.mutable_mounts(1)->set_recursive_read_only(false);
    f.cfg.mutable_mounts(1)->set_propagation(v1::PROPAGATION_PRIVATE);

    f.cfg.mutable_mounts(0)->set_selinux_relabel(true);
    f.fails(ENOTSUP, "mounts[0].selinux_relabel: SELinux relabeling is not supported", "not enabled on this host");
    f.cfg.mutable_mounts(0)->set_selinux_relabel(false);
    f.cfg.mutable_mounts(0)->set_container_path("relative");
    f.fails(EINVAL, "mounts[0].container_path: must be an absolute path");
    f.cfg.mutable_mounts(0)->set_container_path("/x");
    f.cfg.mutable_mounts(0)->set_host_path("");
    f.fails(EINVAL, "mounts[0].host_path: empty");
    f.cfg.mutable_mounts(0)->set_host_path(h + "/ab");
    f.cfg.mutable_mounts(0)->mutable_image()->set_image("docker.io/library/data:1");
    f.fails(ENOTSUP, "mounts[0].image: image volume mounts are not supported");
}

Test(container_spec, mount_propagation_checks_the_host_mount) {
    Fx f;
    std::string base = test_dir();
    mkdirs(base + "/shared/sub");
    mkdirs(base + "/slave");
    mkdirs(base + "/private");
    // /tmp is shared (fixture); the test dir's own mounts decide below it.
    write(f.host.mountinfo,
          "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
          "30 22 0:26 / /tmp rw,nosuid shared:5 - tmpfs tmpfs rw\n"
          "31 30 0:27 / " + base + "/shared rw shared:7 - tmpfs t rw\n"
          "32 30 0:28 / " + base + "/slave rw master:7 - tmpfs t rw\n"
          "33 30 0:29 / " + base + "/private rw - tmpfs t rw\n"
          "34 30 0:30 / " + base + "/privatex rw shared:9 - tmpfs t rw\n");
    auto* m = f.cfg.add_mounts();
    m->set_container_path("/m");
    m->set_host_path(base + "/shared/sub");
    m->set_propagation(v1::PROPAGATION_BIDIRECTIONAL);
    auto c = f.build();
    cr_assert(has(find_mount(c, "/m")->options, "rshared"));
    cr_assert_eq(c.linux->rootfsPropagation, "rshared");
    m->set_propagation(v1::PROPAGATION_HOST_TO_CONTAINER);
    c = f.build();
    cr_assert(has(find_mount(c, "/m")->options, "rslave"));
    cr_assert_eq(c.linux->rootfsPropagation, "rslave");
    m->set_host_path(base + "/slave");
    cr_assert(has(f.build().mounts.back().options, "rslave"));
    m->set_propagation(v1::PROPAGATION_BIDIRECTIONAL);
    f.fails(EINVAL, "mounts[0].propagation: PROPAGATION_BIDIRECTIONAL needs a shared host mount", base + "/slave\", which is not shared");
    m->set_host_path(base + "/private");
    m->set_propagation(v1::PROPAGATION_HOST_TO_CONTAINER);
    f.fails(EINVAL, "mounts[0].propagation: PROPAGATION_HOST_TO_CONTAINER needs a shared or slave host mount");
    m->set_propagation(v1::PROPAGATION_PRIVATE);
    c = f.build();
    cr_assert(has(find_mount(c, "/m")->options, "rprivate"));
    cr_assert(c.linux->rootfsPropagation.empty());
}

Test(container_spec, image_volumes_made_in_the_rootfs) {
    Fx f;
    f.image.config.volumes = {"/var/lib/data", "/cache"};
    auto* m = f.cfg.add_mounts();
    m->set_container_path("/cache");
    m->set_host_path(test_dir() + "/cache");
    f.build();
    struct stat st{};
    cr_assert_eq(::stat((f.rootfs + "/var/lib/data").c_str(), &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_neq(::stat((f.rootfs + "/cache").c_str(), &st), 0, "a volume the config mounts is left alone");
    // A volume path through a symlink stays inside the rootfs.
    std::string escape = test_dir() + "/escaped";
    cr_assert_eq(::symlink(test_dir().c_str(), (f.rootfs + "/vlink").c_str()), 0);
    f.image.config.volumes = {"/vlink/escaped"};
    f.build();
    cr_assert_neq(::stat(escape.c_str(), &st), 0, "mkdir followed a symlink out of the rootfs");
}

// ---- devices and CDI -------------------------------------------------------

Test(container_spec, config_devices) {
    Fx f;
    auto* d = f.cfg.add_devices();
    d->set_host_path("/dev/null");
    d->set_container_path("/dev/mynull");
    d->set_permissions("rw");
    auto c = f.build();
    auto it = std::find_if(c.linux->devices.begin(), c.linux->devices.end(), [](auto& x) { return x.path == "/dev/mynull"; });
    cr_assert(it != c.linux->devices.end());
    cr_assert_eq(it->type, "c");
    cr_assert_eq(it->major, 1);
    cr_assert_eq(it->minor, 3);
    auto& rules = c.linux->resources->devices;
    cr_assert_not(rules[0].allow, "deny all first");
    cr_assert(std::any_of(rules.begin(), rules.end(), [](auto& r) {
        return r.allow && r.type == "c" && r.major == 1 && r.minor == 3 && r.access == "rw";
    }));
    d->set_permissions("rwx");
    f.fails(EINVAL, "devices[0].permissions: expected letters of \"rwm\"");
    d->set_permissions("r");
    d->set_host_path(f.rootfs + "/etc/passwd");
    f.fails(EINVAL, "devices[0].host_path:", "is not a device node");
    d->set_host_path("/dev/does-not-exist");
    f.fails(EINVAL, "devices[0].host_path:");
}

Test(container_spec, cdi_devices_from_field_annotations_and_handler) {
    Fx f;
    std::string dir = test_dir() + "/cdi";
    mkdirs(dir);
    write(dir + "/vendor.yaml",
          "cdiVersion: \"0.6.0\"\nkind: vendor.com/dev\n"
          "devices:\n"
          "- name: a\n  containerEdits:\n    env: [\"DEV_A=1\"]\n"
          "- name: b\n  containerEdits:\n    env: [\"DEV_B=1\"]\n"
          "- name: c\n  containerEdits:\n    env: [\"DEV_C=1\"]\n");
    f.handler.cdi_spec_dirs = {dir};
    f.handler.cdi_devices = {"vendor.com/dev=c"};
    f.cfg.add_cdi_devices()->set_name("vendor.com/dev=a");
    (*f.cfg.mutable_annotations())["cdi.k8s.io/extra"] = "vendor.com/dev=b";
    (*f.cfg.mutable_annotations())["team"] = "blue";
    auto c = f.build();
    cr_assert_eq(env_of(c, "DEV_A"), "1");
    cr_assert_eq(env_of(c, "DEV_B"), "1");
    cr_assert_eq(env_of(c, "DEV_C"), "1");
    cr_assert_eq(c.annotations.count("cdi.k8s.io/extra"), 0u, "applied here, not again by the runtime");
    cr_assert_eq(c.annotations.at("team"), "blue");
    f.cfg.add_cdi_devices()->set_name("vendor.com/dev=zzz");
    f.fails(ENOENT, "CDI devices:", "vendor.com/dev=zzz");
    f.cfg.mutable_cdi_devices(1)->set_name("not-qualified");
    f.fails(EINVAL, "CDI_devices[1].name: expected vendor.com/class=name");
    f.cfg.mutable_cdi_devices()->RemoveLast();
    (*f.cfg.mutable_annotations())["cdi.k8s.io/extra"] = "vendor.com/dev=b,bogus";
    f.fails(EINVAL, "annotations[cdi.k8s.io/extra]: expected comma-separated");
}

// ---- security context ------------------------------------------------------

Test(container_spec, capabilities) {
    Fx f;
    auto caps = *f.build().process->capabilities;
    cr_assert_eq(caps.bounding.size(), 14u, "containerd's default set");
    cr_assert(has(caps.effective, "CAP_NET_RAW") && has(caps.permitted, "CAP_CHOWN"));
    cr_assert_not(has(caps.bounding, "CAP_SYS_ADMIN"));
    cr_assert(caps.ambient.empty() && caps.inheritable.empty());
    auto* cp = f.sc()->mutable_capabilities();
    cp->add_add_capabilities("SYS_ADMIN");
    cp->add_add_capabilities("cap_net_admin");
    cp->add_drop_capabilities("CAP_NET_RAW");
    cp->add_drop_capabilities("kill");
    caps = *f.build().process->capabilities;
    cr_assert(has(caps.bounding, "CAP_SYS_ADMIN") && has(caps.effective, "CAP_NET_ADMIN"));
    cr_assert_not(has(caps.bounding, "CAP_NET_RAW") || has(caps.permitted, "CAP_KILL"));
    cp->Clear();
    cp->add_drop_capabilities("ALL");
    cp->add_add_capabilities("NET_BIND_SERVICE");
    caps = *f.build().process->capabilities;
    cr_assert(caps.bounding == std::vector<std::string>({"CAP_NET_BIND_SERVICE"}));
    cp->Clear();
    cp->add_add_capabilities("ALL");
    cp->add_drop_capabilities("CHOWN");
    caps = *f.build().process->capabilities;
    cr_assert_eq(caps.bounding.size(), 40u, "all 41 but CHOWN");
    cr_assert_not(has(caps.bounding, "CAP_CHOWN"));
    f.host.cap_last_cap = 37;   // an older kernel: ALL is what it knows
    cr_assert_eq(f.build().process->capabilities->bounding.size(), 37u);
    cp->Clear();
    cp->add_add_ambient_capabilities("NET_BIND_SERVICE");
    caps = *f.build().process->capabilities;
    cr_assert(has(caps.ambient, "CAP_NET_BIND_SERVICE") && has(caps.inheritable, "CAP_NET_BIND_SERVICE"));
    cp->add_add_capabilities("FLY");
    f.fails(EINVAL, "linux.security_context.capabilities.add_capabilities[0]: unknown capability \"FLY\"");
    cp->Clear();
    cp->add_drop_capabilities("CAP_CHOWN");
    cp->add_drop_capabilities("nope");
    f.fails(EINVAL, "linux.security_context.capabilities.drop_capabilities[1]: unknown capability \"nope\"");
}

Test(container_spec, privileged) {
    Fx f;
    f.sc()->set_privileged(true);
    f.fails(EINVAL, "linux.security_context.privileged: the pod is not privileged");
    f.pod_cfg.mutable_linux()->mutable_security_context()->set_privileged(true);
    f.sc()->add_masked_paths("/proc/kcore");
    f.sc()->add_readonly_paths("/proc/sys");
    f.sc()->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
    f.sc()->mutable_capabilities()->add_drop_capabilities("ALL");
    f.host.cgroup_v2 = true;
    auto c = f.build();
    cr_assert_eq(c.process->capabilities->bounding.size(), 41u);
    cr_assert(c.linux->maskedPaths.empty() && c.linux->readonlyPaths.empty());
    cr_assert_not(c.linux->seccomp.has_value(), "no seccomp for privileged (containerd)");
    cr_assert(has(find_mount(c, "/sys")->options, "rw"));
    cr_assert(has(find_mount(c, "/sys/fs/cgroup")->options, "rw"));
    cr_assert_null(find_ns(c, spec::NsType::cgroup));
    auto& rules = c.linux->resources->devices;
    cr_assert_eq(rules.size(), 1u);
    cr_assert(rules[0].allow && rules[0].access == "rwm" && !rules[0].major);
    cr_assert(std::any_of(c.linux->devices.begin(), c.linux->devices.end(), [](auto& d) { return d.path == "/dev/null"; }));
    cr_assert(std::none_of(c.linux->devices.begin(), c.linux->devices.end(),
                           [](auto& d) { return d.path.starts_with("/dev/pts/") || d.path == "/dev/console"; }));
}

Test(container_spec, readonly_rootfs_nnp_masked_paths) {
    Fx f;
    auto c = f.build();
    cr_assert(c.linux->maskedPaths.empty(), "kubelet sends the paths; none given means none (containerd)");
    f.sc()->set_readonly_rootfs(true);
    f.sc()->set_no_new_privs(true);
    f.sc()->add_masked_paths("/proc/kcore");
    f.sc()->add_masked_paths("/sys/firmware");
    f.sc()->add_readonly_paths("/proc/sys");
    c = f.build();
    cr_assert(c.root.readonly);
    cr_assert(c.process->noNewPrivileges);
    cr_assert(c.linux->maskedPaths == std::vector<std::string>({"/proc/kcore", "/sys/firmware"}));
    cr_assert(c.linux->readonlyPaths == std::vector<std::string>({"/proc/sys"}));
}

Test(container_spec, seccomp_profiles) {
    Fx f;
    cr_assert_not(f.build().linux->seccomp.has_value(), "unset: none, as containerd");
    auto* sp = f.sc()->mutable_seccomp();
    sp->set_profile_type(v1::SecurityProfile::RuntimeDefault);
    auto c = f.build();
    cr_assert(c.linux->seccomp.has_value());
    cr_assert_eq(c.linux->seccomp->defaultAction, "SCMP_ACT_ALLOW");
    cr_assert(std::any_of(c.linux->seccomp->syscalls.begin(), c.linux->seccomp->syscalls.end(),
                          [](auto& s) { return has(s.names, "keyctl") && s.action == "SCMP_ACT_ERRNO"; }),
              "berth's default profile denies keyctl");
    std::string own = test_dir() + "/handler.json";
    write(own, R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]})");
    f.handler.default_seccomp = own;
    cr_assert_eq(f.build().linux->seccomp->defaultAction, "SCMP_ACT_ERRNO");

    std::string oci = test_dir() + "/oci.json";
    write(oci, R"({"defaultAction":"SCMP_ACT_LOG","architectures":["SCMP_ARCH_X86_64"],
                   "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]})");
    sp->set_profile_type(v1::SecurityProfile::Localhost);
    sp->set_localhost_ref(oci);
    c = f.build();
    cr_assert_eq(c.linux->seccomp->defaultAction, "SCMP_ACT_LOG");
    cr_assert_eq(*c.linux->seccomp->syscalls[0].errnoRet, 1u);
    // A Docker-style profile: archMap gives the architectures, unknown keys are ignored.
    std::string docker = test_dir() + "/docker.json";
    write(docker, R"({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
      "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}],
      "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW","comment":"","includes":{},"excludes":{}}]})");
    sp->set_localhost_ref(docker);
    c = f.build();
    cr_assert(c.linux->seccomp->architectures ==
              std::vector<std::string>({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
    cr_assert_eq(c.linux->seccomp->syscalls.size(), 1u);

    std::string broken = test_dir() + "/broken.json";
    write(broken, R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":"read"}]})");
    sp->set_localhost_ref(broken);
    f.fails(EINVAL, "linux.security_context.seccomp.localhost_ref:", "linux.seccomp.syscalls[0].names");
    write(broken, R"({"defaultAction":"SCMP_ACT_ALLOW"}, "x": {})");
    f.fails(EINVAL, "linux.security_context.seccomp.localhost_ref:");
    sp->set_localhost_ref(test_dir() + "/missing.json");
    f.fails(ENOENT, "linux.security_context.seccomp.localhost_ref: cannot read the seccomp profile");
    sp->set_localhost_ref("profiles/x.json");
    f.fails(EINVAL, "linux.security_context.seccomp.localhost_ref: expected an absolute path");
    sp->set_profile_type(v1::SecurityProfile::RuntimeDefault);
    f.fails(EINVAL, "linux.security_context.seccomp.localhost_ref: only valid with profile_type Localhost");
    sp->clear_localhost_ref();
    sp->set_profile_type(v1::SecurityProfile::Unconfined);
    cr_assert_not(f.build().linux->seccomp.has_value());

    // The deprecated string form, used only when seccomp is unset.
    f.sc()->clear_seccomp();
    f.sc()->set_seccomp_profile_path("localhost/" + oci);
    cr_assert_eq(f.build().linux->seccomp->defaultAction, "SCMP_ACT_LOG");
    f.sc()->set_seccomp_profile_path("runtime/default");
    cr_assert_eq(f.build().linux->seccomp->defaultAction, "SCMP_ACT_ERRNO");
    f.sc()->set_seccomp_profile_path("unconfined");
    cr_assert_not(f.build().linux->seccomp.has_value());
    f.sc()->set_seccomp_profile_path("/abs/path.json");
    f.fails(EINVAL, "linux.security_context.seccomp_profile_path: invalid profile");
}

Test(container_spec, apparmor) {
    Fx f;
    auto* ap = f.sc()->mutable_apparmor();
    ap->set_profile_type(v1::SecurityProfile::RuntimeDefault);
    cr_assert(f.build().process->apparmorProfile.empty(), "no AppArmor on the host: the default is none");
    ap->set_profile_type(v1::SecurityProfile::Localhost);
    ap->set_localhost_ref("k8s-nginx");
    f.fails(ENOTSUP, "linux.security_context.apparmor: AppArmor profile \"k8s-nginx\" requested, but AppArmor is not enabled");
    f.sc()->clear_apparmor();
    f.sc()->set_apparmor_profile("localhost/k8s-nginx");
    f.fails(ENOTSUP, "linux.security_context.apparmor_profile: AppArmor profile");
    f.host.apparmor = true;
    f.host.apparmor_profiles = test_dir() + "/aa-profiles";
    write(f.host.apparmor_profiles, "k8s-nginx (enforce)\nberth-default (enforce)\n");
    cr_assert_eq(f.build().process->apparmorProfile, "k8s-nginx");
    f.sc()->set_apparmor_profile("localhost/k8s-other");
    f.fails(EINVAL, "linux.security_context.apparmor_profile: AppArmor profile \"k8s-other\" is not loaded");
    f.sc()->clear_apparmor_profile();
    f.handler.default_apparmor = "berth-default";
    cr_assert_eq(f.build().process->apparmorProfile, "berth-default", "unset is RuntimeDefault (kubernetes#51746)");
    f.sc()->mutable_apparmor()->set_profile_type(v1::SecurityProfile::Unconfined);
    cr_assert(f.build().process->apparmorProfile.empty());
}

// ---- resources, cgroups, annotations --------------------------------------

Test(container_spec, resources) {
    Fx f;
    cr_assert_not(f.build().linux->resources->cpu.has_value());
    auto* r = f.cfg.mutable_linux()->mutable_resources();
    r->set_cpu_period(100000);
    r->set_cpu_quota(50000);
    r->set_cpu_shares(512);
    r->set_memory_limit_in_bytes(64 << 20);
    r->set_cpuset_cpus("0-1");
    r->set_cpuset_mems("0");
    r->set_oom_score_adj(500);
    auto* h = r->add_hugepage_limits();
    h->set_page_size("2MB");
    h->set_limit(4 << 20);
    (*r->mutable_unified())["memory.high"] = "50000000";
    auto c = f.build();
    auto& res = *c.linux->resources;
    cr_assert_eq(*res.cpu->period, 100000u);
    cr_assert_eq(*res.cpu->quota, 50000);
    cr_assert_eq(*res.cpu->shares, 512u);
    cr_assert_eq(res.cpu->cpus, "0-1");
    cr_assert_eq(res.cpu->mems, "0");
    cr_assert_eq(*res.memory->limit, 64 << 20);
    cr_assert_eq(*res.memory->swap, 64 << 20, "swap defaults to the limit: no swapping");
    cr_assert_eq(res.hugepageLimits.size(), 1u);
    cr_assert_eq(res.hugepageLimits[0].pageSize, "2MB");
    cr_assert_eq(res.unified.at("memory.high"), "50000000");
    cr_assert_eq(*c.process->oomScoreAdj, 500);
    r->set_memory_swap_limit_in_bytes(128 << 20);
    cr_assert_eq(*f.build().linux->resources->memory->swap, 128 << 20);
    f.host.swap_controller = false;
    f.host.hugetlb = false;
    c = f.build();
    cr_assert_not(c.linux->resources->memory->swap.has_value());
    cr_assert(c.linux->resources->hugepageLimits.empty());
    r->set_cpu_shares(-2);
    f.fails(EINVAL, "linux.resources.cpu_shares: negative");
    r->set_cpu_shares(2);
    r->set_oom_score_adj(1001);
    f.fails(EINVAL, "linux.resources.oom_score_adj: out of range");
}

Test(container_spec, cgroups_path_and_annotations) {
    Fx f;
    (*f.cfg.mutable_annotations())["io.kubernetes.container.hash"] = "abc";
    auto c = f.build();
    cr_assert_eq(c.linux->cgroupsPath, "/kubepods/burstable/podabc/c1");
    cr_assert_eq(c.root.path, f.rootfs);
    cr_assert_eq(c.annotations.at("io.kubernetes.container.hash"), "abc");
    cr_assert_eq(c.annotations.at("io.kubernetes.cri.container-type"), "container");
    cr_assert_eq(c.annotations.at("io.kubernetes.cri.container-name"), "app");
    cr_assert_eq(c.annotations.at("io.kubernetes.cri.sandbox-id"), "pod1");
    cr_assert_eq(c.annotations.at("io.kubernetes.cri.sandbox-name"), "web");
    cr_assert_eq(c.annotations.at("io.kubernetes.cri.sandbox-namespace"), "prod");
    cr_assert_eq(c.annotations.at("io.kubernetes.cri.sandbox-uid"), "uid-123");
    cr_assert_eq(c.annotations.at("io.kubernetes.cri.image-name"), "docker.io/library/app:1");
    f.pod.cgroup_parent = "kubepods-burstable-podabc.slice";
    f.pod.systemd_cgroup = true;
    cr_assert_eq(f.build().linux->cgroupsPath, "kubepods-burstable-podabc.slice:berth:c1");
    cr_assert_eq(container_cgroups_path("kubepods.slice/kubepods-besteffort.slice", "c1", true),
                 "kubepods-besteffort.slice:berth:c1");
    cr_assert_eq(container_cgroups_path("", "c1", false), "");
    cr_assert_eq(container_cgroups_path("/", "c1", false), "/c1");
    cr_assert_eq(container_cgroup_dir("/kubepods/podabc/c1", "c1"), "/kubepods/podabc/c1");
    cr_assert_eq(container_cgroup_dir("kubepods-burstable-podabc.slice:berth:c1", "c1"),
                 "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podabc.slice/berth-c1.scope");
    f.pod.systemd_cgroup = false;
    f.cfg.mutable_metadata()->clear_name();
    f.fails(EINVAL, "metadata.name: empty");
}

// ---- pod files -------------------------------------------------------------

TestSuite(pod_files, .init = make_test_dir, .fini = remove_test_dir);

Test(pod_files, resolv_conf) {
    v1::PodSandboxConfig pod;
    HostFiles host;
    host.resolv_conf = test_dir() + "/host-resolv";
    write(host.resolv_conf, "nameserver 9.9.9.9\n");
    cr_assert_eq(resolv_conf_content(pod, host), "nameserver 9.9.9.9\n", "no DNS config: the host's");
    auto* dns = pod.mutable_dns_config();
    dns->add_servers("10.96.0.10");
    dns->add_servers("10.96.0.11");
    dns->add_searches("ns.svc.cluster.local");
    dns->add_searches("svc.cluster.local");
    dns->add_options("ndots:5");
    dns->add_options("edns0");
    cr_assert_eq(resolv_conf_content(pod, host),
                 "search ns.svc.cluster.local svc.cluster.local\n"
                 "nameserver 10.96.0.10\nnameserver 10.96.0.11\n"
                 "options ndots:5 edns0\n");
    dns->add_servers("1.1.1.1\nnameserver 6.6.6.6");
    try {
        resolv_conf_content(pod, host);
        cr_assert_fail("a server with a newline was accepted");
    } catch (const Error& e) {
        cr_assert(std::string(e.what()).starts_with("dns_config.servers[2]: invalid value"), "%s", e.what());
    }
}

Test(pod_files, hosts_and_hostname) {
    v1::PodSandboxConfig pod;
    HostFiles host;
    host.hosts = test_dir() + "/host-hosts";
    host.hostname = "node1";
    write(host.hosts, "127.0.0.1 localhost\n10.0.0.5 node1\n");
    pod.set_hostname("web-0");
    std::string hosts = hosts_content(pod, host);
    cr_assert(hosts.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"), "%s", hosts.c_str());
    cr_assert(hosts.ends_with("127.0.1.1\tweb-0\n"), "%s", hosts.c_str());
    cr_assert_eq(hostname_content(pod, host), "web-0\n");
    pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
    cr_assert_eq(hosts_content(pod, host), "127.0.0.1 localhost\n10.0.0.5 node1\n", "host network: the host's hosts");
    // A host without /etc/hosts or /etc/resolv.conf (a minimal system): the
    // pod still gets its localhost lines and an empty resolv.conf.
    HostFiles bare = host;
    bare.hosts = test_dir() + "/no-hosts";
    bare.resolv_conf = test_dir() + "/no-resolv";
    cr_assert(hosts_content(pod, bare).ends_with("127.0.1.1\tweb-0\n"), "%s", hosts_content(pod, bare).c_str());
    cr_assert_eq(resolv_conf_content(pod, bare), "");
    pod.clear_hostname();
    cr_assert_eq(hostname_content(pod, host), "node1\n");

    std::string dir = test_dir() + "/pod";
    mkdirs(dir);
    host.resolv_conf = test_dir() + "/host-hosts";
    auto files = write_pod_files(dir, pod, host);
    cr_assert_eq(files.hostname, dir + "/hostname");
    std::ifstream in(files.hostname);
    std::string line;
    std::getline(in, line);
    cr_assert_eq(line, "node1");
    struct stat st{};
    cr_assert_eq(::stat(files.resolv_conf.c_str(), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644u);
    cr_assert_eq(::stat(files.hosts.c_str(), &st), 0);
    pod.set_hostname("bad name");
    try {
        write_pod_files(test_dir() + "/pod2", pod, host);
        cr_assert_fail("a hostname with a space was accepted");
    } catch (const Error& e) {
        cr_assert(std::string(e.what()).starts_with("hostname: invalid value"), "%s", e.what());
    }
}

// ---- the pod cgroup berthd makes -------------------------------------------

Test(container_spec, pod_cgroup_is_resources_plus_overhead) {
    HostFeatures host;
    host.swap_controller = false;
    runtime::v1::LinuxPodSandboxConfig l;
    // Overhead alone makes no limit: the pod's containers have none.
    l.mutable_overhead()->set_memory_limit_in_bytes(16 << 20);
    l.mutable_overhead()->set_cpu_quota(10000);
    spec::Resources r = pod_cgroup_resources(l, host);
    cr_assert(!r.memory && (!r.cpu || !r.cpu->quota), "overhead alone must not limit the pod");

    l.mutable_resources()->set_memory_limit_in_bytes(256 << 20);
    l.mutable_resources()->set_cpu_quota(200000);
    l.mutable_resources()->set_cpu_shares(1024);
    l.mutable_overhead()->set_cpu_shares(128);
    l.mutable_overhead()->set_cpu_period(50000);   // 10000 per 50000 = 20000 per 100000
    r = pod_cgroup_resources(l, host);
    cr_assert(r.memory && r.memory->limit == (256 << 20) + (16 << 20));
    cr_assert(r.cpu && r.cpu->period == 100000u && r.cpu->quota == 220000 && r.cpu->shares == 1152u,
              "cpu: period %llu quota %lld shares %llu", (unsigned long long)r.cpu->period.value_or(0),
              (long long)r.cpu->quota.value_or(0), (unsigned long long)r.cpu->shares.value_or(0));

    l.mutable_overhead()->set_memory_limit_in_bytes(-1);
    try {
        pod_cgroup_resources(l, host);
        cr_assert_fail("a negative overhead was accepted");
    } catch (const Error& e) {
        cr_assert(std::string(e.what()).starts_with("config.linux.overhead.memory_limit_in_bytes"), "%s", e.what());
    }
}
