// Attacks on the runtime, each performed and seen to fail: leaked fds, a
// cwd through a leaked host fd (CVE-2024-21626 class), and reaching the
// waiting init's binary from a shared pid namespace (CVE-2019-5736 class).
#include "harness.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

using berth::spec::Mount;
using berth::spec::NsType;
using itest::contains;

TestSuite(hardening, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

namespace {

// Run `berth run` from a shell that first opens `redirs` (e.g. "3</etc 4</").
itest::Result run_with_fds(const itest::Container& c, const std::string& redirs,
                           const std::vector<std::string>& extra = {}) {
    c.write_config();
    std::string script = "exec " + redirs + "; exec \"$@\"";
    std::vector<std::string> argv = {"/bin/sh", "-c", script, "sh", std::getenv("BERTH"), "--root", itest::state_root(),
                                     "run"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--bundle", c.bundle, c.id});
    return itest::run_cmd(argv);
}

std::string fd_list(const std::string& out) {
    std::string fds;
    for (auto& l : itest::lines(out))
        if (!l.empty()) fds += l + " ";
    return fds;
}

// Start A (whose script waits for shared/go, probes every process named
// berth, and prints "scanned"), then create B in A's pid namespace, so B's
// init waits for start as the berth binary in A's sight; release A and
// return its report.
std::string probe_waiting_neighbour(itest::Container& a, itest::Container& b, const std::string& shared) {
    IT_ASSERT_OK(a.run({"-d"}));
    cr_assert(a.wait_status("running"));
    b = itest::container();
    itest::join_ns(b, NsType::pid, "/proc/" + std::to_string(a.pid()) + "/ns/pid");
    b.sh("true");
    IT_ASSERT_OK(b.create());
    itest::write_file(shared + "/go", "");
    auto out = itest::wait_output(a, "scanned");
    cr_assert(contains(out, "scanned"), "A did not finish: %s", out.c_str());
    return out;
}

} // namespace

Test(hardening, leaked_fds_do_not_reach_the_container) {
    auto c = itest::container();
    // ls's own directory fd is the only one past stdio.
    c.sh("ls /proc/self/fd");
    auto r = run_with_fds(c, "3</etc/hostname 4</ 7</tmp");
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(fd_list(r.out), "0 1 2 3 ", r.describe());
    itest::finish();
}

Test(hardening, preserve_fds_passes_exactly_n) {
    auto c = itest::container();
    c.sh("ls /proc/self/fd; readlink /proc/self/fd/3");
    auto r = run_with_fds(c, "3</etc/hostname 4</etc/hostname 5</etc/hostname", {"--preserve-fds", "2"});
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "0\n1\n2\n3\n4\n5\n"), "%s", r.describe().c_str());   // 5 is ls's own dir fd
    cr_assert(!contains(r.out, "\n6\n"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "/etc/hostname"), "%s", r.describe().c_str());
    itest::finish();
}

