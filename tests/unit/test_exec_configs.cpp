// Execution configurations (cri/daemon/exec_configs.cpp): every key of a
// [configs.NAME] table and of a config dir's file, sizes and CPUs as
// Docker's flags take them, and the refusals that name the config, the key
// and the file: unknown keys and handlers, groups that do not exist, limits
// that contradict the quota, a name declared twice. Reloading keeps the
// last good set when the new one is bad.
#include "daemon_config.hpp"
#include "error.hpp"
#include "file_util.hpp"

#include <criterion/criterion.h>

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

using berth::Error;
using namespace berth::cri;

namespace {

const char* kFile = "/etc/berth/berthd.toml";

std::string error_of(const std::string& text) {
    try {
        parse_config_text(text, kFile);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string temp_dir() {
    char t[] = "/tmp/berth-exec-configs.XXXXXX";
    cr_assert_not_null(::mkdtemp(t));
    return t;
}

void write(const std::string& path, const std::string& text) { berth::write_file_atomic(path, text); }

} // namespace

Test(exec_configs, every_key) {
    Config c = parse_config_text(R"(
[runtime.handlers.gpu]
cdi_devices = ["nvidia.com/gpu=all"]

[configs.small]
image = "busybox:latest"
allow_image_override = true
runtime = "gpu"
groups = ["users", "root"]
network = "host"
max_runtime = "2h"
mounts = ["/data", "/scratch/shared"]
registry = { host = "registry.example.com:5000", username = "u", password = "p" }
env = { OMP_NUM_THREADS = "4", LANG = "C.UTF-8" }
[configs.small.resources]
memory = "64m"
memory_swap = "1.5g"
cpus = "1.5"
cpu_shares = 512
pids = 100
cpuset_cpus = "0-1"
cpuset_mems = "0"
io_weight = 300
hugepages = { "2MB" = "32m" }
[configs.small.quota]
memory = "1g"
cpus = 4
pids = 1000
[configs.small.quota.per_user]
memory = "256m"
cpus = 2.0
pids = 200

[configs.tiny]
image = "busybox"
)",
                                 kFile);
    cr_assert_eq(c.configs.size(), 2u);
    const ExecConfig& s = c.configs.at("small");
    cr_expect_eq(s.name, "small");
    cr_expect_eq(s.source, kFile);
    cr_expect_eq(s.image, "busybox:latest");
    cr_expect(s.allow_image_override);
    cr_expect_eq(s.runtime, "gpu");
    cr_expect_eq(s.groups.size(), 2u);
    cr_expect(s.gids.count(0), "root's gid resolved");
    cr_expect(!s.queue);
    cr_expect_eq(s.network, "host");
    cr_expect_eq(s.max_runtime.count(), 7200);
    cr_expect_eq(s.mounts.size(), 2u);
    cr_expect_eq(s.registry.host, "registry.example.com:5000");
    cr_expect_eq(s.registry.username, "u");
    cr_expect_eq(s.env.at("OMP_NUM_THREADS"), "4");
    const auto& r = s.resources;
    cr_expect_eq(*r.memory, 64 << 20);
    cr_expect_eq(*r.memory_swap, 1536ll << 20);
    cr_expect_float_eq(*r.cpus, 1.5, 1e-9);
    cr_expect_eq(*r.cpu_shares, 512u);
    cr_expect(!r.cpu_weight);
    cr_expect_eq(*r.pids, 100);
    cr_expect_eq(r.cpuset_cpus, "0-1");
    cr_expect_eq(*r.io_weight, 300);
    cr_expect_eq(r.hugepages.at("2MB"), 32 << 20);
    cr_expect_eq(*s.quota.memory, 1ll << 30);
    cr_expect_float_eq(*s.quota.cpus, 4.0, 1e-9);
    cr_expect_eq(*s.per_user.memory, 256 << 20);
    cr_expect_eq(*s.per_user.pids, 200);
    const ExecConfig& t = c.configs.at("tiny");
    cr_expect(t.groups.empty() && t.gids.empty(), "no groups: root only");
    cr_expect_eq(t.network, "none");
    cr_expect(!t.resources.memory && t.quota.empty());
}

Test(exec_configs, sizes_as_docker_takes_them) {
    auto mem = [](const std::string& v) {
        return *parse_config_text("[configs.a]\nimage = \"x\"\nresources.memory = " + v + "\n", kFile)
                    .configs.at("a")
                    .resources.memory;
    };
    cr_expect_eq(mem("\"64m\""), 64 << 20);
    cr_expect_eq(mem("\"64M\""), 64 << 20);
    cr_expect_eq(mem("\"64MiB\""), 64 << 20);
    cr_expect_eq(mem("\"64mb\""), 64 << 20);
    cr_expect_eq(mem("\"1g\""), 1 << 30);
    cr_expect_eq(mem("\"0.5g\""), 512 << 20);
    cr_expect_eq(mem("\"8192k\""), 8 << 20);
    cr_expect_eq(mem("10485760"), 10 << 20);
    cr_expect_eq(mem("\"10485760b\""), 10 << 20);
    for (const char* badv : {"\"64x\"", "\"m\"", "\"-1m\"", "\"64mm\"", "\"\"", "\"1e30g\"", "true"}) {
        std::string e = error_of(std::string("[configs.a]\nimage = \"x\"\nresources.memory = ") + badv + "\n");
        cr_expect(has(e, "configs.a.resources.memory"), "%s: %s", badv, e.c_str());
    }
    cr_expect(has(error_of("[configs.a]\nimage = \"x\"\nresources.memory = \"1m\"\n"), "minimum is 6m"));
    cr_expect(has(error_of("[configs.a]\nimage = \"x\"\nresources.cpus = 0\n"), "configs.a.resources.cpus"));
    cr_expect(has(error_of("[configs.a]\nimage = \"x\"\nresources.cpus = \"many\"\n"), "configs.a.resources.cpus"));
}

Test(exec_configs, refusals_name_the_config_and_key) {
    struct Case {
        const char* toml;
        const char* says;
    } cases[] = {
        {"[configs.a]\nimage = \"x\"\ncolour = \"red\"\n", "configs.a.colour: unknown key"},
        {"[configs.a]\nimage = \"x\"\nresources.swapiness = 1\n", "configs.a.resources.swapiness: unknown key"},
        {"[configs.a]\nimage = \"x\"\nquota.disk = \"1g\"\n", "configs.a.quota.disk: unknown key"},
        {"[configs.a]\nimage = \"x\"\nquota.per_user.per_user = {}\n", "configs.a.quota.per_user.per_user: unknown key"},
        {"[configs.a]\nimage = \"x\"\nruntime = \"gpu\"\n", "configs.a.runtime: no runtime handler \"gpu\""},
        {"[configs.a]\nimage = \"x\"\ngroups = [\"no-such-group-berth\"]\n",
         "configs.a.groups[0]: no such group \"no-such-group-berth\""},
        {"[configs.a]\nallow_image_override = true\n", "configs.a.image: required"},
        {"[configs.a]\nimage = \"x\"\nresources.memory = \"128m\"\nquota.memory = \"96m\"\n",
         "configs.a.resources.memory: 128m is more than quota.memory (96m)"},
        {"[configs.a]\nimage = \"x\"\nresources.memory = \"128m\"\nquota.per_user.memory = \"64m\"\n",
         "configs.a.resources.memory: 128m is more than quota.per_user.memory (64m)"},
        {"[configs.a]\nimage = \"x\"\nresources.cpus = 2\nquota.cpus = 1.5\n",
         "configs.a.resources.cpus: 2 is more than quota.cpus (1.5)"},
        {"[configs.a]\nimage = \"x\"\nresources.pids = 50\nquota.pids = 10\n", "configs.a.resources.pids: 50 is more"},
        {"[configs.a]\nimage = \"x\"\nquota.memory = \"1g\"\nquota.per_user.memory = \"2g\"\n",
         "configs.a.quota.per_user.memory: 2g is more than quota.memory (1g)"},
        {"[configs.a]\nimage = \"x\"\nresources.memory_swap = \"1g\"\n", "configs.a.resources.memory_swap: needs memory"},
        {"[configs.a]\nimage = \"x\"\nresources.memory = \"1g\"\nresources.memory_swap = \"512m\"\n",
         "configs.a.resources.memory_swap: 512m is less than memory (1g)"},
        {"[configs.a]\nimage = \"x\"\nresources.cpu_shares = 100\nresources.cpu_weight = 100\n", "not both"},
        {"[configs.a]\nimage = \"x\"\nresources.cpuset_cpus = \"0-\"\n", "configs.a.resources.cpuset_cpus"},
        {"[configs.a]\nimage = \"x\"\nresources.hugepages = { \"3MB\" = \"1m\" }\n", "not a huge page size"},
        {"[configs.a]\nimage = \"x\"\nmounts = [\"data\"]\n", "configs.a.mounts[0]: expected an absolute host path"},
        {"[configs.a]\nimage = \"x\"\nmounts = [\"/data/../etc\"]\n", "configs.a.mounts[0]"},
        {"[configs.a]\nimage = \"x\"\nqueue = true\n", "configs.a.queue: queueing needs quota.memory"},
        {"[configs.a]\nimage = \"x\"\nqueue = true\nquota.pids = 10\n", "configs.a.queue: queueing needs quota.memory"},
        {"[configs.a]\nimage = \"x\"\nqueue = true\nquota.memory = \"1g\"\n", "configs.a.queue: queueing needs resources.memory"},
        {"[configs.a]\nimage = \"x\"\nregistry = \"host/path\"\n", "configs.a.registry"},
        {"[configs.a]\nimage = \"x\"\nmax_runtime = \"soon\"\n", "configs.a.max_runtime"},
        {"[configs.\"../x\"]\nimage = \"x\"\n", "a config name is"},
        {"configs = 3\n", "configs: expected a table"},
        {"[executions]\nadmin_group = \"no-such-group-berth\"\n",
         "executions.admin_group: no such group \"no-such-group-berth\""},
        {"[executions]\nadmins = \"root\"\n", "executions.admins: unknown key (config_dir, admin_group)"},
    };
    for (const auto& c : cases) {
        std::string e = error_of(c.toml);
        cr_expect(has(e, c.says), "want \"%s\", got \"%s\" for:\n%s", c.says, e.c_str(), c.toml);
        cr_expect(has(e, kFile), "the file is named: %s", e.c_str());
    }
}

Test(exec_configs, admin_group_resolved_at_load) {
    Config c = parse_config_text("[executions]\nadmin_group = \"root\"\n", kFile);
    cr_expect_eq(c.executions.admin_group, "root");
    cr_assert(c.executions.admin_gid.has_value());
    cr_expect_eq(*c.executions.admin_gid, 0u);
    cr_expect(!parse_config_text("", kFile).executions.admin_gid, "no admin group unless one is named");
    cr_expect(!parse_config_text("[executions]\nadmin_group = \"\"\n", kFile).executions.admin_gid,
              "admin_group = \"\" is none (contrib/berthd.toml's default)");
}

Test(exec_configs, config_dir_files_and_reload) {
    std::string dir = temp_dir();
    std::string main = dir + "/berthd.toml", confd = dir + "/configs.d";
    ::mkdir(confd.c_str(), 0755);
    write(main, "[executions]\nconfig_dir = \"" + confd + "\"\n[configs.a]\nimage = \"busybox\"\n");
    write(confd + "/b.toml", "image = \"alpine\"\n[resources]\nmemory = \"64m\"\n");
    write(confd + "/notes.txt", "not a config\n");
    Flags f;
    f.config = main;
    f.config_given = true;
    Config c = load_config(f);
    cr_assert_eq(c.configs.size(), 2u);
    cr_expect_eq(c.configs.at("b").image, "alpine");
    cr_expect_eq(c.configs.at("b").source, confd + "/b.toml");
    cr_expect_eq(*c.configs.at("b").resources.memory, 64 << 20);

    // A new file appears; a reload sees it.
    write(confd + "/c.toml", "image = \"debian\"\n");
    ExecConfigs next = reload_exec_configs(c);
    cr_expect_eq(next.size(), 3u);
    // A bad file: the reload fails naming it and its key, and the caller
    // keeps what it had.
    write(confd + "/d.toml", "image = \"x\"\nresources.memory = \"lots\"\n");
    try {
        reload_exec_configs(c);
        cr_expect_fail("a bad file was taken");
    } catch (const Error& e) {
        cr_expect(has(e.what(), confd + "/d.toml: d.resources.memory"), "%s", e.what());
    }
    ::unlink((confd + "/d.toml").c_str());
    // A name in both places is refused.
    write(confd + "/a.toml", "image = \"x\"\n");
    try {
        reload_exec_configs(c);
        cr_expect_fail("a config declared twice was taken");
    } catch (const Error& e) {
        cr_expect(has(e.what(), "config \"a\" is also declared in " + main), "%s", e.what());
    }
    for (const char* n : {"/a.toml", "/b.toml", "/c.toml", "/notes.txt"}) ::unlink((confd + n).c_str());
    ::rmdir(confd.c_str());
    ::unlink(main.c_str());
    ::rmdir(dir.c_str());
}
