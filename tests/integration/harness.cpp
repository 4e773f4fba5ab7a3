// The integration harness: see harness.hpp.
#include "harness.hpp"

#include <criterion/hooks.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

extern char** environ;

namespace itest {

namespace {

constexpr const char* kSkipEnv = "BERTH_ITEST_SKIP";   // set by main(): why every test skips
constexpr const char* kBaseEnv = "BERTH_ITEST_BASE";   // set by main(): dir with rootfs/ and config.json
constexpr const char* kTagEnv = "BERTH_ITEST_TAG";

// Per-worker state: each Criterion test runs in its own process.
struct Harness {
    bool active = false;
    pid_t pid = 0;
    std::string root;   // --root
    std::string work;   // bundles and scratch
    std::string tag;
    int counter = 0;
    std::vector<std::string> ids;
    std::vector<std::string> host_mounts;
    std::vector<std::string> removals;
    std::string base_config;   // mkbundle's config.json text
};
Harness g;

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

std::string strerr(int e) { return std::strerror(e); }

std::string read_fd(int fd) {
    std::string s;
    char buf[8192];
    off_t off = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        s.append(buf, static_cast<size_t>(n));
        off += n;
    }
    return s;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
    return s;
}

std::string quote_cmd(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv) {
        if (!s.empty()) s += ' ';
        if (a.find_first_of(" '\"\\$;&|<>()") == std::string::npos && !a.empty()) s += a;
        else {
            s += '\'';
            for (char c : a) s += c == '\'' ? std::string("'\\''") : std::string(1, c);
            s += '\'';
        }
    }
    return s;
}

std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> out;
    DIR* d = ::opendir(path.c_str());
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

