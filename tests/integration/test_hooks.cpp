// OCI hooks: order, namespaces, the state on stdin, env and args, failures
// and timeouts.
#include "harness.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

using berth::spec::Hook;
using berth::spec::NsType;
using itest::contains;

TestSuite(hooks, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

namespace {

// A host script appending "<kind> <pidns> <mntns> <stdin>" to log.
std::string recorder(const std::string& log) {
    std::string path = itest::work_dir() + "/record.sh";
    itest::write_file(path, "#!/bin/sh\necho \"$1 $(readlink /proc/self/ns/pid) $(readlink /proc/self/ns/mnt) $(cat)\" >> " +
                                log + "\n");
    chmod(path.c_str(), 0755);
    return path;
}

Hook hook(const std::string& path, std::vector<std::string> args, std::vector<std::string> env = {}) {
    Hook h;
    h.path = path;
    h.args = std::move(args);
    h.env = std::move(env);
    return h;
}

std::string line_of(const std::string& log, const std::string& kind) {
    for (auto& l : itest::lines(log))
        if (l.rfind(kind + " ", 0) == 0) return l;
    return "";
}

} // namespace

Test(hooks, every_kind_runs_in_order_where_the_spec_says) {
    auto c = itest::container();
    std::string log = itest::work_dir() + "/hooks.log";
    auto rec = recorder(log);
    auto& h = c.cfg.hooks;
    h.prestart = {hook(rec, {"record", "prestart"})};
    h.createRuntime = {hook(rec, {"record", "createRuntime"})};
    h.createContainer = {hook(rec, {"record", "createContainer"})};
    h.poststart = {hook(rec, {"record", "poststart"})};
    h.poststop = {hook(rec, {"record", "poststop"})};
    c.sh("echo user-process");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto text = itest::read_file(log);
    auto l = itest::lines(text);
    cr_assert_eq(l.size(), 5u, "%s", text.c_str());
    const char* order[] = {"prestart", "createRuntime", "createContainer", "poststart", "poststop"};
    for (size_t i = 0; i < 5; ++i) cr_assert(l[i].rfind(std::string(order[i]) + " ", 0) == 0, "%s", text.c_str());
    std::string host_mnt = itest::readlink_str("/proc/self/ns/mnt");
    cr_assert(contains(line_of(text, "createRuntime"), host_mnt), "createRuntime runs in the runtime namespace: %s", text.c_str());
    cr_assert(!contains(line_of(text, "createContainer"), host_mnt), "createContainer runs in the container's: %s", text.c_str());
    cr_assert(contains(line_of(text, "poststop"), host_mnt), "%s", text.c_str());
    cr_assert(contains(line_of(text, "prestart"), "\"status\":\"creating\""), "%s", text.c_str());
    cr_assert(contains(line_of(text, "poststart"), "\"status\":\"running\""), "%s", text.c_str());
    cr_assert(contains(line_of(text, "poststop"), "\"status\":\"stopped\""), "%s", text.c_str());
    cr_assert(contains(line_of(text, "prestart"), "\"id\":\"" + c.id + "\""), "%s", text.c_str());
    itest::finish();
}

Test(hooks, start_container_runs_inside_before_the_process) {
    auto c = itest::container();
    std::string shared = itest::make_dir("shared");
    chmod(shared.c_str(), 0777);
    c.cfg.mounts.push_back(berth::spec::Mount{"/shared", "bind", shared, {"rbind", "rw"}});
    // The path resolves in the container: busybox's sh, not the host's.
    c.cfg.hooks.startContainer = {hook("/bin/sh", {"sh", "-c", "cat > /shared/state; hostname > /shared/host"})};
    c.sh("test -s /shared/state && echo hook-ran-first");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "hook-ran-first"), "%s", r.describe().c_str());
    cr_assert(contains(itest::read_file(shared + "/state"), "\"id\":\"" + c.id + "\""));
    IT_ASSERT_STR_EQ(itest::trim(itest::read_file(shared + "/host")), c.cfg.hostname, "startContainer's uts namespace");
    itest::finish();
}

