// The cgroup v2 device filter (runtime/cgroup_device_bpf.cpp) enforced by
// the kernel: each test makes its own cgroup2 dir, attaches a program,
// moves a forked child into it and has it open /dev/null and /dev/zero and
// mknod device nodes in a temp dir, reporting each errno through a pipe.
//
// Standalone (no itest harness, no containers): needs root and a cgroup2
// mount (/sys/fs/cgroup/unified on a hybrid host, /sys/fs/cgroup on a pure
// v2 one), else the root tests skip. Criterion aborts a failed test with
// longjmp, so everything a test makes is recorded in Made and removed by
// the suite's .fini; a passing test calls finish(), which also checks it.
#include <criterion/criterion.h>

#include "cgroup_device_bpf.hpp"
#include "error.hpp"

#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using berth::Error;
using berth::UniqueFd;
using berth::spec::DeviceCgroup;

namespace {

// What this test process made (Criterion runs each test in its own process).
struct Made {
    std::vector<pid_t> children;
    std::vector<std::string> cgroups;
    std::vector<std::string> nodes;   // device nodes, then their temp dirs
    std::vector<std::string> dirs;
    int next = 0;
};
Made made;

void remove_all() {
    for (pid_t pid : made.children) {
        kill(pid, SIGKILL);
        while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {}
    }
    made.children.clear();
    for (const auto& n : made.nodes) unlink(n.c_str());
    made.nodes.clear();
    for (auto it = made.dirs.rbegin(); it != made.dirs.rend(); ++it) rmdir(it->c_str());
    made.dirs.clear();
    for (auto it = made.cgroups.rbegin(); it != made.cgroups.rend(); ++it) {
        // A cgroup whose last task was just reaped can be busy a moment.
        for (int i = 0; i < 200 && rmdir(it->c_str()) < 0 && errno == EBUSY; ++i) usleep(5000);
    }
}

// Passing tests end here: clean up and check nothing is left.
void finish() {
    std::vector<std::string> paths = made.cgroups;
    paths.insert(paths.end(), made.dirs.begin(), made.dirs.end());
    remove_all();
    struct stat st;
    for (const auto& p : paths) cr_expect(stat(p.c_str(), &st) < 0 && errno == ENOENT, "%s left behind", p.c_str());
}

// The cgroup2 mount: /sys/fs/cgroup/unified (hybrid) or /sys/fs/cgroup
// (pure v2), else the first one in mountinfo; empty when there is none.
std::string cgroup2_mount() {
    std::ifstream in("/proc/self/mountinfo");
    std::string line, first;
    while (std::getline(in, line)) {
        auto dash = line.find(" - ");
        if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
        std::istringstream f(line.substr(0, dash));
        std::string id, parent, devno, root, mnt;
        f >> id >> parent >> devno >> root >> mnt;
        if (root != "/") continue;   // a bind of a subtree (a container's view)
        if (mnt == "/sys/fs/cgroup/unified" || mnt == "/sys/fs/cgroup") return mnt;
        if (first.empty()) first = mnt;
    }
    return first;
}

std::string need_root_cgroup2() {
    if (geteuid() != 0) cr_skip_test("needs root (BPF programs and cgroups)");
    std::string m = cgroup2_mount();
    if (m.empty()) cr_skip_test("no cgroup2 mount");
    return m;
}

struct Cgroup {
    std::string path;
    int fd = -1;   // closed by process exit (longjmp skips destructors)
};

Cgroup make_cgroup() {
    std::string root = need_root_cgroup2();
    Cgroup c;
    c.path = root + "/berth-bpftest-" + std::to_string(getpid()) + "-" + std::to_string(made.next++);
    cr_assert(mkdir(c.path.c_str(), 0755) == 0, "mkdir %s: %s", c.path.c_str(), strerror(errno));
    made.cgroups.push_back(c.path);
    c.fd = open(c.path.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    cr_assert(c.fd >= 0, "open %s: %s", c.path.c_str(), strerror(errno));
    return c;
}

std::string temp_dir() {
    char tmpl[] = "/tmp/berth-bpftest-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
    made.dirs.push_back(tmpl);
    return tmpl;
}

DeviceCgroup rule(bool allow, std::string type, std::optional<int64_t> major, std::optional<int64_t> minor,
                  std::string access) {
    DeviceCgroup d;
    d.allow = allow;
    d.type = std::move(type);
    d.major = major;
    d.minor = minor;
    d.access = std::move(access);
    return d;
}
DeviceCgroup allow(std::string t, std::optional<int64_t> ma, std::optional<int64_t> mi, std::string a) {
    return rule(true, std::move(t), ma, mi, std::move(a));
}
DeviceCgroup deny(std::string t, std::optional<int64_t> ma, std::optional<int64_t> mi, std::string a) {
    return rule(false, std::move(t), ma, mi, std::move(a));
}
const auto any = std::nullopt;

// Load and attach; the prog fd is closed at once (the attachment holds the
// program). Returns the program's id.
uint32_t attach(const Cgroup& cg, const std::vector<DeviceCgroup>& rules) {
    try {
        UniqueFd prog = berth::load_device_program(berth::device_program(rules));
        berth::attach_device_program(cg.fd, prog.get());
        bpf_prog_info info{};
        union bpf_attr a{};
        a.info.bpf_fd = prog.get();
        a.info.info_len = sizeof(info);
        a.info.info = reinterpret_cast<uintptr_t>(&info);
        cr_assert(syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) == 0, "prog info: %s", strerror(errno));
        return info.id;
    } catch (const Error& e) {
        cr_assert_fail("attach device program: %s", e.what());
    }
    return 0;
}

std::vector<uint32_t> attached_ids(const Cgroup& cg) {
    std::vector<uint32_t> ids(64);
    union bpf_attr a{};
    a.query.target_fd = cg.fd;
    a.query.attach_type = BPF_CGROUP_DEVICE;
    a.query.prog_ids = reinterpret_cast<uintptr_t>(ids.data());
    a.query.prog_cnt = ids.size();
    cr_assert(syscall(SYS_bpf, BPF_PROG_QUERY, &a, sizeof(a)) == 0, "BPF_PROG_QUERY: %s", strerror(errno));
    ids.resize(a.query.prog_cnt);
    return ids;
}

// One thing the child tries.
struct Op {
    const char* what;           // for messages
    std::string path;           // opened, or made by mknod
    int flags = 0;              // open flags
    mode_t mknod_type = 0;      // S_IFCHR / S_IFBLK: mknod instead of open
    dev_t dev = 0;
};
Op rd(const char* dev) { return {dev, dev, O_RDONLY}; }
Op wr(const char* dev) { return {dev, dev, O_WRONLY}; }
Op rdwr(const char* dev) { return {dev, dev, O_RDWR}; }
Op mk(const std::string& dir, char type, unsigned major, unsigned minor) {
    static int n = 0;
    Op o;
    o.what = type == 'b' ? "mknod b" : "mknod c";
    o.path = dir + "/node" + std::to_string(n++);
    o.mknod_type = type == 'b' ? S_IFBLK : S_IFCHR;
    o.dev = makedev(major, minor);
    made.nodes.push_back(o.path);
    return o;
}

// Fork a child, move it into cg, run ops there; the errno of each (0: ok).
std::vector<int> probe(const Cgroup& cg, const std::vector<Op>& ops) {
    int go[2], res[2];
    cr_assert(pipe2(go, O_CLOEXEC) == 0 && pipe2(res, O_CLOEXEC) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        // Only async-signal-safe calls from here: the parent may have threads.
        close(go[1]);
        close(res[0]);
        char c;
        if (read(go[0], &c, 1) != 1) _exit(2);
        for (const Op& o : ops) {
            int e = 0;
            if (o.mknod_type) {
                if (mknod(o.path.c_str(), o.mknod_type | 0600, o.dev) == 0) unlink(o.path.c_str());
                else e = errno;
            } else {
                int fd = open(o.path.c_str(), o.flags | O_CLOEXEC);
                if (fd >= 0) close(fd);
                else e = errno;
            }
            if (write(res[1], &e, sizeof(e)) != sizeof(e)) _exit(3);
        }
        _exit(0);
    }
    made.children.push_back(pid);
    close(go[0]);
    close(res[1]);

    std::string procs = cg.path + "/cgroup.procs";
    std::string p = std::to_string(pid);
    int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    cr_assert(fd >= 0, "open %s: %s", procs.c_str(), strerror(errno));
    cr_assert(write(fd, p.data(), p.size()) == static_cast<ssize_t>(p.size()), "move child into %s: %s",
              cg.path.c_str(), strerror(errno));
    close(fd);
    // The child must really be there (its cgroup2 line is "0::/PATH").
    std::ifstream in("/proc/" + p + "/cgroup");
    std::string line, where;
    while (std::getline(in, line))
        if (line.rfind("0::", 0) == 0) where = line.substr(3);
    std::string name = cg.path.substr(cg.path.rfind('/'));
    cr_assert(where.size() >= name.size() && where.compare(where.size() - name.size(), name.size(), name) == 0,
              "child is in %s, not %s", where.c_str(), cg.path.c_str());

    cr_assert(write(go[1], "x", 1) == 1);
    close(go[1]);
    std::vector<int> out;
    for (size_t i = 0; i < ops.size(); ++i) {
        int e;
        cr_assert(read(res[0], &e, sizeof(e)) == sizeof(e), "child died after %zu ops", i);
        out.push_back(e);
    }
    close(res[0]);
    int status;
    cr_assert(waitpid(pid, &status, 0) == pid);
    made.children.pop_back();
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    return out;
}

// Expect each op to end with the given errno (0: allowed).
void expect(const Cgroup& cg, const std::vector<std::pair<Op, int>>& cases, const char* label) {
    std::vector<Op> ops;
    for (const auto& c : cases) ops.push_back(c.first);
    std::vector<int> got = probe(cg, ops);
    for (size_t i = 0; i < cases.size(); ++i) {
        const Op& o = cases[i].first;
        std::string how = o.mknod_type ? std::to_string(major(o.dev)) + ":" + std::to_string(minor(o.dev))
                                       : (o.flags == O_RDONLY ? "r" : o.flags == O_WRONLY ? "w" : "rw");
        cr_expect_eq(got[i], cases[i].second, "%s: %s %s: got %s, want %s", label, o.what, how.c_str(),
                     got[i] ? strerror(got[i]) : "ok", cases[i].second ? strerror(cases[i].second) : "ok");
    }
}

} // namespace