bool is_dir_nofollow(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Cgroup hierarchy roots under /sys/fs/cgroup (real dirs only: co-mounted
// controllers appear once more as symlinks).
std::vector<std::string> cgroup_hierarchies() {
    std::vector<std::string> out;
    for (const auto& n : list_dir("/sys/fs/cgroup")) {
        std::string p = "/sys/fs/cgroup/" + n;
        if (is_dir_nofollow(p)) out.push_back(p);
    }
    // A pure cgroup v2 host: the root itself is the hierarchy.
    if (exists("/sys/fs/cgroup/cgroup.controllers")) out = {"/sys/fs/cgroup"};
    return out;
}

// Subdirectories below `dir`, deepest first.
void subdirs_post_order(const std::string& dir, std::vector<std::string>& out) {
    for (const auto& n : list_dir(dir)) {
        std::string p = dir + "/" + n;
        if (!is_dir_nofollow(p)) continue;
        subdirs_post_order(p, out);
        out.push_back(p);
    }
}

bool rmdir_retry(const std::string& d) {
    for (int i = 0; i < 100; ++i) {
        if (::rmdir(d.c_str()) == 0 || errno == ENOENT) return true;
        if (errno != EBUSY) return false;
        ::usleep(10000);
    }
    return false;
}

// The mount point (field 5) of a mountinfo line, unescaped.
std::string mountinfo_target(const std::string& line) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mnt;
    f >> id >> parent >> dev >> root >> mnt;
    std::string out;
    for (size_t i = 0; i < mnt.size(); ++i) {
        if (mnt[i] == '\\' && i + 3 < mnt.size()) {
            out += static_cast<char>(std::stoi(mnt.substr(i + 1, 3), nullptr, 8));
            i += 3;
        } else {
            out += mnt[i];
        }
    }
    return out;
}

bool poll_until(const std::function<bool()>& ok, int timeout_ms) {
    for (int waited = 0;; waited += 20) {
        if (ok()) return true;
        if (waited >= timeout_ms) return false;
        ::usleep(20000);
    }
}

// Undo everything this test made. Returns what was left behind by berth.
std::vector<std::string> cleanup() {
    std::vector<std::string> problems;
    if (!g.active) return problems;
    g.active = false;   // a failure below must not re-run this from .fini

    for (const auto& id : g.ids) {
        auto r = berth({"delete", "--force", id});
        if (r.status != 0) problems.push_back("delete --force " + id + " failed:\n" + r.describe());
    }

    // Processes of this test's containers (delete --force should have killed them).
    if (!poll_until([] { return tagged_pids().empty(); }, 3000)) {
        auto left = tagged_pids();
        std::string s;
        for (pid_t p : left) {
            std::string comm = trim(read_file("/proc/" + std::to_string(p) + "/comm"));
            s += " " + std::to_string(p) + "(" + comm + ")";
            ::kill(p, SIGKILL);
        }
        problems.push_back("processes left running after delete --force:" + s);
        poll_until([] { return tagged_pids().empty(); }, 3000);
    }

    for (auto it = g.host_mounts.rbegin(); it != g.host_mounts.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
    g.host_mounts.clear();

    // Mounts left on the host that mention our dirs: report, then undo.
    std::vector<std::string> needles = {g.work, g.root, shared_rootfs()};
    for (const auto& n : needles) {
        if (n.empty()) continue;
        auto left = mounts_mentioning(n);
        if (left.empty()) continue;
        problems.push_back("host mounts mention " + n + ":\n  " + join(left, "\n  "));
        std::vector<std::string> targets;
        for (const auto& l : left) targets.push_back(mountinfo_target(l));
        std::sort(targets.begin(), targets.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
        for (const auto& t : targets) ::umount2(t.c_str(), MNT_DETACH);
    }

    // Cgroups: berth removes each container's dir; the shared parent
    // /berth-itest-<pid> may stay (a later container did not create it).
    for (const auto& h : cgroup_hierarchies()) {
        std::string parent = h + cgroup_parent();
        if (!is_dir_nofollow(parent)) continue;
        std::vector<std::string> subs;
        subdirs_post_order(parent, subs);
        for (const auto& d : subs) {
            problems.push_back("cgroup dir left: " + d);
            if (!rmdir_retry(d)) problems.push_back("cannot remove " + d + ": " + strerr(errno));
        }
        if (!rmdir_retry(parent)) problems.push_back("cannot remove " + parent + ": " + strerr(errno));
    }

    auto entries = list_dir(g.root);
    if (!entries.empty()) problems.push_back("state root " + g.root + " still holds: " + join(entries, " "));
    rm_rf(g.root);
    for (const auto& p : g.removals) rm_rf(p);
    rm_rf(g.work);
    if (exists(g.work)) problems.push_back("cannot remove work dir " + g.work);
    return problems;
}

void fail_setup(const std::string& why) {
    std::fprintf(stderr, "integration harness: %s\n", why.c_str());
    cr_assert_fail("integration harness: %s", why.c_str());
}

} // namespace

// rm -rf that never crosses into another mount (a leftover mount is reported,
// not emptied) and never follows symlinks.
static int rm_entry(const char* path, const struct stat*, int flag, struct FTW*) {
    if (flag == FTW_DP) ::rmdir(path);
    else ::unlink(path);
    return 0;
}
void rm_rf(const std::string& path) {
    if (path.empty() || path == "/") return;
    ::nftw(path.c_str(), rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

std::string make_temp_dir(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) return "";
    std::string dir = buf.data();
    // World-readable: a user namespace's root (an unprivileged host uid)
    // must be able to walk to the rootfs.
    ::chmod(dir.c_str(), 0755);
    return dir;
}

// ---- results -------------------------------------------------------------

std::string Result::describe() const {
    std::string s = "$ " + cmd + "\n";
    s += timed_out ? "TIMED OUT (killed)\n" : "exit status " + std::to_string(status) + "\n";
    s += "stdout: [" + out + "]\nstderr: [" + err + "]";
    return s;
}

std::string check_ok(const Result& r) {
    if (r.status == 0 && !r.timed_out) return "";
    return "expected success:\n" + r.describe();
}

std::string check_fail(const Result& r, const std::vector<std::string>& needles) {
    if (r.timed_out) return "expected a clean failure, but it timed out:\n" + r.describe();
    if (r.status == 0) return "expected failure, got success:\n" + r.describe();
    // 128+N for signal N (N < 65); 255 is exec's "could not start" (runc's).
    if (r.status > 128 && r.status < 128 + 65) return "expected an error exit, got a signal death:\n" + r.describe();
    for (const auto& n : needles)
        if (!contains(r.err, n)) return "stderr does not mention \"" + n + "\":\n" + r.describe();
    return "";
}

// ---- processes -------------------------------------------------------------

Child spawn(const std::vector<std::string>& argv, const SpawnOpts& o) {
    Child c;
    c.cmd = quote_cmd(argv);
    c.timeout_ms = o.timeout_ms;
    int out = o.stdout_path.empty()
                  ? ::memfd_create("itest-out", MFD_CLOEXEC)
                  : ::open(o.stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int err = ::memfd_create("itest-err", MFD_CLOEXEC);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || err < 0 || devnull < 0) {
        cr_log_error("spawn %s: cannot open stdio: %s", c.cmd.c_str(), std::strerror(errno));
        return c;
    }
    // Everything the child needs is built before fork.
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::string tag_kv = std::string(kTagEnv) + "=" + g.tag;
    std::vector<char*> envp;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "BERTH_ITEST_TAG=", 16) != 0) envp.push_back(*e);
    if (!g.tag.empty()) envp.push_back(tag_kv.data());
    envp.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(devnull, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        // A clean slate of signals: containers inherit ignored signals and the mask.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int s = 1; s < NSIG; ++s) ::signal(s, SIG_DFL);
        ::execve(args[0], args.data(), envp.data());
        _exit(127);
    }
    ::close(devnull);
    if (pid < 0) {
        cr_log_error("fork: %s", std::strerror(errno));
        ::close(out);
        ::close(err);
        return c;
    }
    c.pid = pid;
    if (o.stdout_path.empty()) c.out_fd = out;
    else ::close(out);
    c.err_fd = err;
    return c;
}

Result wait(Child& c) {
    Result r;
    r.cmd = c.cmd;
    if (c.pid <= 0) {
        r.err = "(could not start)";
        return r;
    }
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, c.pid, 0));
    if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        int n;
        do n = ::poll(&p, 1, c.timeout_ms);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            r.timed_out = true;
            ::kill(c.pid, SIGKILL);
        }
        ::close(pidfd);
    }
    int st = 0;
    while (::waitpid(c.pid, &st, 0) < 0 && errno == EINTR) {
    }
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (c.out_fd >= 0) {
        r.out = read_fd(c.out_fd);
        ::close(c.out_fd);
    }
    if (c.err_fd >= 0) {
        r.err = read_fd(c.err_fd);
        ::close(c.err_fd);
    }
    c.pid = -1;
    c.out_fd = c.err_fd = -1;
    return r;
}

