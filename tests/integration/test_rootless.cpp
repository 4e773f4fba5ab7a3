// Rootless: berth run by an unprivileged user (nobody, 65534) with a user
// namespace, for a bundle like `berth spec --rootless` makes.
#include "harness.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>

using itest::contains;

TestSuite(rootless, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

namespace {

constexpr int kNobody = 65534;

// A config like `berth spec --rootless`, on the shared busybox rootfs,
// mapping container root to nobody.
berth::spec::Config rootless_config(const std::string& script) {
    auto c = berth::spec::default_config(true);
    c.root.path = itest::shared_rootfs();
    c.process->terminal = false;
    c.process->args = {"sh", "-c", script};
    for (auto* m : {&c.linux->uidMappings, &c.linux->gidMappings})
        for (auto& e : *m) e.hostID = kNobody;
    return c;
}

// A state root owned by nobody.
std::string nobody_root() {
    std::string r = itest::make_dir("rootless-state");
    cr_assert_eq(chown(r.c_str(), kNobody, kNobody), 0);
    return r;
}

itest::Result run_as_nobody(const itest::Container& c, const std::string& root) {
    c.write_config();
    return itest::run_cmd({"/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                           std::getenv("BERTH"), "--root", root, "run", "--bundle", c.bundle, c.id});
}

bool empty_dir(const std::string& path) {
    DIR* d = opendir(path.c_str());
    if (!d) return true;
    int n = 0;
    while (auto* e = readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
    closedir(d);
    return n == 0;
}

void require_setpriv() {
    if (access("/usr/bin/setpriv", X_OK) != 0) itest::skip("setpriv (util-linux) is not installed");
}

} // namespace

Test(rootless, run_as_unprivileged_user) {
    require_setpriv();
    auto c = itest::container();
    c.cfg = rootless_config("id -u; cat /proc/self/uid_map; hostname; grep NoNewPrivs /proc/self/status");
    std::string root = nobody_root();
    auto r = run_as_nobody(c, root);
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert(l.size() >= 4, "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(l[0], "0", r.describe());
    cr_assert(contains(l[1], "65534"), "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(l[2], "berth", r.describe());
    cr_assert(empty_dir(root), "state left behind in %s", root.c_str());
    itest::finish();
}

Test(rootless, mapping_another_uid_is_refused_clearly) {
    require_setpriv();
    auto c = itest::container();
    c.cfg = rootless_config("true");
    c.cfg.linux->uidMappings[0].hostID = 0;   // not ours to map
    std::string root = nobody_root();
    auto r = run_as_nobody(c, root);
    cr_assert_neq(r.status, 0, "%s", r.describe().c_str());
    cr_assert(contains(r.err, "linux.uidMappings"), "%s", r.describe().c_str());
    cr_assert(contains(r.err, "own uid"), "%s", r.describe().c_str());
    cr_assert(empty_dir(root), "state left behind in %s", root.c_str());
    itest::finish();
}

Test(rootless, cgroup_limits_need_cgroup_access) {
    require_setpriv();
    auto c = itest::container();
    c.cfg = rootless_config("true");
    c.cfg.linux->cgroupsPath = itest::cgroup_parent() + "/" + c.id;
    c.cfg.linux->resources.emplace();
    c.cfg.linux->resources->pids = berth::spec::Pids{64};
    std::string root = nobody_root();
    auto r = run_as_nobody(c, root);
    cr_assert_neq(r.status, 0, "%s", r.describe().c_str());
    cr_assert(contains(r.err, "linux.resources"), "%s", r.describe().c_str());
    cr_assert(empty_dir(root), "state left behind in %s", root.c_str());
    itest::finish();
}

// exec by the unprivileged owner: berth can't join the container's pid
// namespace for its child, so the child joins it and forks once more.
Test(rootless, exec_as_unprivileged_user) {
    require_setpriv();
    auto c = itest::container();
    c.cfg = rootless_config("exec sleep 600");
    c.write_config();
    std::string root = nobody_root();
    auto as_nobody = [&](std::vector<std::string> args, const itest::SpawnOpts& o = {}) {
        std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                                         std::getenv("BERTH"), "--root", root};
        argv.insert(argv.end(), args.begin(), args.end());
        return itest::run_cmd(argv, o);
    };
    itest::SpawnOpts detached;
    detached.stdout_path = c.out_path;
    IT_ASSERT_OK(as_nobody({"run", "-d", "--bundle", c.bundle, c.id}, detached));
    auto st = as_nobody({"state", c.id});
    IT_ASSERT_OK(st);
    std::string pid = itest::json_field(st.out, "pid");
    auto r = as_nobody({"exec", c.id, "sh", "-c", "id -u; readlink /proc/self/ns/pid; echo $$; exit 3"});
    cr_assert_eq(r.status, 3, "%s", r.describe().c_str());
    auto l = itest::lines(r.out);
    cr_assert_eq(l.size(), 3u, "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(l[0], "0", r.describe());
    IT_ASSERT_STR_EQ(l[1], itest::readlink_str("/proc/" + pid + "/ns/pid"), r.describe());
    cr_assert(l[2] != "1", "%s", r.describe().c_str());
    IT_ASSERT_OK(as_nobody({"delete", "--force", c.id}));
    cr_assert(empty_dir(root), "state left behind in %s", root.c_str());
    itest::finish();
}
