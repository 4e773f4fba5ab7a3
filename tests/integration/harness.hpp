// Integration test harness: real containers run by the berth binary.
//
// Each test binary builds one busybox-static rootfs (contrib/mkbundle.sh)
// before its tests run (see main() in harness.cpp). Each test, in its own
// Criterion worker process, gets from the fixture:
//   - a private state root (--root, mkdtemp under /tmp),
//   - a work dir (mkdtemp under /tmp) holding one bundle dir per container,
//   - container ids "it<pid>-<n>", cgroupsPath /berth-itest-<pid>/<id>,
//   - a tag (BERTH_ITEST_TAG=...) put into the environment of every berth it
//     runs and of every container process, so leftovers can be found.
//
// Criterion aborts a failed test with longjmp (no destructors run), so all
// cleanup lives in the per-worker Harness and runs from the suite's .fini;
// a passing test calls itest::finish() last, which cleans up and asserts
// that nothing was left behind (mounts, processes, cgroups, state).
//
//   TestSuite(ns, .init = itest::setup, .fini = itest::teardown, .timeout = 60);
//   Test(ns, uts) {
//       auto c = itest::container();
//       c.cfg.hostname = "x";
//       c.sh("hostname");
//       auto r = c.run();
//       itest::expect_ok(r);
//       ...
//       itest::finish();
//   }
#pragma once

#include "config.hpp"

#include <criterion/criterion.h>

#include <sys/types.h>

#include <string>
#include <vector>

namespace itest {

// What a berth (or other) process did.
struct Result {
    int status = -1;          // exit status; 128+N when killed by signal N
    bool timed_out = false;   // killed by the harness after its timeout
    std::string out, err;
    std::string cmd;          // the command line, for messages
    // "cmd\nexit N\nstdout:...\nstderr:..." for assertion messages.
    std::string describe() const;
};

struct SpawnOpts {
    // Where the process's stdout goes; empty: captured into Result::out.
    // Containers inherit berth's stdio, so for `create` and `run -d` the
    // container's output lands here (a file, never a pipe: a pipe would only
    // reach EOF when the container exits).
    std::string stdout_path;
    int timeout_ms = 30000;
};

// A running child started by spawn(); wait() collects it.
struct Child {
    pid_t pid = -1;
    int out_fd = -1, err_fd = -1;   // memfds
    std::string cmd;
    int timeout_ms = 30000;
};

// Run argv (argv[0] is a path) with stdin /dev/null, the harness tag in its
// environment, output captured; kill it (by pid) after the timeout.
Result run_cmd(const std::vector<std::string>& argv, const SpawnOpts& o = {});
Child spawn(const std::vector<std::string>& argv, const SpawnOpts& o = {});
Result wait(Child& c);

// `berth --root <test root> ARGS...`.
Result berth(const std::vector<std::string>& args, const SpawnOpts& o = {});
Child berth_spawn(const std::vector<std::string>& args, const SpawnOpts& o = {});

// One container: its id, bundle dir and config (based on mkbundle's).
struct Container {
    std::string id;
    std::string bundle;       // absolute; config.json is written here
    std::string out_path;     // bundle/out.txt: container stdout for create/run -d
    berth::spec::Config cfg;

    // process.args = {"sh", "-c", script}
    Container& sh(const std::string& script);
    // A private copy of the shared rootfs at bundle/rootfs (cp -a); root.path
    // points at it. Returns its absolute path.
    std::string copy_rootfs();
    // The config as JSON; write_config() writes it (or `text`) to config.json.
    std::string config_json() const;
    void write_config() const;
    void write_config_text(const std::string& text) const;

