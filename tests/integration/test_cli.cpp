// The CLI contract with clients and people: flags where runc takes them,
// runc's error words and exit statuses, --debug's step lines, help for every
// command, `spec` as runc's, and configs runc takes despite their flaws.
#include "harness.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <set>

using itest::contains;
using itest::trim;

TestSuite(cli, .init = itest::setup, .fini = itest::teardown, .timeout = 90);

namespace {

std::string berth_bin() { return std::getenv("BERTH") ? std::getenv("BERTH") : ""; }

// The container's pids.max as the host sees it.
std::string pids_max(const itest::Container& c) {
    bool v2 = itest::exists("/sys/fs/cgroup/cgroup.controllers");
    return trim(itest::read_file("/sys/fs/cgroup/" + std::string(v2 ? "" : "pids") + itest::cgroup_parent() + "/" +
                                 c.id + "/pids.max"));
}

itest::Container running(const std::string& script = "exec sleep 60") {
    auto c = itest::container();
    c.sh(script);
    auto r = c.run({"-d"});
    IT_ASSERT_OK(r);
    cr_assert(c.wait_status("running"), "%s", c.state().describe().c_str());
    return c;
}

// A program on PATH that exists nowhere: runc's "command not found".
std::string missing_program() { return "no-such-program-" + std::to_string(::getpid()); }

} // namespace

// runc reorders a command's flags after its positionals (urfave/cli), and
// scripts rely on it: `update ID --pids-limit N`, `kill ID --all SIG`.
Test(cli, flags_after_the_container_id) {
    auto c = running();
    auto r = itest::berth({"update", c.id, "--pids-limit", "42"});
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(pids_max(c), "42", r.describe());
    r = itest::berth({"update", c.id, "--pids-limit=43"});
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(pids_max(c), "43", r.describe());
    // Signal 0 sends nothing: it checks the container is running.
    IT_ASSERT_OK(itest::berth({"kill", "-a", c.id, "0"}));
    IT_ASSERT_OK(itest::berth({"kill", c.id, "0", "--all"}));
    IT_ASSERT_OK(itest::berth({"kill", c.id, "0"}));
    IT_ASSERT_STR_EQ(c.status(), "running", "signal 0 changed the container");
    IT_ASSERT_OK(itest::berth({"kill", c.id, "--all", "KILL"}));
    cr_assert(c.wait_status("stopped"), "%s", c.state().describe().c_str());
    // A stopped container: runc's words, which containerd's shim matches.
    r = itest::berth({"kill", c.id, "0"});
    IT_ASSERT_FAIL(r, "container not running", c.id);
    r = itest::berth({"kill", c.id, "KILL"});
    IT_ASSERT_FAIL(r, "container not running", c.id);
    IT_ASSERT_OK(itest::berth({"delete", c.id, "--force"}));
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

// exec stops at the container id: what follows is the command's, flags
// included (runc's exec and ps take no reordering).
Test(cli, exec_passes_flags_after_the_id_to_the_command) {
    auto c = running();
    auto r = itest::berth({"exec", c.id, "echo", "-n", "--tty", "x"});
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "--tty x", r.describe());
    r = itest::berth({"exec", "-e", "A=b", c.id, "sh", "-c", "echo $A"});
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "b\n", r.describe());
    IT_ASSERT_OK(c.del(true));
    itest::finish();
}

