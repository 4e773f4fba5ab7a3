// Attacks on the container's filesystem view, each performed and seen to
// fail: a host root stacked over the rootfs, a mount over the container's
// root when exec joins it, /dev/null swapped before masking (CVE-2025-31133),
// a procfs write redirected by a mount (CVE-2025-52881), and a fresh,
// unmasked procfs mounted from a --no-pivot container.
#include "harness.hpp"

#include <unistd.h>

#include <cstdlib>

using berth::spec::Hook;
using itest::contains;

TestSuite(rootfs_attacks, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

namespace {

void add_cap(itest::Container& c, const char* cap) {
    auto& caps = *c.cfg.process->capabilities;
    for (auto* set : {&caps.bounding, &caps.effective, &caps.permitted}) set->push_back(cap);
}

// A createContainer hook running `script` with sh: it runs in the
// container's mount namespace before pivot_root, with the rootfs at ROOTFS.
Hook shell_hook(const std::string& script, const std::string& rootfs) {
    Hook h;
    h.path = "/bin/sh";
    h.args = {"sh", "-c", script};
    h.env = {"ROOTFS=" + rootfs, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    return h;
}

} // namespace

Test(rootfs_attacks, host_root_stacked_over_the_rootfs_is_detached) {
    auto c = itest::container();
    std::string rootfs = c.copy_rootfs();
    itest::write_file(rootfs + "/container-root", "");
    c.sh("ls /..; echo ---; exec sleep 60");
    c.write_config();
    // A throwaway mount namespace whose "/" has mounts stacked on it, as on
    // a host where `mount --bind / /` ran on a shared root (8 mounts here).
    itest::SpawnOpts o;
    o.stdout_path = c.out_path;
    auto r = itest::run_cmd({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                             "mount --make-rshared / && for i in 1 2 3; do mount --bind / /; done && exec \"$@\"",
                             "sh", std::getenv("BERTH"), "--root", itest::state_root(), "run", "-d", "--bundle",
                             c.bundle, c.id},
                            o);
    IT_ASSERT_OK(r);
    auto out = itest::wait_output(c, "---");
    // ".." from the container's root climbs to whatever is mounted over it.
    cr_assert(contains(out, "container-root"), "the container's /.. is the host's root:\n%s", out.c_str());
    auto ls = itest::berth({"exec", c.id, "ls", "/"});
    IT_ASSERT_OK(ls);
    cr_assert(contains(ls.out, "container-root"), "exec landed in the host's root:\n%s", ls.describe().c_str());
    auto mi = itest::berth({"exec", c.id, "sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo | wc -l"});
    IT_ASSERT_STR_EQ(itest::trim(mi.out), "1", "mounts at / inside:\n" + mi.describe());
    IT_ASSERT_OK(c.kill());
    cr_assert(c.wait_status("stopped"));
    IT_ASSERT_OK(c.del());
    itest::finish();
}

Test(rootfs_attacks, exec_lands_in_the_inits_root_whatever_covers_it) {
    auto c = itest::container();
    std::string rootfs = c.copy_rootfs();
    itest::write_file(rootfs + "/container-root", "");
    add_cap(c, "CAP_SYS_ADMIN");
    // The container covers its own root; joining its mount namespace alone
    // would put an exec'd process on top of that.
    c.sh("mount --bind /dev / && echo covered; exec sleep 60");
    IT_ASSERT_OK(c.run({"-d"}));
    cr_assert(contains(itest::wait_output(c, "covered"), "covered"), "%s", c.output().c_str());
    auto ls = itest::berth({"exec", c.id, "ls", "/"});
    IT_ASSERT_OK(ls);
    cr_assert(contains(ls.out, "container-root") && !contains(ls.out, "urandom"),
              "exec did not land in the init's root:\n%s", ls.describe().c_str());
    IT_ASSERT_OK(c.kill());
    cr_assert(c.wait_status("stopped"));
    IT_ASSERT_OK(c.del());
    itest::finish();
}

Test(rootfs_attacks, dev_null_swapped_for_a_symlink_is_not_bound_over_masked_paths) {
    auto c = itest::container();
    std::string rootfs = c.copy_rootfs();
    c.cfg.linux->maskedPaths = {"/proc/keys"};
    // The swap a racing container could make through a shared /dev, here
    // made deterministic by a hook between device creation and masking.
    c.cfg.hooks.createContainer.push_back(
        shell_hook("rm -f \"$ROOTFS/dev/null\" && ln -s /proc/sys/kernel/hostname \"$ROOTFS/dev/null\"", rootfs));
    c.sh("echo pwned > /proc/keys && echo WROTE-THROUGH-MASK; cat /proc/sys/kernel/hostname");
    auto r = c.run();
    IT_ASSERT_FAIL(r, "/dev/null", "symlink", "maskedPaths");
    cr_assert(!contains(r.out, "WROTE-THROUGH-MASK"), "%s", r.describe().c_str());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(rootfs_attacks, procfs_write_redirected_by_a_mount_is_refused) {
    auto c = itest::container();
    std::string rootfs = c.copy_rootfs();
    std::string victim = itest::work_dir() + "/victim";
    itest::write_file(victim, "untouched\n");
    c.cfg.linux->sysctl["kernel.shmmax"] = "123456789";
    // What a mount racing in through a shared mount could do: cover the
    // sysctl's file with another, so berth's write lands there.
    c.cfg.hooks.createContainer.push_back(
        shell_hook("mount --bind " + victim + " \"$ROOTFS/proc/sys/kernel/shmmax\"", rootfs));
    c.sh("true");
    auto r = c.run();
    IT_ASSERT_STR_EQ(itest::read_file(victim), "untouched\n", "berth wrote the sysctl into the file mounted over it\n" +
                                                                  r.describe());
    IT_ASSERT_FAIL(r, "linux.sysctl kernel.shmmax", "mounted over");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(rootfs_attacks, sysctls_still_reach_procfs) {
    auto c = itest::container();
    c.cfg.linux->sysctl["kernel.shmmax"] = "123456789";
    c.sh("cat /proc/sys/kernel/shmmax");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "123456789\n", r.describe());
    itest::finish();
}

namespace {

// A container that makes a user namespace of its own (as any process may)
// and tries to mount a fresh procfs there: the kernel allows it only where
// a fully visible procfs is already in the mount namespace.
itest::Result fresh_proc_attempt(bool no_pivot) {
    auto c = itest::container();
    c.cfg.linux->maskedPaths = {"/proc/keys"};
    add_cap(c, "CAP_SETFCAP");   // to map root in the new user namespace
    c.cfg.process->args = {"unshare", "-mrpf", "sh", "-c", "mount -t proc none /proc && echo MOUNTED-FRESH-PROC"};
    std::vector<std::string> extra;
    if (no_pivot) extra.push_back("--no-pivot");
    return c.run(extra);
}

} // namespace

Test(rootfs_attacks, no_pivot_container_cannot_mount_a_fresh_proc) {
    auto pivot = fresh_proc_attempt(false);
    cr_assert(!contains(pivot.out, "MOUNTED-FRESH-PROC") && pivot.status != 0, "with pivot_root:\n%s",
              pivot.describe().c_str());
    auto nopivot = fresh_proc_attempt(true);
    cr_assert(!contains(nopivot.out, "MOUNTED-FRESH-PROC"),
              "with --no-pivot the host's /proc let the container mount an unmasked one:\n%s",
              nopivot.describe().c_str());
    cr_assert(contains(nopivot.err, "ermission denied") || contains(nopivot.out, "ermission denied"), "%s",
              nopivot.describe().c_str());
    itest::finish();
}