Test(hooks, env_and_args_are_exactly_the_hooks) {
    auto c = itest::container();
    std::string out = itest::work_dir() + "/env.txt";
    // BERTH_ITEST_TAG is in berth's environment: a hook must not inherit it.
    c.cfg.hooks.createRuntime = {hook("/bin/sh", {"sh", "-c", "echo \"$0|$1|$FOO|$BERTH_ITEST_TAG\" > " + out, "a0", "a1"}, {"FOO=bar"})};
    c.sh("true");
    IT_ASSERT_OK(c.run());
    IT_ASSERT_STR_EQ(itest::trim(itest::read_file(out)), "a0|a1|bar|", "hook argv and env");
    itest::finish();
}

Test(hooks, failing_create_hooks_fail_create_and_leave_nothing) {
    for (const char* kind : {"prestart", "createRuntime", "createContainer"}) {
        auto c = itest::container();
        auto failing = hook("/bin/sh", {"sh", "-c", "echo hook-said-no >&2; exit 3"});
        if (std::string(kind) == "prestart") c.cfg.hooks.prestart = {failing};
        if (std::string(kind) == "createRuntime") c.cfg.hooks.createRuntime = {failing};
        if (std::string(kind) == "createContainer") c.cfg.hooks.createContainer = {failing};
        auto r = c.create();
        cr_assert_neq(r.status, 0, "%s", r.describe().c_str());
        cr_assert(contains(r.err, std::string("hooks.") + kind + "[0]"), "%s", r.describe().c_str());
        cr_assert(contains(r.err, "exit status 3"), "%s", r.describe().c_str());
        cr_assert(contains(r.err, "hook-said-no"), "the hook's stderr belongs in the error: %s", r.describe().c_str());
        IT_ASSERT_STR_EQ(itest::check_no_trace(c.id, c.bundle), "", r.describe());
    }
    itest::finish();
}

Test(hooks, timeout_kills_the_hook) {
    auto c = itest::container();
    auto slow = hook("/bin/sleep", {"sleep", "20"});
    slow.timeout = 1;
    c.cfg.hooks.createRuntime = {slow};
    auto t0 = std::chrono::steady_clock::now();
    auto r = c.create();
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count();
    cr_assert_neq(r.status, 0, "%s", r.describe().c_str());
    cr_assert(contains(r.err, "timed out after 1s"), "%s", r.describe().c_str());
    cr_assert_lt(secs, 10, "the hook was not killed at its timeout");
    IT_ASSERT_STR_EQ(itest::check_no_trace(c.id, c.bundle), "", r.describe());
    itest::finish();
}

Test(hooks, failing_poststart_and_poststop_only_warn) {
    auto c = itest::container();
    c.cfg.hooks.poststart = {hook("/bin/false", {"false"})};
    c.cfg.hooks.poststop = {hook("/bin/false", {"false"})};
    c.sh("exit 4");
    auto r = c.run();
    cr_assert_eq(r.status, 4, "the container's own status: %s", r.describe().c_str());
    cr_assert(contains(r.err, "hooks.poststart[0]"), "%s", r.describe().c_str());
    cr_assert(contains(r.err, "hooks.poststop[0]"), "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(itest::check_no_trace(c.id, c.bundle), "", r.describe());
    itest::finish();
}

Test(hooks, a_failing_poststart_or_poststop_hook_does_not_stop_the_rest) {
    auto c = itest::container();
    std::string log = itest::work_dir() + "/after.log";
    auto rec = recorder(log);
    c.cfg.hooks.poststart = {hook("/bin/false", {"false"}), hook(rec, {"record", "poststart-second"})};
    c.cfg.hooks.poststop = {hook("/bin/false", {"false"}), hook(rec, {"record", "poststop-second"})};
    c.sh("true");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.err, "hooks.poststart[0]") && contains(r.err, "hooks.poststop[0]"), "%s", r.describe().c_str());
    auto text = itest::exists(log) ? itest::read_file(log) : "";
    cr_assert(!line_of(text, "poststart-second").empty(), "the second poststart hook did not run: %s", text.c_str());
    cr_assert(!line_of(text, "poststop-second").empty(), "the second poststop hook did not run: %s", text.c_str());
    itest::finish();
}