Result run_cmd(const std::vector<std::string>& argv, const SpawnOpts& o) {
    Child c = spawn(argv, o);
    return wait(c);
}

static std::vector<std::string> berth_argv(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {env_or_empty("BERTH"), "--root", g.root};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

Result berth(const std::vector<std::string>& args, const SpawnOpts& o) { return run_cmd(berth_argv(args), o); }
Child berth_spawn(const std::vector<std::string>& args, const SpawnOpts& o) { return spawn(berth_argv(args), o); }

// ---- containers -------------------------------------------------------------

Container& Container::sh(const std::string& script) {
    cfg.process->args = {"sh", "-c", script};
    return *this;
}

std::string Container::copy_rootfs() {
    std::string dst = bundle + "/rootfs";
    auto r = run_cmd({"/bin/cp", "-a", shared_rootfs(), dst});
    cr_assert(r.status == 0, "copy rootfs:\n%s", r.describe().c_str());
    cfg.root.path = dst;
    return dst;
}

std::string Container::config_json() const { return berth::spec::to_json(cfg); }

void Container::write_config() const { write_config_text(config_json()); }

void Container::write_config_text(const std::string& text) const { write_file(bundle + "/config.json", text); }

Result Container::run(const std::vector<std::string>& extra) const {
    write_config();
    std::vector<std::string> a = {"run"};
    a.insert(a.end(), extra.begin(), extra.end());
    a.insert(a.end(), {"--bundle", bundle, id});
    SpawnOpts o;
    // Detached: the container keeps berth's stdout; don't wait on it.
    if (std::find(extra.begin(), extra.end(), "-d") != extra.end() ||
        std::find(extra.begin(), extra.end(), "--detach") != extra.end())
        o.stdout_path = out_path;
    return berth(a, o);
}

Result Container::create(const std::string& pid_file) const {
    write_config();
    std::vector<std::string> a = {"create", "--bundle", bundle};
    if (!pid_file.empty()) a.insert(a.end(), {"--pid-file", pid_file});
    a.push_back(id);
    SpawnOpts o;
    o.stdout_path = out_path;
    return berth(a, o);
}

Result Container::start() const { return berth({"start", id}); }
Result Container::kill(const std::string& sig) const { return berth({"kill", id, sig}); }
Result Container::del(bool force) const {
    return force ? berth({"delete", "--force", id}) : berth({"delete", id});
}
Result Container::state() const { return berth({"state", id}); }

std::string Container::status() const {
    auto r = state();
    return r.status == 0 ? json_field(r.out, "status") : "";
}

bool Container::wait_status(const std::string& want, int timeout_ms) const {
    return poll_until([&] { return status() == want; }, timeout_ms);
}

pid_t Container::pid() const {
    auto r = state();
    if (r.status != 0) return 0;
    auto v = json_field(r.out, "pid");
    return v.empty() ? 0 : static_cast<pid_t>(std::stol(v));
}

std::string Container::output() const { return exists(out_path) ? read_file(out_path) : ""; }

// ---- fixture -----------------------------------------------------------------

void setup() {
    std::string skip = env_or_empty(kSkipEnv);
    if (!skip.empty()) cr_skip_test("%s", skip.c_str());
    if (env_or_empty(kBaseEnv).empty()) fail_setup("no rootfs: run through the test binary's main()");
    g = Harness{};
    g.pid = ::getpid();
    g.base_config = read_file(env_or_empty(kBaseEnv) + "/config.json");
    g.root = make_temp_dir("berth-itest-state-");
    g.work = make_temp_dir("berth-itest-work-");
    if (g.root.empty() || g.work.empty()) fail_setup("mkdtemp under /tmp: " + strerr(errno));
    g.tag = g.work.substr(g.work.rfind('/') + 1);
    g.active = true;
}

void teardown() {
    auto problems = cleanup();
    for (const auto& p : problems) std::fprintf(stderr, "teardown: %s\n", p.c_str());
}

void finish() {
    auto problems = cleanup();
    cr_assert(problems.empty(), "left behind:\n%s", join(problems, "\n").c_str());
}

void skip(const std::string& reason) {
    teardown();
    cr_skip_test("%s", reason.c_str());
    std::abort();   // not reached: cr_skip_test does not return
}

std::string new_id() {
    std::string id = "it" + std::to_string(g.pid) + "-" + std::to_string(++g.counter);
    g.ids.push_back(id);
    return id;
}

Container container() {
    Container c;
    c.id = new_id();
    c.bundle = g.work + "/" + c.id;
    if (::mkdir(c.bundle.c_str(), 0755) < 0) fail_setup("mkdir " + c.bundle + ": " + strerr(errno));
    c.out_path = c.bundle + "/out.txt";
    try {
        c.cfg = berth::spec::parse_config(g.base_config, "mkbundle config.json");
    } catch (const std::exception& e) {
        fail_setup(std::string("parse mkbundle's config.json: ") + e.what());
    }
    c.cfg.root.path = shared_rootfs();
    if (!c.cfg.linux) c.cfg.linux.emplace();
    c.cfg.linux->cgroupsPath = cgroup_parent() + "/" + c.id;
    c.cfg.process->env.push_back(std::string(kTagEnv) + "=" + g.tag);
    return c;
}

std::string work_dir() { return g.work; }

std::string make_dir(const std::string& name) {
    std::string p = g.work + "/" + name;
    if (::mkdir(p.c_str(), 0755) < 0 && errno != EEXIST) fail_setup("mkdir " + p + ": " + strerr(errno));
    return p;
}

std::string state_root() { return g.root; }
std::string tag() { return g.tag; }

const std::string& shared_rootfs() {
    static const std::string path = env_or_empty(kBaseEnv).empty() ? "" : env_or_empty(kBaseEnv) + "/rootfs";
    return path;
}

std::string cgroup_parent() { return "/berth-itest-" + std::to_string(g.pid); }

void host_mount(const std::string& src, const std::string& target, const std::string& type, unsigned long flags,
                const std::string& data) {
    if (::mount(src.c_str(), target.c_str(), type.empty() ? nullptr : type.c_str(), flags,
                data.empty() ? nullptr : data.c_str()) < 0)
        fail_setup("mount " + src + " on " + target + ": " + strerr(errno));
    g.host_mounts.push_back(target);
}

void remove_later(const std::string& path) { g.removals.push_back(path); }

// ---- observations ----------------------------------------------------------

std::vector<pid_t> tagged_pids() {
    std::vector<pid_t> out;
    if (g.tag.empty()) return out;
    std::string needle = std::string(kTagEnv) + "=" + g.tag;
    pid_t self = ::getpid();
    for (const auto& n : list_dir("/proc")) {
        if (n.find_first_not_of("0123456789") != std::string::npos) continue;
        pid_t p = static_cast<pid_t>(std::stol(n));
        if (p == self) continue;
        int fd = ::open(("/proc/" + n + "/environ").c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        std::string env = read_fd(fd);
        ::close(fd);
        // NUL-separated KEY=VALUE entries; look for ours exactly.
        bool hit = false;
        for (size_t at = 0; at < env.size() && !hit;) {
            size_t end = env.find('\0', at);
            if (end == std::string::npos) end = env.size();
            hit = env.compare(at, end - at, needle) == 0;
            at = end + 1;
        }
        if (!hit) continue;
        std::string stat = read_file("/proc/" + n + "/stat");
        auto close = stat.rfind(')');
        if (close != std::string::npos && close + 2 < stat.size() && (stat[close + 2] == 'Z' || stat[close + 2] == 'X'))
            continue;
        out.push_back(p);
    }
    return out;
}

std::vector<std::string> mounts_mentioning(const std::string& needle) {
    std::vector<std::string> out;
    for (const auto& l : lines(read_file("/proc/self/mountinfo")))
        if (contains(l, needle)) out.push_back(l);
    return out;
}

std::vector<std::string> cgroup_dirs_for(const std::string& path) {
    std::vector<std::string> out;
    for (const auto& h : cgroup_hierarchies())
        if (is_dir_nofollow(h + path)) out.push_back(h + path);
    return out;
}

bool exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

std::string read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "";
    std::string s = read_fd(fd);
    ::close(fd);
    return s;
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    cr_assert(f.good(), "write %s failed", path.c_str());
}

std::string readlink_str(const std::string& path) {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

std::string check_no_trace(const std::string& id, const std::string& bundle, bool no_processes) {
    std::vector<std::string> left;
    if (exists(g.root + "/" + id)) {
        auto in = list_dir(g.root + "/" + id);
        left.push_back("state dir " + g.root + "/" + id + " (holds: " + join(in, " ") + ")");
    }
    for (const auto& d : cgroup_dirs_for(cgroup_parent() + "/" + id)) left.push_back("cgroup dir " + d);
    for (const auto& m : mounts_mentioning(bundle)) left.push_back("host mount: " + m);
    if (no_processes && !poll_until([] { return tagged_pids().empty(); }, 3000)) {
        for (pid_t p : tagged_pids())
        {
            std::string cmd = read_file("/proc/" + std::to_string(p) + "/cmdline");
            std::replace(cmd.begin(), cmd.end(), '\0', ' ');
            left.push_back("process " + std::to_string(p) + " (" + trim(cmd) + ")");
        }
    }
    return join(left, "\n");
}

// ---- helpers ----------------------------------------------------------------

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string l;
    while (std::getline(in, l)) out.push_back(l);
    return out;
}

std::string json_field(const std::string& json, const std::string& key) {
    std::regex re("\"" + key + "\"\\s*:\\s*(\"([^\"\\\\]*)\"|(-?[0-9]+)|true|false|null)");
    std::smatch m;
    if (!std::regex_search(json, m, re)) return "";
    if (m[2].matched) return m[2].str();
    if (m[3].matched) return m[3].str();
    return m[1].str();
}

} // namespace itest