// runc's exit statuses: exec is the process's status, or 255 when it could
// not start; clients tell the two apart by it.
Test(cli, exec_exit_statuses) {
    auto c = running();
    auto r = itest::berth({"exec", c.id, "sh", "-c", "exit 3"});
    cr_assert_eq(r.status, 3, "%s", r.describe().c_str());
    std::string prog = missing_program();
    r = itest::berth({"exec", c.id, prog});
    cr_assert_eq(r.status, 255, "%s", r.describe().c_str());
    // podman and Docker map these words to "command not found" (127) and
    // "permission denied" to "cannot run" (126); Docker wants them in Go's case.
    cr_assert(contains(r.err, prog) && contains(r.err, "executable file not found"), "%s", r.describe().c_str());
    r = itest::berth({"exec", c.id, "/" + prog});
    cr_assert_eq(r.status, 255, "%s", r.describe().c_str());
    cr_assert(contains(r.err, "/" + prog) && contains(r.err, "no such file or directory"), "%s", r.describe().c_str());
    r = itest::berth({"exec", c.id, "/etc/passwd"});   // not executable: "cannot run" (126)
    cr_assert_eq(r.status, 255, "%s", r.describe().c_str());
    cr_assert(contains(r.err, "permission denied"), "%s", r.describe().c_str());
    r = itest::berth({"exec", itest::new_id(), "true"});
    cr_assert_eq(r.status, 255, "%s", r.describe().c_str());
    cr_assert(contains(r.err, "does not exist"), "%s", r.describe().c_str());
    IT_ASSERT_OK(c.del(true));
    // A failed create or run exits 1, as runc's.
    auto d = itest::container();
    d.cfg.process->args = {prog};
    auto rr = d.run();
    cr_assert_eq(rr.status, 1, "%s", rr.describe().c_str());
    IT_ASSERT_NO_TRACE(d.id, d.bundle);
    itest::finish();
}

// Each phrase a client matches on, from berth's stderr (containerd's runc
// shim: "container not running", "does not exist"; podman: "does not
// exist"), with the container's id.
Test(cli, error_words_clients_match) {
    std::string id = itest::new_id();
    for (const char* verb : {"state", "kill", "delete", "start", "pause", "update", "ps", "events"}) {
        auto r = itest::berth({verb, id});
        IT_ASSERT_FAIL(r, "does not exist", id);
    }
    auto c = itest::container();
    c.sh("true");
    IT_ASSERT_OK(c.run({"-d", "--keep"}));
    cr_assert(c.wait_status("stopped"), "%s", c.state().describe().c_str());
    for (const char* verb : {"kill", "update", "pause"}) {
        auto r = itest::berth({verb, c.id});
        IT_ASSERT_FAIL(r, "container not running", c.id);
    }
    IT_ASSERT_OK(c.del());
    itest::finish();
}

// --debug: a line per step, in runc's text and JSON formats, so where a
// container failed can be seen; none without it.
Test(cli, debug_lines_in_both_formats) {
    auto c = itest::container();
    c.sh("exec sleep 60");
    c.write_config();
    std::string text = itest::work_dir() + "/log.txt", json = itest::work_dir() + "/log.json";
    itest::SpawnOpts o;
    o.stdout_path = c.out_path;
    IT_ASSERT_OK(itest::berth({"--debug", "--log", text, "create", "--bundle", c.bundle, c.id}, o));
    IT_ASSERT_OK(itest::berth({"--debug", "--log", json, "--log-format", "json", "start", c.id}));
    IT_ASSERT_OK(itest::berth({"--debug", "--log", json, "--log-format", "json", "exec", c.id, "true"}));
    IT_ASSERT_OK(itest::berth({"--debug", "--log", text, "kill", c.id, "KILL"}));
    cr_assert(c.wait_status("stopped"));
    IT_ASSERT_OK(itest::berth({"--debug", "--log", text, "delete", c.id}));
    std::string t = itest::read_file(text), j = itest::read_file(json);
    std::regex text_line(R"(^time="[0-9T:.Z-]+" level=debug msg="create .+"$)");
    int creates = 0;
    for (const auto& l : itest::lines(t)) creates += std::regex_match(l, text_line);
    cr_assert(creates >= 4, "want a debug line per create step, got:\n%s", t.c_str());
    for (const char* step : {"cloned the init", "init: in the container's namespaces", "init: mounts done",
                             "created;", "kill ", "delete "})
        cr_assert(contains(t, step), "no \"%s\" step in:\n%s", step, t.c_str());
    std::regex json_line(R"(^\{"level":"debug","msg":"(start|exec) .+","time":"[0-9T:.Z-]+"\}$)");
    int js = 0;
    for (const auto& l : itest::lines(j)) js += std::regex_match(l, json_line);
    cr_assert(js >= 3, "want start and exec debug lines in JSON, got:\n%s", j.c_str());

    // A failure shows how far it got; without --debug, no debug lines.
    auto d = itest::container();
    d.cfg.process->args = {missing_program()};
    d.write_config();
    std::string fail_log = itest::work_dir() + "/fail.txt", quiet = itest::work_dir() + "/quiet.txt";
    auto r = itest::berth({"--debug", "--log", fail_log, "create", "--bundle", d.bundle, d.id});
    cr_assert_neq(r.status, 0);
    std::string f = itest::read_file(fail_log);
    cr_assert(contains(f, "cloned the init") && contains(f, "level=error"), "%s", f.c_str());
    r = itest::berth({"--log", quiet, "create", "--bundle", d.bundle, d.id});
    cr_assert_neq(r.status, 0);
    cr_assert(!contains(itest::read_file(quiet), "level=debug"), "%s", itest::read_file(quiet).c_str());
    IT_ASSERT_NO_TRACE(d.id, d.bundle);
    itest::finish();
}

