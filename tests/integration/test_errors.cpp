// Bad input: berth fails with a message naming the problem, and leaves
// nothing behind (no state entry, cgroup dir, mount or process).
#include "harness.hpp"

#include <algorithm>
#include <regex>

using berth::spec::Mount;
using itest::contains;

TestSuite(errors, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

namespace {

// `berth create` of c from its bundle as it is (config not rewritten).
itest::Result create_as_is(const itest::Container& c) {
    itest::SpawnOpts o;
    o.stdout_path = c.out_path;
    return itest::berth({"create", "--bundle", c.bundle, c.id}, o);
}

itest::Result run_as_is(const itest::Container& c) {
    return itest::berth({"run", "--bundle", c.bundle, c.id});
}

} // namespace

Test(errors, missing_config_json) {
    auto c = itest::container();   // bundle dir exists, no config.json in it
    auto r = create_as_is(c);
    IT_ASSERT_FAIL(r, "config.json");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    auto r2 = run_as_is(c);
    IT_ASSERT_FAIL(r2, "config.json");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, missing_bundle_dir) {
    auto c = itest::container();
    std::string gone = c.bundle + "/no-such-bundle";
    auto r = itest::berth({"create", "--bundle", gone, c.id});
    IT_ASSERT_FAIL(r, "no-such-bundle");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, malformed_config_json) {
    auto c = itest::container();
    c.write_config_text("{ \"ociVersion\": \"1.2.0\", \"process\": { \"args\": [ \"sh\" ");
    auto r = create_as_is(c);
    IT_ASSERT_FAIL(r, "config.json");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, wrong_field_type_names_the_field) {
    auto c = itest::container();
    std::string text = std::regex_replace(c.config_json(), std::regex("\"uid\"\\s*:\\s*0"), "\"uid\": \"root\"");
    cr_assert(contains(text, "\"root\""), "no uid in %s", text.c_str());
    c.write_config_text(text);
    auto r = create_as_is(c);
    IT_ASSERT_FAIL(r, "process.user.uid");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, missing_rootfs) {
    auto c = itest::container();
    c.cfg.root.path = c.bundle + "/no-such-rootfs";
    c.write_config();
    auto r = create_as_is(c);
    IT_ASSERT_FAIL(r, "root.path", "no-such-rootfs");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, unknown_namespace_type) {
    auto c = itest::container();
    std::string text =
        std::regex_replace(c.config_json(), std::regex("\"type\"\\s*:\\s*\"ipc\""), "\"type\": \"nosuchns\"");
    cr_assert(contains(text, "nosuchns"));
    c.write_config_text(text);
    auto r = create_as_is(c);
    IT_ASSERT_FAIL(r, "linux.namespaces", "nosuchns");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, bad_mount_type) {
    auto c = itest::container();
    c.cfg.mounts.push_back(Mount{"/bad", "nosuchfs", "none", {}});
    c.write_config();
    auto r = create_as_is(c);
    IT_ASSERT_FAIL(r, "/bad", "nosuchfs");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    // The same through run.
    auto r2 = run_as_is(c);
    IT_ASSERT_FAIL(r2, "/bad", "nosuchfs");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, missing_bind_source) {
    auto c = itest::container();
    std::string src = c.bundle + "/no-such-source";
    c.cfg.mounts.push_back(Mount{"/data", "bind", src, {"rbind"}});
    c.write_config();
    auto r = create_as_is(c);
    IT_ASSERT_FAIL(r, "no-such-source");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, missing_cwd) {
    auto c = itest::container();
    c.cfg.process->cwd = "/no-such-dir";
    c.write_config();
    auto r = create_as_is(c);
    IT_ASSERT_FAIL(r, "process.cwd", "/no-such-dir");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, missing_executable) {
    auto c = itest::container();
    c.cfg.process->args = {"no-such-program"};
    c.write_config();
    auto r = create_as_is(c);
    IT_ASSERT_FAIL(r, "no-such-program");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, unknown_sysctl) {
    auto c = itest::container();
    c.cfg.linux->sysctl["net.ipv4.no_such_knob"] = "1";
    c.write_config();
    auto r = create_as_is(c);
    IT_ASSERT_FAIL(r, "net.ipv4.no_such_knob");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, invalid_id) {
    auto c = itest::container();
    c.write_config();
    std::string bad = "../" + c.id;
    // Where a runtime that took the id as a path would put its state.
    std::string root = itest::state_root();
    std::string outside = root.substr(0, root.rfind('/')) + "/" + c.id;
    itest::remove_later(outside);
    auto r = itest::berth({"create", "--bundle", c.bundle, bad});
    IT_ASSERT_FAIL(r, bad);
    cr_assert(!itest::exists(outside), "state written outside the root: %s", outside.c_str());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, duplicate_id) {
    auto a = itest::container();
    a.sh("exec sleep 60");
    auto ra = a.create();
    IT_ASSERT_OK(ra);
    pid_t pid = a.pid();

    // A second bundle, same id.
    auto b = itest::container();
    b.sh("echo second");
    b.write_config();
    auto r = itest::berth({"create", "--bundle", b.bundle, a.id});
    IT_ASSERT_FAIL(r, a.id);
    // The first container is untouched.
    IT_ASSERT_STR_EQ(a.status(), "created", r.describe());
    cr_assert_eq(a.pid(), pid, "the first container's init changed");
    auto st = a.state();
    IT_ASSERT_STR_EQ(itest::json_field(st.out, "bundle"), a.bundle, st.describe());
    cr_assert(itest::mounts_mentioning(b.bundle).empty());
    auto cgs = itest::cgroup_dirs_for(itest::cgroup_parent() + "/" + a.id);
    cr_assert(!cgs.empty(), "the first container's cgroup was removed");
    // The first still starts and runs.
    IT_ASSERT_OK(a.start());
    cr_assert(a.wait_status("running"), "%s", a.state().describe().c_str());
    IT_ASSERT_OK(a.del(true));
    IT_ASSERT_NO_TRACE(a.id, a.bundle);
    itest::finish();
}

Test(errors, start_unknown_container) {
    std::string id = itest::new_id();
    auto r = itest::berth({"start", id});
    IT_ASSERT_FAIL(r, id);
    cr_assert(!itest::exists(itest::state_root() + "/" + id), "start made a state entry");
    auto d = itest::berth({"delete", id});
    IT_ASSERT_FAIL(d, id);
    auto s = itest::berth({"state", id});
    IT_ASSERT_FAIL(s, id);
    itest::finish();
}

Test(errors, start_twice_after_exit) {
    // A container whose process has exited cannot be started again.
    auto c = itest::container();
    c.sh("exit 0");
    IT_ASSERT_OK(c.create());
    IT_ASSERT_OK(c.start());
    cr_assert(c.wait_status("stopped"), "%s", c.state().describe().c_str());
    IT_ASSERT_FAIL(c.start(), c.id);
    IT_ASSERT_OK(c.del());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

// ---- sysctls that would reach the host ------------------------------------------

namespace {

// Run c (which sets sysctl `key` to a value other than the host's) and
// expect a refusal naming the key; the host's value must not change (it is
// put back if it did).
void expect_sysctl_refused(itest::Container& c, const std::string& key, const std::string& value) {
    std::string proc = "/proc/sys/";
    for (char ch : key) proc += ch == '.' ? '/' : ch;
    std::string before = itest::read_file(proc);
    cr_assert(!before.empty(), "cannot read %s", proc.c_str());
    cr_assert(itest::trim(before) != value, "pick a value other than the host's");
    c.cfg.linux->sysctl[key] = value;
    c.sh("cat " + proc);
    auto r = c.run();
    std::string after = itest::read_file(proc);
    if (after != before) itest::write_file(proc, before);
    cr_assert(after == before, "the HOST's %s changed from %s to %s (restored)\n%s", key.c_str(),
              itest::trim(before).c_str(), itest::trim(after).c_str(), r.describe().c_str());
    IT_ASSERT_FAIL(r, "linux.sysctl", key);
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
}

} // namespace

Test(errors, net_sysctl_without_netns_refused) {
    // runc: "sysctl ... is not allowed in the hosts network namespace".
    auto c = itest::container();
    auto& ns = c.cfg.linux->namespaces;
    ns.erase(std::remove_if(ns.begin(), ns.end(),
                            [](const berth::spec::Namespace& n) { return n.type == berth::spec::NsType::network; }),
             ns.end());
    std::string host = itest::trim(itest::read_file("/proc/sys/net/ipv4/ip_forward"));
    expect_sysctl_refused(c, "net.ipv4.ip_forward", host == "1" ? "0" : "1");
    itest::finish();
}

Test(errors, non_namespaced_sysctl_refused) {
    // vm.* is global to the kernel: no namespace makes it the container's.
    auto c = itest::container();
    std::string host = itest::trim(itest::read_file("/proc/sys/vm/swappiness"));
    expect_sysctl_refused(c, "vm.swappiness", host == "37" ? "38" : "37");
    itest::finish();
}

// ---- namespaces to join that are not there -------------------------------------

Test(errors, join_missing_namespace_path) {
    auto c = itest::container();
    for (auto& n : c.cfg.linux->namespaces)
        if (n.type == berth::spec::NsType::network) n.path = c.bundle + "/no-such-netns";
    c.write_config();
    auto r = create_as_is(c);
    IT_ASSERT_FAIL(r, "no-such-netns");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, join_namespace_of_wrong_type) {
    // An ipc namespace given as the network namespace: setns refuses it.
    auto c = itest::container();
    for (auto& n : c.cfg.linux->namespaces)
        if (n.type == berth::spec::NsType::network) n.path = "/proc/self/ns/ipc";
    c.write_config();
    auto r = create_as_is(c);
    IT_ASSERT_FAIL(r, "network");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(errors, concurrent_creates_same_id) {
    // Five creates race for one id: exactly one wins, the rest fail cleanly.
    constexpr int N = 5;
    auto a = itest::container();
    a.sh("exit 0");
    a.write_config();
    std::vector<itest::Child> kids;
    for (int i = 0; i < N; ++i) {
        itest::SpawnOpts o;
        o.stdout_path = a.out_path;
        kids.push_back(itest::berth_spawn({"create", "--bundle", a.bundle, a.id}, o));
    }
    std::string all;
    int ok = itest::count_successes(kids, a.id, all);
    cr_assert_eq(ok, 1, "%d creates succeeded:\n%s", ok, all.c_str());
    IT_ASSERT_STR_EQ(a.status(), "created", all);
    IT_ASSERT_OK(a.del());
    IT_ASSERT_NO_TRACE(a.id, a.bundle);
    itest::finish();
}