Test(hardening, cwd_through_leaked_host_fd_is_refused) {
    std::string host = itest::make_dir("hostdir");
    itest::write_file(host + "/secret", "host secret\n");
    auto c = itest::container();
    c.cfg.process->cwd = "/proc/self/fd/3";
    c.sh("cat secret; cat ../secret");
    auto r = run_with_fds(c, "3<" + host);
    cr_assert_neq(r.status, 0, "%s", r.describe().c_str());
    cr_assert(!contains(r.out, "host secret"), "the container read the host: %s", r.describe().c_str());
    cr_assert(contains(r.err, "process.cwd"), "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(itest::check_no_trace(c.id, c.bundle), "", r.describe());
    itest::finish();
}

Test(hardening, waiting_init_binary_unreachable_from_shared_pid_namespace) {
    std::string shared = itest::make_dir("shared");
    auto a = itest::container();
    a.cfg.mounts.push_back(Mount{"/shared", "bind", shared, {"rbind", "rw"}});
    // A waits for the go file, then probes every process named berth: the
    // init of B below, still the berth binary while it waits for start.
    a.sh("while [ ! -e /shared/go ]; do sleep 0.05; done; "
         "for d in /proc/[0-9]*; do [ \"$(cat $d/comm 2>/dev/null)\" = berth ] || continue; echo found; "
         "if cat $d/exe >/dev/null 2>&1; then echo exe-readable; else echo exe-denied; fi; "
         "for f in $d/fd/* $d/root $d/cwd; do readlink $f >/dev/null 2>&1 && echo link-readable:$f; done; "
         "ls $d/root/ >/dev/null 2>&1 && echo root-readable; echo probed; done; echo scanned");
    itest::Container b;
    auto out = probe_waiting_neighbour(a, b, shared);
    cr_assert(contains(out, "found"), "A did not see B's waiting init: %s", out.c_str());
    cr_assert(contains(out, "exe-denied") && !contains(out, "exe-readable"), "%s", out.c_str());
    // Its fds, root and cwd links lead nowhere either (listing fd numbers is
    // allowed to the same uid; following them needs ptrace access).
    cr_assert(contains(out, "probed"), "%s", out.c_str());
    cr_assert(!contains(out, "link-readable") && !contains(out, "root-readable"), "%s", out.c_str());
    IT_ASSERT_OK(b.del(true));
    cr_assert(a.wait_status("stopped"));
    IT_ASSERT_OK(a.del());
    itest::finish();
}

Test(hardening, masked_and_readonly_paths_cannot_be_undone) {
    auto c = itest::container();
    c.cfg.linux->maskedPaths = {"/proc/keys"};
    c.cfg.linux->readonlyPaths = {"/proc/sys"};
    c.sh("umount /proc/keys 2>&1; echo rc=$?; mount -o remount,rw /proc/sys 2>&1; echo rc=$?; "
         "echo 1 > /proc/sys/kernel/ns_last_pid 2>&1; echo rc=$?");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert(contains(r.out, "rc=1\n"), "%s", r.describe().c_str());
    cr_assert(!contains(r.out, "rc=0"), "a mount was undone: %s", r.describe().c_str());
    itest::finish();
}

Test(hardening, ptrace_capable_neighbour_cannot_write_the_waiting_init_binary) {
    // CAP_SYS_PTRACE overrides the non-dumpable guard: A may open B's init's
    // exe. It must find a read-only view, never a writable berth.
    std::string shared = itest::make_dir("shared");
    auto a = itest::container();
    for (auto* set : {&a.cfg.process->capabilities->bounding, &a.cfg.process->capabilities->effective,
                      &a.cfg.process->capabilities->permitted})
        set->push_back("CAP_SYS_PTRACE");
    a.cfg.mounts.push_back(Mount{"/shared", "bind", shared, {"rbind", "rw"}});
    a.sh("while [ ! -e /shared/go ]; do sleep 0.05; done; "
         "for d in /proc/[0-9]*; do [ \"$(cat $d/comm 2>/dev/null)\" = berth ] || continue; "
         "echo exe=$(readlink $d/exe); cat $d/exe > /dev/null && echo exe-opened; "
         "if echo pwned >> $d/exe 2>/dev/null; then echo WRITE-WENT-THROUGH; else echo write-refused; fi; done; "
         "echo scanned");
    struct stat before;
    cr_assert_eq(stat(std::getenv("BERTH"), &before), 0);
    itest::Container b;
    auto out = probe_waiting_neighbour(a, b, shared);
    cr_assert(contains(out, "exe-opened"), "with CAP_SYS_PTRACE the exe should open: %s", out.c_str());
    cr_assert(contains(out, "write-refused") && !contains(out, "WRITE-WENT-THROUGH"), "%s", out.c_str());
    struct stat after;
    cr_assert_eq(stat(std::getenv("BERTH"), &after), 0);
    cr_assert_eq(before.st_size, after.st_size, "the berth binary changed size");
    cr_assert_eq(before.st_mtim.tv_sec, after.st_mtim.tv_sec, "the berth binary was modified");
    IT_ASSERT_OK(b.del(true));
    cr_assert(a.wait_status("stopped"));
    IT_ASSERT_OK(a.del());
    itest::finish();
}

// ---- CVE-2019-5736: the runtime binary executed again inside the container ----

namespace {

// A copy of berth for the attack to aim at (a failure must not corrupt the
// build's binary); this test's berth commands run it from here on.
std::string berth_under_attack() {
    std::string copy = itest::work_dir() + "/berth";
    IT_ASSERT_OK(itest::run_cmd({"/bin/cp", std::getenv("BERTH"), copy}));
    setenv("BERTH", copy.c_str(), 1);
    return copy;
}

// c's private rootfs gets /attack (tests/integration/exe_attack.cpp) and a
// /bin/sh that makes the kernel run the runtime binary again, which then
// blocks opening `fifo` for its log (see exe_attack.cpp).
void arm(itest::Container& c, const std::string& fifo) {
    std::string root = c.copy_rootfs();
    c.cfg.root.readonly = false;   // room for the FIFO
    IT_ASSERT_OK(itest::run_cmd({"/bin/cp", std::getenv("BERTH_EXE_ATTACK"), root + "/attack"}));
    cr_assert_eq(::unlink((root + "/bin/sh").c_str()), 0);
    itest::write_file(root + "/bin/sh", "#!/proc/self/exe --log=" + fifo + "\n");
    cr_assert_eq(::chmod((root + "/bin/sh").c_str(), 0755), 0);
}

std::string attack_outcome(const itest::Container& attacker) {
    std::string out;
    for (int i = 0; i < 3000; ++i) {   // up to 30 s
        out = attacker.output();
        if (contains(out, "OVERWRITTEN") || contains(out, "write-refused") || contains(out, "no-target")) break;
        ::usleep(10000);
    }
    return out;
}

// The attack reached the binary, got nowhere, and the binary on the host is
// byte for byte what it was: running it does not run the payload.
void expect_binary_intact(const std::string& out, const std::string& copy, const std::string& marker) {
    // Cleanup must not depend on the binary under attack.
    setenv("BERTH", std::getenv("BERTH_ORIGINAL"), 1);
    cr_assert(contains(out, "exe="), "the attack never reached the runtime binary: %s", out.c_str());
    cr_assert(!contains(out, "OVERWRITTEN"), "the container overwrote the host's berth: %s", out.c_str());
    cr_assert(contains(out, "write-refused"), "%s", out.c_str());
    cr_assert(itest::read_file(copy) == itest::read_file(std::getenv("BERTH_ORIGINAL")),
              "the berth binary on the host changed");
    itest::run_cmd({copy, "--version"});
    cr_assert(!itest::exists(marker), "the payload ran on the host");
}

} // namespace

Test(hardening, exec_of_a_script_running_proc_self_exe_cannot_overwrite_berth) {
    setenv("BERTH_ORIGINAL", std::getenv("BERTH"), 1);
    std::string copy = berth_under_attack();
    std::string marker = itest::work_dir() + "/pwned";
    auto c = itest::container();
    arm(c, "/tmp/attack.fifo");
    c.cfg.process->args = {"/attack", "/tmp/attack.fifo", marker};
    IT_ASSERT_OK(c.run({"-d"}));
    cr_assert(contains(itest::wait_output(c, "waiting"), "waiting"), "%s", c.output().c_str());
    // As a user on the host would; it fails (berth re-run inside gets
    // "/bin/sh" as its command), which is not the point.
    itest::berth({"exec", c.id, "/bin/sh", "-c", "true"});
    expect_binary_intact(attack_outcome(c), copy, marker);
    cr_assert(c.wait_status("stopped"));   // the attack ends with its report
    IT_ASSERT_OK(c.del());
    itest::finish();
}

Test(hardening, init_running_a_proc_self_exe_script_cannot_overwrite_berth) {
    setenv("BERTH_ORIGINAL", std::getenv("BERTH"), 1);
    std::string copy = berth_under_attack();
    std::string marker = itest::work_dir() + "/pwned";
    std::string shared = itest::make_dir("shared");
    // A waits with the attack; B, in A's pid namespace, has the script as
    // its process, so B's init (berth until it execs) runs berth again.
    auto a = itest::container();
    a.copy_rootfs();
    IT_ASSERT_OK(itest::run_cmd({"/bin/cp", std::getenv("BERTH_EXE_ATTACK"), a.bundle + "/rootfs/attack"}));
    a.cfg.mounts.push_back(Mount{"/shared", "bind", shared, {"rbind", "rw"}});
    a.cfg.process->args = {"/attack", "/shared/fifo", marker};
    IT_ASSERT_OK(a.run({"-d"}));
    cr_assert(contains(itest::wait_output(a, "waiting"), "waiting"), "%s", a.output().c_str());
    auto b = itest::container();
    arm(b, "/shared/fifo");
    b.cfg.mounts.push_back(Mount{"/shared", "bind", shared, {"rbind", "rw"}});
    itest::join_ns(b, NsType::pid, "/proc/" + std::to_string(a.pid()) + "/ns/pid");
    b.cfg.process->args = {"/bin/sh"};
    IT_ASSERT_OK(b.run({"-d"}));
    expect_binary_intact(attack_outcome(a), copy, marker);
    cr_assert(b.wait_status("stopped"));
    IT_ASSERT_OK(b.del());
    cr_assert(a.wait_status("stopped"));
    IT_ASSERT_OK(a.del());
    itest::finish();
}