    // Write config.json and run `berth run [extra] --bundle B ID`.
    Result run(const std::vector<std::string>& extra = {}) const;
    // Write config.json and `berth create --bundle B [--pid-file F] ID`,
    // container stdout to out_path.
    Result create(const std::string& pid_file = "") const;
    Result start() const;
    Result kill(const std::string& sig = "KILL") const;
    Result del(bool force = false) const;
    Result state() const;
    // The "status" of `berth state`, or "" when state fails.
    std::string status() const;
    // Poll `berth state` until status is `want` (bounded); true when reached.
    bool wait_status(const std::string& want, int timeout_ms = 15000) const;
    // pid from `berth state`, 0 if none.
    pid_t pid() const;
    // What the container wrote to out_path so far.
    std::string output() const;
};

// Make c join the namespace of `type` at `path` (replacing a new one).
void join_ns(Container& c, berth::spec::NsType type, const std::string& path);
// Poll what c wrote (out_path) until it contains `marker`, bounded; returns it.
std::string wait_output(const Container& c, const std::string& marker, int timeout_ms = 10000);

// Wait for every child; each failure must name `id` in its error. Returns
// how many succeeded; `all` gets every result, for assertion messages.
int count_successes(std::vector<Child>& kids, const std::string& id, std::string& all);

// ---- fixture -----------------------------------------------------------

void setup();      // .init: skip (with the reason) unless root and a rootfs was built
void teardown();   // .fini: remove everything, quietly (test may have failed)
// Clean up now and assert nothing was left behind. Call last in a test.
void finish();
// Clean up (a skipped test gets no .fini), then skip with the reason.
[[noreturn]] void skip(const std::string& reason);

// A new container with a unique id and bundle dir, config from mkbundle.
Container container();
// A fresh unique container id (registered for cleanup).
std::string new_id();
// Per-test scratch dir (world-readable), removed at teardown.
std::string work_dir();
// A new empty dir under the work dir.
std::string make_dir(const std::string& name);
std::string state_root();
std::string tag();
const std::string& shared_rootfs();
// cgroup parent of this test's containers: /berth-itest-<pid>.
std::string cgroup_parent();
// Mount on the host (recorded; unmounted at teardown).
void host_mount(const std::string& src, const std::string& target, const std::string& type,
                unsigned long flags, const std::string& data = "");
// mkdtemp("/tmp/<prefix>XXXXXX"), mode 0755; "" on failure.
std::string make_temp_dir(const std::string& prefix);
// rm -rf that stays on one filesystem and follows no symlink.
void rm_rf(const std::string& path);
// Record a host path to rm -rf at teardown.
void remove_later(const std::string& path);

// ---- observations ------------------------------------------------------

// Host pids whose environment carries BERTH_ITEST_TAG=<tag> (the test's
// berth processes and containers), excluding zombies.
std::vector<pid_t> tagged_pids();
// Lines of /proc/self/mountinfo containing `needle`.
std::vector<std::string> mounts_mentioning(const std::string& needle);
// /sys/fs/cgroup/<hierarchy>/<path> dirs that exist (one per hierarchy).
std::vector<std::string> cgroup_dirs_for(const std::string& path);
bool exists(const std::string& path);
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);
std::string readlink_str(const std::string& path);
// "" when nothing of container `id` with bundle `bundle` remains: no state
// entry, no cgroup dir, no mount mentioning the bundle, and (when
// `no_processes`) no tagged process; else what remains.
std::string check_no_trace(const std::string& id, const std::string& bundle, bool no_processes = true);

// ---- small helpers -------------------------------------------------------

// A listening unix stream socket at path (asserts on failure).
int listen_unix(const std::string& path);
// One message from a unix socket: its bytes, and the fds it carried
// (SCM_RIGHTS, close-on-exec) appended to fds. Asserts a non-empty message.
std::string recv_with_fds(int sock, std::vector<int>& fds);

std::string trim(const std::string& s);
bool contains(const std::string& hay, const std::string& needle);
std::vector<std::string> lines(const std::string& s);
// Value of "key": "..." / "key": N in JSON text (first occurrence), or "".
std::string json_field(const std::string& json, const std::string& key);
// "" when r exited 0; else why not (with everything r printed).
std::string check_ok(const Result& r);
// "" when r failed (non-zero exit, no timeout) and its stderr mentions each
// of `needles`; else why not.
std::string check_fail(const Result& r, const std::vector<std::string>& needles);

} // namespace itest

// Assertions that report at the test's own line.
#define IT_ASSERT_OK(r)                                                                   \
    do {                                                                                  \
        std::string why_ = itest::check_ok(r);                                            \
        cr_assert(why_.empty(), "%s", why_.c_str());                                      \
    } while (0)
#define IT_ASSERT_FAIL(r, ...)                                                            \
    do {                                                                                  \
        std::string why_ = itest::check_fail(r, std::vector<std::string>{__VA_ARGS__});   \
        cr_assert(why_.empty(), "%s", why_.c_str());                                      \
    } while (0)
#define IT_ASSERT_NO_TRACE(id, bundle)                                                    \
    do {                                                                                  \
        std::string why_ = itest::check_no_trace(id, bundle);                             \
        cr_assert(why_.empty(), "left behind by container %s:\n%s", std::string(id).c_str(), why_.c_str()); \
    } while (0)
// Assert two strings are equal, showing both (and a context string).
#define IT_ASSERT_STR_EQ(got, want, ctx)                                                  \
    do {                                                                                  \
        std::string got_ = (got), want_ = (want);                                         \
        cr_assert(got_ == want_, "got:  [%s]\nwant: [%s]\n%s", got_.c_str(), want_.c_str(), \
                  std::string(ctx).c_str());                                              \
    } while (0)
