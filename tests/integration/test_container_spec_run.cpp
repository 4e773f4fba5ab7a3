// Specs built by berthd's CreateContainer spec builder
// (cri/container/spec_builder.cpp), run by berth on a busybox rootfs: the
// security context as the container sees it (/proc/self/status, id,
// mountinfo, writes that must fail). The pod's namespaces are not pinned
// here (that is the shim's work): the container gets fresh ones instead.
#include "harness.hpp"
#include "spec_builder.hpp"

#include <string>

namespace v1 = runtime::v1;
using namespace berth;

namespace {

struct Case {
    v1::PodSandboxConfig pod;
    v1::ContainerConfig cfg;
    spec::image::ImageConfig image;
    itest::Container c;

    explicit Case(const std::string& script) : c(itest::container()) {
        pod.mutable_metadata()->set_name("itest-pod");
        pod.set_hostname("itest-pod");
        cfg.mutable_metadata()->set_name("itest");
        cfg.add_command("sh");
        cfg.add_command("-c");
        cfg.add_command(script);
        auto* e = cfg.add_envs();   // the harness finds leftovers by this tag
        e->set_key("BERTH_ITEST_TAG");
        e->set_value(itest::tag());
        cfg.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
    }
    v1::LinuxContainerSecurityContext* sc() { return cfg.mutable_linux()->mutable_security_context(); }

    // Build the spec into c.cfg and run it; returns what the container printed.
    std::string run() {
        std::string rootfs = c.copy_rootfs();
        cri::PodContext pc;
        pc.sandbox_id = "itest-pod";
        pc.config = &pod;
        // Placeholders for the pins, replaced by new namespaces below.
        pc.ns_paths = {{"network", "PIN"}, {"ipc", "PIN"}, {"uts", "PIN"}};
        pc.cgroup_parent = itest::cgroup_parent();
        cri::ContainerContext cc{c.id, &cfg, &image, "busybox", rootfs};
        try {
            c.cfg = cri::build_container_spec(pc, cc, {});
        } catch (const std::exception& e) {
            cr_assert_fail("build_container_spec: %s", e.what());
        }
        for (auto& n : c.cfg.linux->namespaces)
            if (n.path == "PIN") n.path.clear();
        auto r = c.run();
        IT_ASSERT_OK(r);
        return r.out;
    }
};

std::string field(const std::string& out, const std::string& key) {
    for (auto& l : itest::lines(out))
        if (l.starts_with(key)) return itest::trim(l.substr(key.size()));
    return "<missing " + key + ">";
}

} // namespace

TestSuite(cri_spec, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

Test(cri_spec, default_security_context) {
    Case k("grep -E '^(CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; id");
    std::string out = k.run();
    // containerd's (Docker's) default capability set.
    IT_ASSERT_STR_EQ(field(out, "CapEff:"), "00000000a80425fb", out);
    IT_ASSERT_STR_EQ(field(out, "CapBnd:"), "00000000a80425fb", out);
    IT_ASSERT_STR_EQ(field(out, "CapAmb:"), "0000000000000000", out);
    IT_ASSERT_STR_EQ(field(out, "NoNewPrivs:"), "0", out);
    IT_ASSERT_STR_EQ(field(out, "Seccomp:"), "0", out);
    cr_assert(itest::contains(out, "uid=0(root) gid=0(root)"), "%s", out.c_str());
    itest::finish();
}

Test(cri_spec, capabilities_drop_all_add_one) {
    Case k("grep -E '^(CapEff|CapBnd|CapPrm):' /proc/self/status");
    auto* caps = k.sc()->mutable_capabilities();
    caps->add_drop_capabilities("ALL");
    caps->add_add_capabilities("NET_BIND_SERVICE");
    std::string out = k.run();
    IT_ASSERT_STR_EQ(field(out, "CapEff:"), "0000000000000400", out);
    IT_ASSERT_STR_EQ(field(out, "CapBnd:"), "0000000000000400", out);
    IT_ASSERT_STR_EQ(field(out, "CapPrm:"), "0000000000000400", out);
    itest::finish();
}

Test(cri_spec, user_group_and_supplemental_groups) {
    Case k("id -u; id -g; id -G");
    k.sc()->set_run_as_username("nobody");
    k.sc()->add_supplemental_groups(1234);
    std::string out = k.run();
    auto l = itest::lines(out);
    cr_assert_geq(l.size(), 3u, "%s", out.c_str());
    IT_ASSERT_STR_EQ(l[0], "65534", out);
    IT_ASSERT_STR_EQ(l[1], "65534", out);
    IT_ASSERT_STR_EQ(l[2], "65534 1234", out);
    itest::finish();
}

Test(cri_spec, run_as_user_and_group) {
    Case k("id -u; id -g");
    k.sc()->mutable_run_as_user()->set_value(4321);
    k.sc()->mutable_run_as_group()->set_value(8765);
    std::string out = k.run();
    auto l = itest::lines(out);
    cr_assert_geq(l.size(), 2u, "%s", out.c_str());
    IT_ASSERT_STR_EQ(l[0], "4321", out);
    IT_ASSERT_STR_EQ(l[1], "8765", out);
    itest::finish();
}

Test(cri_spec, readonly_rootfs_masked_and_readonly_paths_no_new_privs_seccomp) {
    Case k("if touch /written 2>/dev/null; then echo rootfs=rw; else echo rootfs=ro; fi; "
           "echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c); "
           "if echo 1 > /proc/sys/vm/drop_caches 2>/dev/null; then echo procsys=rw; else echo procsys=ro; fi; "
           "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status");
    k.sc()->set_readonly_rootfs(true);
    k.sc()->add_masked_paths("/proc/kcore");
    k.sc()->add_readonly_paths("/proc/sys");
    k.sc()->set_no_new_privs(true);
    k.sc()->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
    std::string out = k.run();
    IT_ASSERT_STR_EQ(field(out, "rootfs="), "ro", out);
    IT_ASSERT_STR_EQ(field(out, "kcore="), "0", out);
    IT_ASSERT_STR_EQ(field(out, "procsys="), "ro", out);
    IT_ASSERT_STR_EQ(field(out, "NoNewPrivs:"), "1", out);
    IT_ASSERT_STR_EQ(field(out, "Seccomp:"), "2", out);
    itest::finish();
}