Test(hooks, hooks_run_in_the_bundle_directory) {
    // runc chdirs to --bundle before anything runs: hooks may name files in
    // the bundle by relative paths. The caller's cwd here is elsewhere.
    auto c = itest::container();
    itest::write_file(c.bundle + "/hook.sh", "#!/bin/sh\necho \"$1 $(pwd)\" >> ./hooks-cwd.log\n");
    chmod((c.bundle + "/hook.sh").c_str(), 0755);
    auto rel = [](const char* kind) { return hook("/bin/sh", {"sh", "./hook.sh", kind}); };
    c.cfg.hooks.prestart = {rel("prestart")};
    c.cfg.hooks.createRuntime = {rel("createRuntime")};
    c.cfg.hooks.createContainer = {rel("createContainer")};
    c.cfg.hooks.poststart = {rel("poststart")};
    c.cfg.hooks.poststop = {rel("poststop")};
    c.sh("true");
    auto r = c.run();
    IT_ASSERT_OK(r);
    std::string log = c.bundle + "/hooks-cwd.log";
    auto text = itest::exists(log) ? itest::read_file(log) : "";
    for (const char* kind : {"prestart", "createRuntime", "createContainer", "poststart", "poststop"})
        IT_ASSERT_STR_EQ(line_of(text, kind), std::string(kind) + " " + c.bundle, r.describe() + "\n" + text);
    // start and delete as separate commands, too.
    auto d = itest::container();
    itest::write_file(d.bundle + "/hook.sh", "#!/bin/sh\necho \"$1 $(pwd)\" >> ./hooks-cwd.log\n");
    chmod((d.bundle + "/hook.sh").c_str(), 0755);
    d.cfg.hooks.poststart = {rel("poststart")};
    d.cfg.hooks.poststop = {rel("poststop")};
    d.sh("true");
    IT_ASSERT_OK(d.create());
    IT_ASSERT_OK(d.start());
    cr_assert(d.wait_status("stopped"));
    IT_ASSERT_OK(d.del());
    text = itest::exists(d.bundle + "/hooks-cwd.log") ? itest::read_file(d.bundle + "/hooks-cwd.log") : "";
    for (const char* kind : {"poststart", "poststop"})
        IT_ASSERT_STR_EQ(line_of(text, kind), std::string(kind) + " " + d.bundle, text);
    itest::finish();
}

Test(hooks, hooks_stay_in_the_runtime_pid_namespace_when_joining_one) {
    auto a = itest::container();
    a.sh("exec sleep 30");
    IT_ASSERT_OK(a.run({"-d"}));
    cr_assert(a.wait_status("running"));
    auto b = itest::container();
    itest::join_ns(b, NsType::pid, "/proc/" + std::to_string(a.pid()) + "/ns/pid");
    std::string log = itest::work_dir() + "/pidns.log";
    auto rec = recorder(log);
    b.cfg.hooks.createRuntime = {hook(rec, {"record", "createRuntime"})};
    b.cfg.hooks.poststart = {hook(rec, {"record", "poststart"})};
    b.sh("true");
    IT_ASSERT_OK(b.run());
    auto text = itest::read_file(log);
    std::string host_pid = itest::readlink_str("/proc/self/ns/pid");
    cr_assert(contains(line_of(text, "createRuntime"), host_pid), "%s", text.c_str());
    cr_assert(contains(line_of(text, "poststart"), host_pid), "%s", text.c_str());
    IT_ASSERT_OK(a.del(true));
    itest::finish();
}