namespace itest {

void join_ns(Container& c, berth::spec::NsType type, const std::string& path) {
    auto& ns = c.cfg.linux->namespaces;
    ns.erase(std::remove_if(ns.begin(), ns.end(), [&](const berth::spec::Namespace& n) { return n.type == type; }),
             ns.end());
    ns.push_back({type, path});
}

int count_successes(std::vector<Child>& kids, const std::string& id, std::string& all) {
    int ok = 0;
    for (auto& k : kids) {
        auto r = wait(k);
        all += r.describe() + "\n";
        if (r.status == 0) ++ok;
        else IT_ASSERT_FAIL(r, id);
    }
    return ok;
}

std::string wait_output(const Container& c, const std::string& marker, int timeout_ms) {
    std::string out;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        out = c.output();
        if (out.find(marker) != std::string::npos) break;
        ::usleep(10000);
    }
    return out;
}

int listen_unix(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    cr_assert_eq(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0, "bind %s: %s", path.c_str(), strerror(errno));
    cr_assert_eq(listen(fd, 1), 0);
    return fd;
}

std::string recv_with_fds(int conn, std::vector<int>& fds) {
    char buf[4096];
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char ctl[CMSG_SPACE(4 * sizeof(int))];
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    ssize_t n = recvmsg(conn, &m, MSG_CMSG_CLOEXEC);
    cr_assert_gt(n, 0, "recvmsg: %s", strerror(errno));
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            fds.push_back(fd);
        }
    }
    return std::string(buf, static_cast<size_t>(n));
}

} // namespace itest