// `berth help`, `help COMMAND` and `COMMAND --help` for every command, and
// subcommands' help; a global flag after the command says where it goes.
Test(cli, help_everywhere) {
    auto h = itest::run_cmd({berth_bin(), "help"});
    IT_ASSERT_OK(h);
    std::vector<std::string> cmds;
    bool in_list = false;
    for (const auto& l : itest::lines(h.out)) {
        if (l == "Commands:") in_list = true;
        else if (in_list && l.rfind("  ", 0) == 0) cmds.push_back(l.substr(2, l.find(' ', 2) - 2));
        else if (in_list) in_list = false;
    }
    cr_assert(cmds.size() > 10, "no command list in:\n%s", h.out.c_str());
    for (const auto& cmd : cmds) {
        auto a = itest::run_cmd({berth_bin(), cmd, "--help"});
        IT_ASSERT_OK(a);
        cr_assert(contains(a.out, "Usage: berth " + (cmd == "help" ? std::string() : cmd)), "%s", a.describe().c_str());
        auto b = itest::run_cmd({berth_bin(), "help", cmd});
        IT_ASSERT_OK(b);
    }
    for (auto args : std::vector<std::vector<std::string>>{{"cdi", "--help"},
                                                           {"cdi", "generate", "--help"},
                                                           {"cdi", "generate", "nvidia", "--help"},
                                                           {"cdi", "hook", "-h"},
                                                           {"help", "cdi", "generate"}}) {
        args.insert(args.begin(), berth_bin());
        auto r = itest::run_cmd(args);
        IT_ASSERT_OK(r);
        cr_assert(contains(r.out, "Usage: berth cdi"), "%s", r.describe().c_str());
    }
    auto g = itest::run_cmd({berth_bin(), "cdi", "generate", "-h"});
    cr_assert(contains(g.out, "--output"), "%s", g.describe().c_str());
    // --help after the id too, as runc reorders it.
    auto k = itest::run_cmd({berth_bin(), "kill", "some-id", "--help"});
    IT_ASSERT_OK(k);
    auto l = itest::run_cmd({berth_bin(), "list", "--root", itest::state_root()});
    IT_ASSERT_FAIL(l, "global flag", "berth --root VALUE list");
    auto u = itest::run_cmd({berth_bin(), "cdi", "frobnicate"});
    IT_ASSERT_FAIL(u, "frobnicate", "generate nvidia");
    itest::finish();
}

