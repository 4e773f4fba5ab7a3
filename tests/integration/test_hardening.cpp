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
    c.cfg.linux->maskedPaths = {"/proc/kcore"};
    c.cfg.linux->readonlyPaths = {"/proc/sys"};
    c.sh("umount /proc/kcore 2>&1; echo rc=$?; mount -o remount,rw /proc/sys 2>&1; echo rc=$?; "
         "echo 1 > /proc/sys/kernel/ns_last_pid 2>&1; echo rc=$?");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert(contains(r.out, "rc=1\n"), "%s", r.describe().c_str());
    cr_assert(!contains(r.out, "rc=0"), "a mount was undone: %s", r.describe().c_str());
    itest::finish();
}

Test(hardening, ptrace_capable_neighbour_finds_only_a_sealed_copy) {
    // CAP_SYS_PTRACE overrides the non-dumpable guard: A may open B's init's
    // exe. It must find an immutable memfd copy, not the berth on the host.
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
    cr_assert(contains(out, "exe=/memfd:berth"), "B's init runs the host binary: %s", out.c_str());
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