TestSuite(device_bpf, .fini = remove_all, .timeout = 60);

// --- the program itself (no root) ---

Test(device_bpf, program_shape) {
    constexpr size_t prologue = 7;
    auto empty = berth::device_program({});
    cr_assert_eq(empty.size(), prologue + 2, "empty: %zu insns", empty.size());
    cr_expect_eq(empty.back().code, BPF_JMP | BPF_EXIT);
    cr_expect_eq(empty[empty.size() - 2].imm, 0, "default is deny");

    auto all = berth::device_program({allow("a", any, any, "rwm")});
    cr_assert_eq(all.size(), prologue + 2);
    cr_expect_eq(all[all.size() - 2].imm, 1, "allow all returns 1");

    // A later allow-all shadows everything before it: nothing else emitted.
    auto shadowed = berth::device_program({deny("c", 1, 3, "rw"), allow("c", 1, 5, "r"), allow("", any, any, "")});
    cr_expect_eq(shadowed.size(), prologue + 2);

    // A deny-all ends the walk: earlier rules are not emitted.
    auto cut = berth::device_program({allow("c", 1, 3, "rw"), deny("a", any, any, "rwm"), allow("c", 1, 5, "rwm")});
    // c 1:5 rwm: type, major, minor checks (jeq + ja each), mov/exit.
    cr_expect_eq(cut.size(), prologue + 3 * 2 + 2 + 2, "got %zu", cut.size());

    // Every jump lands inside the program.
    auto mixed = berth::device_program({deny("a", any, any, "rwm"), allow("c", 1, 3, "rw"), allow("b", 8, any, "r"),
                                        deny("c", 1, 3, "w"), allow("c", any, any, "m"), deny("b", any, 0, "rwm")});
    for (size_t i = 0; i < mixed.size(); ++i) {
        const auto& in = mixed[i];
        if (BPF_CLASS(in.code) == BPF_JMP && BPF_OP(in.code) != BPF_EXIT) {
            cr_expect(in.off > 0 && i + 1 + in.off < mixed.size(), "insn %zu jumps to %zu", i, i + 1 + in.off);
        }
    }
    cr_expect_eq(mixed.back().code, BPF_JMP | BPF_EXIT);
}