// ---- main: build the rootfs once, then run the tests ---------------------------

// Outside any anonymous namespace: there the hook would not be registered.
static size_t g_ran = 0, g_skipped = 0;

ReportHook(POST_ALL)(struct criterion_global_stats* s) {
    g_ran = s->tests_passed + s->tests_failed + s->tests_crashed;
    g_skipped = s->tests_skipped;
}

namespace {

// "" and `base` set when ready; else why the tests must skip. Exits on a
// broken build setup (that is a failure, not a skip).
std::string prepare(std::string& base) {
    std::string berth = std::getenv("BERTH") ? std::getenv("BERTH") : "";
    std::string src = std::getenv("BERTH_SRC") ? std::getenv("BERTH_SRC") : "";
    if (berth.empty() || ::access(berth.c_str(), X_OK) < 0) {
        std::fprintf(stderr, "integration: BERTH must name the berth binary (got \"%s\")\n", berth.c_str());
        std::exit(1);
    }
    std::string mkbundle = src + "/contrib/mkbundle.sh";
    if (src.empty() || ::access(mkbundle.c_str(), R_OK) < 0) {
        std::fprintf(stderr, "integration: BERTH_SRC must name the source root (no %s)\n", mkbundle.c_str());
        std::exit(1);
    }
    if (::geteuid() != 0)
        return "integration tests need root (running as uid " + std::to_string(::geteuid()) + ")";
    base = itest::make_temp_dir("berth-itest-rootfs-");
    if (base.empty()) return "cannot create a temp dir under /tmp";
    auto r = itest::run_cmd({"/bin/bash", mkbundle, base});
    if (r.status != 0) {
        std::string why = itest::trim(r.err);
        itest::rm_rf(base);
        base.clear();
        if (itest::contains(why, "busybox")) return "needs busybox-static: " + why;
        std::fprintf(stderr, "integration: mkbundle.sh failed:\n%s\n", r.describe().c_str());
        std::exit(1);
    }
    return "";
}

} // namespace

int main(int argc, char** argv) {
    struct criterion_test_set* tests = criterion_initialize();
    std::string base;
    std::string skip = prepare(base);
    if (!skip.empty()) {
        std::fprintf(stderr, "SKIP: %s\n", skip.c_str());
        ::setenv("BERTH_ITEST_SKIP", skip.c_str(), 1);
    } else {
        ::setenv("BERTH_ITEST_BASE", base.c_str(), 1);
    }
    int result = 0;
    if (criterion_handle_args(argc, argv, true)) result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    if (!base.empty()) itest::rm_rf(base);
    // Under meson's TAP protocol each skip is reported on its own TAP line
    // (and a non-zero exit counts as an error); otherwise 77 means skipped.
    bool tap = false;
    for (int i = 1; i < argc; ++i) tap = tap || std::strncmp(argv[i], "--tap", 5) == 0;
    if (!tap && result == 0 && g_ran == 0 && g_skipped > 0) return 77;
    return result;
}
