// Unit tests for runtime pieces that need no root: mount option table,
// container ids, signal names, state.json round trip, cgroup writer on a
// fake cgroupfs tree, and path resolution inside a hostile rootfs.
#include <criterion/criterion.h>

#include "cgroup.hpp"
#include "container.hpp"
#include "error.hpp"
#include "file_util.hpp"
#include "mount_options.hpp"
#include "json.hpp"
#include "path_resolve.hpp"
#include "seccomp.hpp"
#include "state.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

using namespace berth;

namespace {

std::string temp_dir() {
    char tmpl[] = "/tmp/berth-unit-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    return tmpl;
}

void rm_rf(const std::string& path) {
    std::string cmd = "rm -rf '" + path + "'";
    cr_assert_eq(std::system(cmd.c_str()), 0);
}

template <class Fn>
std::string error_of(Fn fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

} // namespace

Test(mount_options, flags_and_clears) {
    auto o = parse_mount_options({"ro", "nosuid", "nodev", "noexec", "rw", "suid"});
    cr_assert_eq(o.flags, static_cast<unsigned long>(MS_NODEV | MS_NOEXEC));
    cr_assert(o.data.empty());
}

Test(mount_options, bind_recursion_and_propagation) {
    auto o = parse_mount_options({"rbind", "rslave"});
    cr_assert(o.bind());
    cr_assert(o.flags & MS_REC);
    cr_assert_eq(o.propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
    auto p = parse_mount_options({"bind", "private"});
    cr_assert_not(p.flags & MS_REC);
    cr_assert_eq(p.propagation, static_cast<unsigned long>(MS_PRIVATE));
}

Test(mount_options, unknown_options_become_data) {
    auto o = parse_mount_options({"nosuid", "mode=755", "size=65536k", "strictatime"});
    cr_assert_str_eq(o.data.c_str(), "mode=755,size=65536k");
    cr_assert(o.flags & MS_STRICTATIME);
}

Test(mount_options, recursive_attributes) {
    auto o = parse_mount_options({"rro", "rnosuid", "rrelatime"});
    cr_assert(o.attr_set & MOUNT_ATTR_RDONLY);
    cr_assert(o.attr_set & MOUNT_ATTR_NOSUID);
    // relatime is the zero atime mode: selected by clearing the atime field.
    cr_assert_not(o.attr_set & (MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME));
    cr_assert(o.attr_clr & MOUNT_ATTR__ATIME);
    auto c = parse_mount_options({"rro", "rrw"});
    cr_assert_not(c.attr_set & MOUNT_ATTR_RDONLY);
    cr_assert(c.attr_clr & MOUNT_ATTR_RDONLY);
}

Test(mount_options, rootfs_propagation_names) {
    cr_assert_eq(propagation_flags(""), 0ul);
    cr_assert_eq(propagation_flags("rshared"), static_cast<unsigned long>(MS_SHARED | MS_REC));
    auto msg = error_of([] { propagation_flags("sideways"); });
    cr_assert(msg.find("linux.rootfsPropagation") != std::string::npos, "%s", msg.c_str());
}

Test(ids, valid_and_invalid) {
    validate_id("abc-DEF_1.2+3");
    for (const char* bad : {"", ".", "..", "a/b", "a b", "../x", "x\n"}) {
        auto msg = error_of([&] { validate_id(bad); });
        cr_assert_neq(msg.size(), 0u, "id \"%s\" was accepted", bad);
    }
    cr_assert_neq(error_of([] { validate_id(std::string(1025, 'a')); }).size(), 0u);
}

Test(signals, names_and_numbers) {
    cr_assert_eq(parse_signal("KILL"), SIGKILL);
    cr_assert_eq(parse_signal("SIGKILL"), SIGKILL);
    cr_assert_eq(parse_signal("sigterm"), SIGTERM);
    cr_assert_eq(parse_signal("9"), 9);
    cr_assert_eq(parse_signal("RTMIN+2"), SIGRTMIN + 2);
    cr_assert(error_of([] { parse_signal("NOPE"); }).find("unknown signal") != std::string::npos);
    // 0 is kill(2)'s existence check, which runc's kill passes through.
    cr_assert_eq(parse_signal("0"), 0);
    cr_assert_neq(error_of([] { parse_signal("65"); }).size(), 0u);
    cr_assert_neq(error_of([] { parse_signal("999"); }).size(), 0u);
}

Test(state, round_trip_and_duplicates) {
    auto root = temp_dir();
    ContainerState s;
    s.oci_version = "1.2.0";
    s.id = "c1";
    s.pid = 4242;
    s.pid_start = 123456789;
    s.bundle = "/b";
    s.rootfs = "/b/rootfs";
    s.created = "2026-11-22T00:00:00Z";
    s.owner = "root";
    s.annotations = {{"a", "1"}, {"org.x", "y"}};
    s.cgroup_path = "/berth/c1";
    s.cgroup_created = {"/sys/fs/cgroup/cpu/berth", "/sys/fs/cgroup/cpu/berth/c1"};
    s.own_pid_ns = false;
    {
        auto dir = StateDir::create(root, "c1");
        dir.save(s);
        auto l = dir.load();
        cr_assert_eq(l.pid, 4242);
        cr_assert_eq(l.pid_start, 123456789u);
        cr_assert(l.annotations == s.annotations);
        cr_assert(l.cgroup_created == s.cgroup_created);
        cr_assert_not(l.own_pid_ns);
        cr_assert_str_eq(l.created.c_str(), s.created.c_str());
        // A second create of the same id is refused while the first exists.
        auto msg = error_of([&] { StateDir::create(root, "c1"); });
        cr_assert(msg.find("already exists") != std::string::npos, "%s", msg.c_str());
        // Status: pid 4242 with that start time is not alive.
        cr_assert_eq(current_status(l, dir), Status::stopped);
        dir.remove();
    }
    auto msg = error_of([&] { StateDir::open(root, "c1"); });
    cr_assert(msg.find("does not exist") != std::string::npos, "%s", msg.c_str());
    rm_rf(root);
}

Test(state, oci_state_json_fields) {
    ContainerState s;
    s.oci_version = "1.2.0";
    s.id = "x";
    s.pid = 77;
    s.bundle = "/b";
    s.rootfs = "/b/rootfs";
    s.created = "t";
    s.owner = "root";
    auto running = oci_state_json(s, Status::running, false);
    cr_assert(running.find("\"pid\":77") != std::string::npos, "%s", running.c_str());
    cr_assert(running.find("\"status\":\"running\"") != std::string::npos);
    cr_assert(running.find("annotations") == std::string::npos);
    auto stopped = oci_state_json(s, Status::stopped, false);
    cr_assert(stopped.find("\"pid\":0") != std::string::npos, "%s", stopped.c_str());
}

// What a seccomp agent gets: the runtime spec's containerProcessState,
// strict JSON, members in the spec's order, metadata only when set.
Test(state, container_process_state_json) {
    ContainerState s;
    s.oci_version = "1.2.0";
    s.id = "x";
    s.pid = 77;
    s.bundle = "/b";
    s.rootfs = "/b/rootfs";
    s.annotations = {{"k", "v"}};
    spec::Seccomp sc;
    sc.listenerMetadata = "meta \"quoted\"";
    auto text = container_process_state_json(sc, 78, spec_state_json(s, Status::creating));
    json::Document doc(text, "state");
    auto root = doc.root();
    std::string keys, state_keys;
    for (auto& [k, v] : root.members()) keys += k + ",";
    for (auto& [k, v] : root.get("state").members()) state_keys += k + ",";
    cr_assert_str_eq(keys.c_str(), "ociVersion,fds,pid,metadata,state,");
    cr_assert_str_eq(state_keys.c_str(), "ociVersion,id,status,pid,bundle,annotations,");
    cr_assert_eq(root.get("pid").as_int64(), 78);
    cr_assert_eq(root.get("state").get("pid").as_int64(), 77);
    // (Criterion's macros keep the pointer past the full expression: the
    // strings must outlive them.)
    std::string meta = root.get("metadata").as_string(), fd0 = root.get("fds").as_string_array().at(0),
                status = root.get("state").get("status").as_string();
    cr_assert_str_eq(meta.c_str(), "meta \"quoted\"");
    cr_assert_str_eq(fd0.c_str(), "seccompFd");
    cr_assert_str_eq(status.c_str(), "creating");
    sc.listenerMetadata.clear();
    json::Document bare(container_process_state_json(sc, 78, spec_state_json(s, Status::running)), "state");
    cr_assert(!bare.root().has("metadata"));
}

Test(cgroup, fake_tree_create_add_destroy) {
    auto base = temp_dir();
    std::vector<cgroup::Hierarchy> hs(2);
    hs[0].mountpoint = base + "/cpuset";
    hs[0].name = "cpuset";
    hs[0].controllers = {"cpuset"};
    hs[1].mountpoint = base + "/unified";
    hs[1].name = "unified";
    hs[1].v2 = true;
    for (auto& h : hs) cr_assert_eq(mkdir(h.mountpoint.c_str(), 0755), 0);
    write_file_atomic(base + "/cpuset/cpuset.cpus", "0-1\n");
    write_file_atomic(base + "/cpuset/cpuset.mems", "0\n");

    auto cg = cgroup::open_in(hs, "/a/b");
    cg->create();
    cr_assert_eq(cg->created().size(), 4u);
    // cpuset: each new level inherits the parent's cpus and mems.
    // (Criterion's str asserts keep the char*: no .c_str() of a temporary.)
    std::string cpus = read_file(base + "/cpuset/a/cpuset.cpus");
    std::string mems = read_file(base + "/cpuset/a/b/cpuset.mems");
    cr_assert_str_eq(cpus.c_str(), "0-1\n");
    cr_assert_str_eq(mems.c_str(), "0\n");
    // add() writes the pid to cgroup.procs in every hierarchy.
    for (auto& d : {"/cpuset/a/b/cgroup.procs", "/unified/a/b/cgroup.procs"}) write_file_atomic(base + d, "");
    cg->add(1234);
    std::string procs = read_file(base + "/unified/a/b/cgroup.procs");
    cr_assert_str_eq(procs.c_str(), "1234");
    cr_assert_eq(cg->pids().size(), 1u);
    cr_assert_eq(cg->pids()[0], 1234);
    // A restored manager destroys what the first one created (files removed
    // here because a fake tree, unlike cgroupfs, keeps them).
    for (auto& f : {"/cpuset/a/b/cgroup.procs", "/unified/a/b/cgroup.procs", "/cpuset/a/b/cpuset.cpus",
                    "/cpuset/a/b/cpuset.mems", "/cpuset/a/cpuset.cpus", "/cpuset/a/cpuset.mems"})
        cr_assert_eq(unlink((base + f).c_str()), 0, "%s", f);
    auto again = cgroup::open_in(hs, "/a/b", cg->created());
    again->destroy();
    struct stat st;
    cr_assert_neq(stat((base + "/cpuset/a").c_str(), &st), 0);
    cr_assert_neq(stat((base + "/unified/a").c_str(), &st), 0);
    cr_assert_eq(stat((base + "/unified").c_str(), &st), 0);
    rm_rf(base);
}

Test(cgroup, existing_parent_is_kept) {
    auto base = temp_dir();
    std::vector<cgroup::Hierarchy> hs(1);
    hs[0].mountpoint = base;
    hs[0].v2 = true;
    cr_assert_eq(mkdir((base + "/shared").c_str(), 0755), 0);
    auto cg = cgroup::open_in(hs, "/shared/c1");
    cg->create();
    cr_assert_eq(cg->created().size(), 1u);
    cg->destroy();
    struct stat st;
    cr_assert_eq(stat((base + "/shared").c_str(), &st), 0, "a parent that existed before must stay");
    rm_rf(base);
}

Test(cgroup, path_rules) {
    std::string def = cgroup::container_path("", "c1"), given = cgroup::container_path("/x/y", "c1");
    cr_assert_str_eq(def.c_str(), "/berth/c1");
    cr_assert_str_eq(given.c_str(), "/x/y");
    auto msg = error_of([] { cgroup::open_in({}, "/a/../../etc"); });
    cr_assert(msg.find("linux.cgroupsPath") != std::string::npos, "%s", msg.c_str());
    cr_assert_eq(error_of([] { cgroup::open_in({}, "/a/b..c"); }).size(), 0u);
}

// A hostile rootfs: symlinks that point at the host, absolute and relative.
Test(path_resolve, symlinks_stay_inside_root) {
    auto host = temp_dir();   // stands for a host directory an image must not reach
    auto root = temp_dir();
    cr_assert_eq(mkdir((root + "/etc").c_str(), 0755), 0);
    cr_assert_eq(symlink(host.c_str(), (root + "/abs").c_str()), 0);
    cr_assert_eq(symlink(("../../../../../.." + host).c_str(), (root + "/etc/rel").c_str()), 0);
    UniqueFd rootfd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    cr_assert(static_cast<bool>(rootfd));

    // mkdir -p through each symlink creates the dirs inside the root.
    auto a = mkdir_in_root(rootfd.get(), "/abs/sub/dir");
    auto r = mkdir_in_root(rootfd.get(), "/etc/rel/x");
    auto f = mkfile_in_root(rootfd.get(), "/abs/file");
    struct stat st;
    cr_assert_eq(stat((root + host + "/sub/dir").c_str(), &st), 0, "target must be created under the root");
    cr_assert_eq(stat((root + host + "/x").c_str(), &st), 0);
    cr_assert_eq(stat((root + host + "/file").c_str(), &st), 0);
    std::string listing;
    cr_assert_eq(std::system(("test -z \"$(ls -A '" + host + "')\"").c_str()), 0, "host dir was written to");

    // Opening ".." past the root stays at the root.
    auto up = open_in_root(rootfd.get(), "/../../..", O_PATH | O_DIRECTORY);
    struct stat a1, a2;
    cr_assert_eq(fstat(up.get(), &a1), 0);
    cr_assert_eq(fstat(rootfd.get(), &a2), 0);
    cr_assert_eq(a1.st_ino, a2.st_ino);
    rm_rf(root);
    rm_rf(host);
}

Test(path_resolve, dangling_symlink_target_created_inside_root) {
    // Like an image's /etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf,
    // with the target missing: a bind target follows the link inside the root.
    auto root = temp_dir();
    cr_assert_eq(mkdir((root + "/etc").c_str(), 0755), 0);
    cr_assert_eq(symlink("../run/resolve/stub.conf", (root + "/etc/resolv.conf").c_str()), 0);
    cr_assert_eq(symlink("/nonexistent/target", (root + "/dangling").c_str()), 0);
    UniqueFd rootfd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    auto f = mkfile_in_root(rootfd.get(), "/etc/resolv.conf");
    auto d = mkdir_in_root(rootfd.get(), "/dangling/sub");
    struct stat st;
    cr_assert_eq(stat((root + "/run/resolve/stub.conf").c_str(), &st), 0);
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(stat((root + "/nonexistent/target/sub").c_str(), &st), 0);
    cr_assert_neq(stat("/nonexistent", &st), 0, "nothing may appear on the host");
    rm_rf(root);
}

Test(path_resolve, symlink_loop_is_an_error) {
    auto root = temp_dir();
    cr_assert_eq(symlink("/b", (root + "/a").c_str()), 0);
    cr_assert_eq(symlink("/a", (root + "/b").c_str()), 0);
    UniqueFd rootfd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    auto msg = error_of([&] { mkdir_in_root(rootfd.get(), "/a/x"); });
    cr_assert_neq(msg.size(), 0u);
    rm_rf(root);
}

Test(path_resolve, file_where_dir_expected) {
    auto root = temp_dir();
    write_file_atomic(root + "/file", "x");
    UniqueFd rootfd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    auto msg = error_of([&] { mkdir_in_root(rootfd.get(), "/file/sub"); });
    cr_assert(msg.find("ot a directory") != std::string::npos, "%s", msg.c_str());
    rm_rf(root);
}

Test(path_resolve, magic_links_refused) {
    auto root = temp_dir();
    cr_assert_eq(symlink("/proc/self/root", (root + "/escape").c_str()), 0);
    UniqueFd rootfd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    // Inside the root, /proc/self/root does not exist; the link cannot jump out.
    auto msg = error_of([&] { open_in_root(rootfd.get(), "/escape/etc/passwd", O_PATH); });
    cr_assert_neq(msg.size(), 0u);
    rm_rf(root);
}

// The openat2-free walk (kernels before 5.6) must answer exactly as openat2
// RESOLVE_IN_ROOT does on the same hostile tree.
Test(path_resolve, walk_fallback_matches_openat2) {
    auto host = temp_dir();
    auto root = temp_dir();
    cr_assert_eq(mkdir((root + "/etc").c_str(), 0755), 0);
    cr_assert_eq(mkdir((root + "/data").c_str(), 0755), 0);
    write_file_atomic(root + "/data/file", "inside");
    write_file_atomic(host + "/file", "HOST");
    cr_assert_eq(symlink(host.c_str(), (root + "/abs").c_str()), 0);                      // absolute, to the host
    cr_assert_eq(symlink(("../../../../.." + host).c_str(), (root + "/etc/rel").c_str()), 0);  // climbs out
    cr_assert_eq(symlink("/data", (root + "/etc/data").c_str()), 0);                     // absolute, inside
    cr_assert_eq(symlink("../data/file", (root + "/etc/f").c_str()), 0);
    UniqueFd rootfd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    for (const char* p : {"/etc/data/file", "/etc/f", "/../../data/file", "/etc/../etc/data/../data/file"}) {
        auto a = open_in_root(rootfd.get(), p, O_RDONLY);
        auto b = open_in_root_walk(rootfd.get(), p, O_RDONLY);
        struct stat sa, sb;
        cr_assert_eq(fstat(a.get(), &sa), 0);
        cr_assert_eq(fstat(b.get(), &sb), 0);
        cr_assert_eq(sa.st_ino, sb.st_ino, "%s resolves differently", p);
        char buf[16] = {};
        cr_assert_gt(read(b.get(), buf, sizeof buf - 1), 0);
        cr_assert_str_eq(buf, "inside", "%s", p);
    }
    // Links to the host resolve inside the root, where the target is missing.
    for (const char* p : {"/abs/file", "/etc/rel/file"}) {
        auto e1 = error_of([&] { open_in_root(rootfd.get(), p, O_RDONLY); });
        auto e2 = error_of([&] { open_in_root_walk(rootfd.get(), p, O_RDONLY); });
        cr_assert_neq(e1.size(), 0u, "%s reached the host via openat2", p);
        cr_assert_neq(e2.size(), 0u, "%s reached the host via the walk", p);
    }
    rm_rf(root);
    rm_rf(host);
}

Test(path_resolve, walk_fallback_refuses_loops_and_magic_links) {
    auto root = temp_dir();
    cr_assert_eq(symlink("/b", (root + "/a").c_str()), 0);
    cr_assert_eq(symlink("/a", (root + "/b").c_str()), 0);
    cr_assert_eq(symlink("/proc/self/root", (root + "/escape").c_str()), 0);
    UniqueFd rootfd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    cr_assert_neq(error_of([&] { open_in_root_walk(rootfd.get(), "/a/x", O_PATH); }).size(), 0u);
    cr_assert_neq(error_of([&] { open_in_root_walk(rootfd.get(), "/escape/etc/passwd", O_PATH); }).size(), 0u);
    rm_rf(root);
}