Test(device_bpf, bad_rules) {
    auto code = [](std::vector<DeviceCgroup> rules) {
        try {
            berth::device_program(rules);
        } catch (const Error& e) {
            return e.err();
        }
        return 0;
    };
    cr_expect_eq(code({allow("x", any, any, "rwm")}), EINVAL);
    cr_expect_eq(code({allow("c", any, any, "rwx")}), EINVAL);
    cr_expect_eq(code({allow("c", -2, any, "r")}), EINVAL);
    cr_expect_eq(code({allow("c", 1, int64_t(1) << 32, "r")}), EINVAL);
    cr_expect_eq(code({allow("c", -1, -1, "r")}), 0, "-1 is a wildcard, as in runc");
}

// --- enforced by the kernel (root) ---

Test(device_bpf, verifier_log_in_error) {
    need_root_cgroup2();
    // No exit instruction: the verifier rejects it and says why.
    std::vector<bpf_insn> bad(1);
    bad[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
    try {
        berth::load_device_program(bad);
        cr_assert_fail("loaded a program without exit");
    } catch (const Error& e) {
        cr_expect_eq(e.err(), EINVAL, "%s", e.what());
        cr_expect(std::string(e.what()).find("verifier:") != std::string::npos, "no verifier log: %s", e.what());
    }
}

Test(device_bpf, deny_all) {
    auto cg = make_cgroup();
    attach(cg, {deny("a", any, any, "rwm")});
    auto dir = temp_dir();
    expect(cg, {{rd("/dev/null"), EPERM}, {wr("/dev/null"), EPERM}, {mk(dir, 'c', 1, 3), EPERM}}, "deny a");

    auto cg2 = make_cgroup();
    attach(cg2, {});   // no rules: deny by default
    expect(cg2, {{rd("/dev/null"), EPERM}, {rd("/dev/zero"), EPERM}}, "no rules");
    finish();
}

Test(device_bpf, allow_one_device_rw) {
    auto cg = make_cgroup();
    attach(cg, {deny("a", any, any, "rwm"), allow("c", 1, 3, "rw")});
    auto dir = temp_dir();
    expect(cg,
           {{rd("/dev/null"), 0},
            {wr("/dev/null"), 0},
            {rdwr("/dev/null"), 0},
            {rd("/dev/zero"), EPERM},
            {mk(dir, 'c', 1, 3), EPERM}},
           "allow c 1:3 rw");
    finish();
}

Test(device_bpf, allow_mknod_wildcard) {
    auto cg = make_cgroup();
    attach(cg, {deny("a", any, any, "rwm"), allow("c", any, any, "m")});
    auto dir = temp_dir();
    expect(cg,
           {{mk(dir, 'c', 1, 3), 0},
            {mk(dir, 'c', 10, 200), 0},
            {mk(dir, 'b', 7, 0), EPERM},
            {rd("/dev/null"), EPERM}},
           "allow c *:* m");
    finish();
}

Test(device_bpf, last_match_wins) {
    auto cg = make_cgroup();
    attach(cg, {allow("a", any, any, "rwm"), deny("c", 1, 3, "rwm")});
    expect(cg, {{rd("/dev/null"), EPERM}, {wr("/dev/null"), EPERM}, {rd("/dev/zero"), 0}, {wr("/dev/zero"), 0}},
           "allow a, deny c 1:3");

    auto cg2 = make_cgroup();
    attach(cg2, {deny("c", 1, 3, "rwm"), allow("a", any, any, "rwm")});
    expect(cg2, {{rd("/dev/null"), 0}, {rd("/dev/zero"), 0}}, "deny c 1:3, allow a");

    auto cg3 = make_cgroup();
    attach(cg3, {deny("a", any, any, "rwm"), allow("c", 1, any, "rw"), deny("c", 1, 5, "rw")});
    expect(cg3, {{rd("/dev/null"), 0}, {rd("/dev/zero"), EPERM}}, "allow c 1:*, deny c 1:5");
    finish();
}

Test(device_bpf, type_a_matches_char_and_block) {
    auto cg = make_cgroup();
    attach(cg, {deny("a", any, any, "rwm"), allow("a", any, any, "m")});
    auto dir = temp_dir();
    expect(cg, {{mk(dir, 'c', 1, 3), 0}, {mk(dir, 'b', 7, 0), 0}, {rd("/dev/null"), EPERM}}, "allow a *:* m");

    // Empty type is "a"; major and minor still apply.
    auto cg2 = make_cgroup();
    attach(cg2, {deny("", any, any, "rwm"), allow("", 1, 3, "r")});
    expect(cg2, {{rd("/dev/null"), 0}, {wr("/dev/null"), EPERM}, {rd("/dev/zero"), EPERM}}, "allow \"\" 1:3 r");
    finish();
}

// Last match wins per access bit, as runc's emulator: grants add up, and a
// deny of one bit fails a request that needs it.
Test(device_bpf, per_access_bit) {
    auto cg = make_cgroup();
    attach(cg, {deny("a", any, any, "rwm"), allow("c", 1, 3, "r"), allow("c", 1, 3, "w")});
    expect(cg, {{rdwr("/dev/null"), 0}}, "allow r then w");

    auto cg2 = make_cgroup();
    attach(cg2, {allow("a", any, any, "rwm"), deny("c", 1, 3, "w")});
    expect(cg2, {{rd("/dev/null"), 0}, {wr("/dev/null"), EPERM}, {rdwr("/dev/null"), EPERM}, {wr("/dev/zero"), 0}},
           "allow a, deny c 1:3 w");

    auto cg3 = make_cgroup();
    attach(cg3, {allow("a", any, any, "rwm"), deny("c", 1, 3, "w"), allow("c", 1, any, "w")});
    expect(cg3, {{rdwr("/dev/null"), 0}}, "deny w, then allow c 1:* w");
    finish();
}

// `update`: a second attach replaces the first program, leaving one.
Test(device_bpf, replace_attached_program) {
    auto cg = make_cgroup();
    uint32_t first = attach(cg, {deny("a", any, any, "rwm")});
    expect(cg, {{rd("/dev/null"), EPERM}}, "first program");
    auto ids = attached_ids(cg);
    cr_assert_eq(ids.size(), 1u);
    cr_expect_eq(ids[0], first);

    uint32_t second = attach(cg, {deny("a", any, any, "rwm"), allow("c", 1, 3, "rw")});
    expect(cg, {{rd("/dev/null"), 0}, {wr("/dev/null"), 0}, {rd("/dev/zero"), EPERM}}, "second program");
    ids = attached_ids(cg);
    cr_assert_eq(ids.size(), 1u, "%zu programs attached", ids.size());
    cr_expect_eq(ids[0], second);
    cr_expect_neq(first, second);

    uint32_t third = attach(cg, {allow("a", any, any, "rwm"), deny("c", 1, 3, "rwm")});
    expect(cg, {{rd("/dev/null"), EPERM}, {rd("/dev/zero"), 0}}, "third program");
    ids = attached_ids(cg);
    cr_assert_eq(ids.size(), 1u, "%zu programs attached", ids.size());
    cr_expect_eq(ids[0], third);

    // Attaching the program that is already there is a no-op, not EEXIST.
    UniqueFd prog = berth::load_device_program(berth::device_program({deny("a", any, any, "rwm")}));
    berth::attach_device_program(cg.fd, prog.get());
    berth::attach_device_program(cg.fd, prog.get());
    cr_expect_eq(attached_ids(cg).size(), 1u);
    expect(cg, {{rd("/dev/zero"), EPERM}}, "fourth program");
    finish();
}

// Many rules still load. The verifier's work must stay linear in the rule
// count: with "if (x != v) goto next_rule" checks it was quadratic and 1800
// rules went past its 1M-instruction limit (E2BIG).
Test(device_bpf, many_rules_load) {
    auto cg = make_cgroup();
    std::vector<DeviceCgroup> rules = {deny("a", any, any, "rwm")};
    for (int i = 0; i < 600; ++i) {
        rules.push_back(allow(i % 2 ? "c" : "b", 200 + i, i, i % 3 ? "r" : "w"));
        rules.push_back(deny("c", 200 + i, any, "m"));
        rules.push_back(allow("c", 1000 + i, i, "rwm"));
    }
    rules.push_back(allow("c", 1, 3, "rw"));
    attach(cg, rules);
    expect(cg, {{rd("/dev/null"), 0}, {rd("/dev/zero"), EPERM}}, "1800 rules");
    finish();
}