// `berth spec` (and --rootless) is `runc spec`'s config, field by field,
// but for ociVersion and hostname.
Test(cli, spec_matches_runc_spec) {
    if (!itest::exists("/usr/sbin/runc") && !itest::exists("/usr/bin/runc")) itest::skip("runc is not installed");
    std::string runc = itest::exists("/usr/sbin/runc") ? "/usr/sbin/runc" : "/usr/bin/runc";
    for (bool rootless : {false, true}) {
        std::string a = itest::make_dir(rootless ? "runc-rootless" : "runc"),
                    b = itest::make_dir(rootless ? "berth-rootless" : "berth");
        std::vector<std::string> ra = {runc, "spec", "--bundle", a}, rb = {berth_bin(), "spec", "--bundle", b};
        if (rootless) {
            ra.push_back("--rootless");
            rb.push_back("--rootless");
        }
        IT_ASSERT_OK(itest::run_cmd(ra));
        IT_ASSERT_OK(itest::run_cmd(rb));
        // Normalised: parsed and written back by the same code, with the
        // two fields that differ by design made equal.
        auto ca = berth::spec::parse_config(itest::read_file(a + "/config.json"), "runc's config.json");
        auto cb = berth::spec::parse_config(itest::read_file(b + "/config.json"), "berth's config.json");
        ca.ociVersion = cb.ociVersion;
        ca.hostname = cb.hostname;
        IT_ASSERT_STR_EQ(berth::spec::to_json(cb), berth::spec::to_json(ca), rootless ? "--rootless" : "");
        // Nothing either writes that the other's parser would drop.
        std::string raw_a = itest::read_file(a + "/config.json"), raw_b = itest::read_file(b + "/config.json");
        std::regex key("\"([A-Za-z]+)\":");
        std::set<std::string> ka, kb;
        for (auto it = std::sregex_iterator(raw_a.begin(), raw_a.end(), key); it != std::sregex_iterator(); ++it)
            ka.insert((*it)[1]);
        for (auto it = std::sregex_iterator(raw_b.begin(), raw_b.end(), key); it != std::sregex_iterator(); ++it)
            kb.insert((*it)[1]);
        cr_assert(ka == kb, "the two configs use different keys:\nrunc:  %s\nberth: %s", raw_a.c_str(), raw_b.c_str());
    }
    itest::finish();
}

// What runc takes in a config though it is not quite right, berth takes
// too, with a warning: an identical namespace twice, device access letters
// other than rwm, an unknown capability, an rlimit given twice, id maps
// without a user namespace. What would widen access is still refused.
Test(cli, lenient_where_runc_is) {
    auto c = itest::container();
    c.sh("grep -E 'Max open files' /proc/self/limits");
    auto& lin = *c.cfg.linux;
    lin.namespaces.push_back(lin.namespaces.front());
    lin.resources->devices.push_back({.allow = true, .type = "c", .major = 1, .minor = 3, .access = "rwmx"});
    lin.uidMappings = {{0, 1000, 1}};
    lin.gidMappings = {{0, 1000, 1}};
    c.cfg.process->capabilities->bounding.push_back("CAP_NO_SUCH_THING");
    c.cfg.process->rlimits.insert(c.cfg.process->rlimits.begin(), {"RLIMIT_NOFILE", 2048, 2048});
    c.cfg.process->rlimits.push_back({"RLIMIT_NOFILE", 512, 512});
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(std::regex_search(r.out, std::regex("Max open files +512 +512")), "%s", r.describe().c_str());
    for (const char* w : {"linux.namespaces", "\"rwmx\" read as \"rwm\"", "CAP_NO_SUCH_THING", "RLIMIT_NOFILE",
                          "linux.uidMappings"})
        cr_assert(contains(r.err, w), "no warning naming %s:\n%s", w, r.describe().c_str());
    IT_ASSERT_NO_TRACE(c.id, c.bundle);

    // A deny rule whose letters are capitals: meant, but it would deny nothing.
    auto d = itest::container();
    d.sh("true");
    d.cfg.linux->resources->devices.push_back({.allow = false, .type = "c", .major = 1, .minor = 3, .access = "RWM"});
    IT_ASSERT_FAIL(d.run(), "linux.resources.devices", "RWM");
    // The same namespace twice with different paths: which one is meant?
    auto e = itest::container();
    e.sh("true");
    e.cfg.linux->namespaces.push_back({berth::spec::NsType::ipc, "/proc/self/ns/ipc"});
    IT_ASSERT_FAIL(e.run(), "linux.namespaces", "duplicate");
    IT_ASSERT_NO_TRACE(d.id, d.bundle);
    IT_ASSERT_NO_TRACE(e.id, e.bundle);
    itest::finish();
}

// A syntax error in config.json names its line and column.
Test(cli, json_syntax_error_names_line_and_column) {
    auto c = itest::container();
    c.write_config_text("{\n  \"ociVersion\": \"1.2.0\",\n  \"process\": {\n    \"args\": [\"sh\"]\n    \"cwd\": \"/\"\n  }\n}\n");
    auto r = itest::berth({"run", "--bundle", c.bundle, c.id});
    IT_ASSERT_FAIL(r, "config.json", "line 5, column 5");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}
