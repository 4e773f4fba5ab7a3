// The container process: env, cwd, user, umask, rlimits, oom score,
// no_new_privs, hostname/domainname, sysctl.
#include "harness.hpp"

#include <cstdlib>

#include <sys/resource.h>

#include <sstream>

using berth::spec::Rlimit;
using itest::contains;
using itest::trim;

TestSuite(process, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

namespace {

std::string squeeze(const std::string& s) {
    std::istringstream in(s);
    std::string w, out;
    while (in >> w) out += (out.empty() ? "" : " ") + w;
    return out;
}

// The line of /proc/self/status-like text starting with `key`, squeezed.
std::string status_line(const std::string& text, const std::string& key) {
    for (auto& l : itest::lines(text))
        if (l.rfind(key, 0) == 0) return squeeze(l);
    return "";
}

} // namespace

Test(process, env) {
    auto c = itest::container();
    c.cfg.process->env.push_back("VAR=1");
    c.cfg.process->env.push_back("OTHER=with space");
    c.sh("echo \"VAR=$VAR\"; echo \"OTHER=$OTHER\"; echo \"HOME=$HOME\"");
    auto r = c.run();
    IT_ASSERT_OK(r);
    // HOME comes from the image's /etc/passwd for uid 0 when not set.
    IT_ASSERT_STR_EQ(r.out, "VAR=1\nOTHER=with space\nHOME=/root\n", r.describe());
    itest::finish();
}

Test(process, cwd) {
    auto c = itest::container();
    c.cfg.process->cwd = "/tmp";
    c.sh("pwd");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "/tmp\n", r.describe());
    itest::finish();
}

Test(process, user_uid_gid_additional_gids) {
    auto c = itest::container();
    c.cfg.process->user.uid = 1000;
    c.cfg.process->user.gid = 1001;
    c.cfg.process->user.additionalGids = {10, 20};
    c.sh("id -u; id -g; grep Groups /proc/self/status; grep '^Uid' /proc/self/status");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert_eq(l.size(), 4u, "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(l[0], "1000", r.describe());
    IT_ASSERT_STR_EQ(l[1], "1001", r.describe());
    IT_ASSERT_STR_EQ(squeeze(l[2]), "Groups: 10 20", r.describe());
    IT_ASSERT_STR_EQ(squeeze(l[3]), "Uid: 1000 1000 1000 1000", r.describe());
    itest::finish();
}

Test(process, umask) {
    auto c = itest::container();
    c.cfg.process->user.umask = 077;
    c.sh("umask");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(trim(r.out), "0077", r.describe());
    itest::finish();
}

Test(process, default_umask) {
    auto c = itest::container();
    c.sh("umask");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(trim(r.out), "0022", r.describe());
    itest::finish();
}

Test(process, rlimit_nofile) {
    auto c = itest::container();
    c.cfg.process->rlimits = {Rlimit{"RLIMIT_NOFILE", 512, 512}};
    c.sh("ulimit -n; ulimit -Hn");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "512\n512\n", r.describe());
    itest::finish();
}

Test(process, rlimit_hard_above_host_fails_clearly) {
    // Above fs.nr_open no one may raise RLIMIT_NOFILE, with or without
    // CAP_SYS_RESOURCE (which this host's root lacks, but a guest's has).
    uint64_t nr_open = std::strtoull(itest::read_file("/proc/sys/fs/nr_open").c_str(), nullptr, 10);
    if (nr_open == 0) itest::skip("cannot read /proc/sys/fs/nr_open");
    auto c = itest::container();
    uint64_t hard = nr_open + 1;
    c.cfg.process->rlimits = {Rlimit{"RLIMIT_NOFILE", 64, hard}};
    c.sh("echo should-not-run");
    auto r = c.run();
    IT_ASSERT_FAIL(r, "process.rlimits", "RLIMIT_NOFILE");
    cr_assert(!contains(r.out, "should-not-run"), "%s", r.describe().c_str());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(process, oom_score_adj) {
    auto c = itest::container();
    c.cfg.process->oomScoreAdj = 500;
    c.sh("cat /proc/self/oom_score_adj");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "500\n", r.describe());
    itest::finish();
}

Test(process, no_new_privileges) {
    auto c = itest::container();
    c.cfg.process->noNewPrivileges = true;
    c.sh("grep NoNewPrivs /proc/self/status");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(squeeze(r.out), "NoNewPrivs: 1", r.describe());
    itest::finish();
}

Test(process, new_privileges_allowed_when_false) {
    auto c = itest::container();
    c.cfg.process->noNewPrivileges = false;
    c.sh("grep NoNewPrivs /proc/self/status");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(squeeze(r.out), "NoNewPrivs: 0", r.describe());
    itest::finish();
}

Test(process, hostname_and_domainname) {
    auto c = itest::container();
    c.cfg.hostname = "itest-host";
    c.cfg.domainname = "itest.example";
    c.sh("hostname; uname -n; cat /proc/sys/kernel/domainname");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "itest-host\nitest-host\nitest.example\n", r.describe());
    itest::finish();
}

Test(process, sysctl_in_netns) {
    auto c = itest::container();
    std::string host_before = itest::read_file("/proc/sys/net/ipv4/ip_forward");
    c.cfg.linux->sysctl["net.ipv4.ip_forward"] = "1";
    c.sh("cat /proc/sys/net/ipv4/ip_forward");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "1\n", r.describe());
    IT_ASSERT_STR_EQ(itest::read_file("/proc/sys/net/ipv4/ip_forward"), host_before, "the host's value changed");
    itest::finish();
}

Test(process, args_exec_directly) {
    // Not through sh: args[0] found on PATH, arguments passed as they are.
    auto c = itest::container();
    c.cfg.process->args = {"echo", "a b", "$HOME", "*"};
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "a b $HOME *\n", r.describe());
    itest::finish();
}

Test(process, stderr_passes_through) {
    auto c = itest::container();
    c.sh("echo to-out; echo to-err >&2");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "to-out\n", r.describe());
    IT_ASSERT_STR_EQ(r.err, "to-err\n", r.describe());
    itest::finish();
}

Test(process, oom_score_adj_below_current) {
    // Lowering oom_score_adj needs CAP_SYS_RESOURCE. Where it is missing,
    // create must fail naming the field and leave nothing; where it is
    // there, the value must hold.
    auto c = itest::container();
    c.cfg.process->oomScoreAdj = -999;
    c.sh("cat /proc/self/oom_score_adj");
    auto r = c.run();
    if (r.status == 0) {
        IT_ASSERT_STR_EQ(r.out, "-999\n", r.describe());
    } else {
        IT_ASSERT_FAIL(r, "process.oomScoreAdj");
        IT_ASSERT_NO_TRACE(c.id, c.bundle);
    }
    itest::finish();
}

Test(process, capabilities_from_config) {
    // mkbundle's set: CAP_AUDIT_WRITE (29), CAP_KILL (5), CAP_NET_BIND_SERVICE (10).
    auto c = itest::container();
    c.sh("grep -E '^Cap(Bnd|Eff|Prm)' /proc/self/status; hostname other 2>&1; echo rc=$?");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert(l.size() >= 4, "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(status_line(r.out, "CapPrm"), "CapPrm: 0000000020000420", r.describe());
    IT_ASSERT_STR_EQ(status_line(r.out, "CapEff"), "CapEff: 0000000020000420", r.describe());
    IT_ASSERT_STR_EQ(status_line(r.out, "CapBnd"), "CapBnd: 0000000020000420", r.describe());
    // Without CAP_SYS_ADMIN the hostname cannot be changed.
    cr_assert(contains(r.out, "rc=1"), "%s", r.describe().c_str());
    itest::finish();
}

Test(process, ambient_capabilities_for_a_non_root_user) {
    // uid 1000 keeps exactly CAP_NET_BIND_SERVICE (10), through exec, only
    // because it is ambient (and permitted and inheritable).
    auto c = itest::container();
    c.cfg.process->user.uid = 1000;
    c.cfg.process->user.gid = 1000;
    auto& caps = *c.cfg.process->capabilities;
    caps.bounding = caps.effective = caps.permitted = caps.inheritable = caps.ambient = {"CAP_NET_BIND_SERVICE"};
    c.sh("grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status; id -u");
    auto r = c.run();
    IT_ASSERT_OK(r);
    for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
        IT_ASSERT_STR_EQ(status_line(r.out, set), std::string(set) + ": 0000000000000400", r.describe());
    cr_assert(contains(r.out, "1000\n"), "%s", r.describe().c_str());
    itest::finish();
}

Test(process, non_root_without_ambient_has_no_capabilities) {
    auto c = itest::container();
    c.cfg.process->user.uid = 1000;
    c.cfg.process->user.gid = 1000;
    auto& caps = *c.cfg.process->capabilities;
    caps.bounding = caps.effective = caps.permitted = {"CAP_NET_BIND_SERVICE"};
    caps.inheritable.clear();
    caps.ambient.clear();
    c.sh("grep -E '^Cap(Eff|Prm)' /proc/self/status");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(status_line(r.out, "CapEff"), "CapEff: 0000000000000000", r.describe());
    itest::finish();
}

// runc leaves an unknown capability out with a warning (configs written
// for newer kernels name caps older ones lack); so does berth.
Test(process, unknown_capability_is_left_out_with_a_warning) {
    auto c = itest::container();
    c.cfg.process->capabilities->effective.push_back("CAP_MAKE_COFFEE");
    c.sh("grep -E '^CapEff' /proc/self/status");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.err, "process.capabilities.effective") && contains(r.err, "CAP_MAKE_COFFEE"), "%s",
              r.describe().c_str());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

Test(process, capability_the_runtime_lacks_is_left_out_with_a_warning) {
    // Root here lacks CAP_SYS_RESOURCE (bit 24); elsewhere it has it.
    std::string status = itest::read_file("/proc/self/status");
    auto pos = status.find("CapBnd:\t");
    cr_assert(pos != std::string::npos);
    uint64_t bnd = std::strtoull(status.c_str() + pos + 8, nullptr, 16);
    if (bnd & (1ull << 24)) itest::skip("this host's root has CAP_SYS_RESOURCE");
    auto c = itest::container();
    c.cfg.process->capabilities->bounding.push_back("CAP_SYS_RESOURCE");
    c.cfg.process->capabilities->effective.push_back("CAP_SYS_RESOURCE");
    c.sh("grep CapEff /proc/self/status");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.err, "CAP_SYS_RESOURCE"), "no warning: %s", r.describe().c_str());
    IT_ASSERT_STR_EQ(status_line(r.out, "CapEff"), "CapEff: 0000000020000420", r.describe());
    itest::finish();
}
