// Namespaces, as seen from inside the container.
#include "harness.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <cstdlib>
#include <sstream>

using berth::spec::IdMapping;
using berth::spec::Namespace;
using berth::spec::NsType;
using itest::trim;

TestSuite(namespaces, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

namespace {

void add_ns(itest::Container& c, NsType t, const std::string& path = "") {
    for (auto& n : c.cfg.linux->namespaces)
        if (n.type == t) {
            n.path = path;
            return;
        }
    c.cfg.linux->namespaces.push_back({t, path});
}

// Collapse runs of blanks, for /proc/self/uid_map's column padding.
std::string squeeze(const std::string& s) {
    std::istringstream in(s);
    std::string w, out;
    while (in >> w) out += (out.empty() ? "" : " ") + w;
    return out;
}

double first_number(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

} // namespace

Test(namespaces, uts_hostname) {
    auto c = itest::container();
    c.cfg.hostname = "itest-uts";
    c.sh("hostname; cat /proc/sys/kernel/hostname");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "itest-uts\nitest-uts\n", r.describe());
    // The host's name is untouched.
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    cr_assert_str_neq(host, "itest-uts");
    itest::finish();
}

Test(namespaces, pid_namespace) {
    auto c = itest::container();
    c.sh("echo $$; ps -o pid,comm");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert(l.size() >= 3, "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(l[0], "1", r.describe());
    // The header, then only the container's own processes (sh and ps).
    size_t procs = l.size() - 2;
    cr_assert(procs >= 1 && procs <= 3, "ps lists %zu processes:\n%s", procs, r.describe().c_str());
    cr_assert(itest::contains(r.out, "ps"), "%s", r.describe().c_str());
    itest::finish();
}

Test(namespaces, network_only_lo) {
    auto c = itest::container();
    c.sh("ip link");
    auto r = c.run();
    IT_ASSERT_OK(r);
    std::vector<std::string> links;
    for (auto& l : itest::lines(r.out))
        if (!l.empty() && l[0] >= '0' && l[0] <= '9') links.push_back(l);
    cr_assert_eq(links.size(), 1u, "expected only lo:\n%s", r.describe().c_str());
    cr_assert(itest::contains(links[0], ": lo:"), "%s", r.describe().c_str());
    itest::finish();
}

Test(namespaces, ipc_differs_from_host) {
    auto c = itest::container();
    c.sh("readlink /proc/self/ns/ipc");
    auto r = c.run();
    IT_ASSERT_OK(r);
    std::string inside = trim(r.out), host = itest::readlink_str("/proc/self/ns/ipc");
    cr_assert(inside.rfind("ipc:[", 0) == 0, "%s", r.describe().c_str());
    cr_assert(inside != host, "container ipc ns %s is the host's %s", inside.c_str(), host.c_str());
    itest::finish();
}

Test(namespaces, mount_namespace) {
    auto c = itest::container();
    // The host's work dir (where the bundle lives) is not visible inside,
    // and the mount namespace is not the host's.
    c.sh("readlink /proc/self/ns/mnt; if [ -e '" + itest::work_dir() + "' ]; then echo visible; else echo hidden; fi; "
         "ls /bin/busybox");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert_eq(l.size(), 3u, "%s", r.describe().c_str());
    cr_assert(l[0].rfind("mnt:[", 0) == 0 && l[0] != itest::readlink_str("/proc/self/ns/mnt"), "%s",
              r.describe().c_str());
    IT_ASSERT_STR_EQ(l[1], "hidden", r.describe());
    IT_ASSERT_STR_EQ(l[2], "/bin/busybox", r.describe());
    itest::finish();
}

Test(namespaces, cgroup_namespace_root) {
    auto c = itest::container();
    add_ns(c, NsType::cgroup);
    c.sh("cat /proc/self/cgroup");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert(!l.empty(), "%s", r.describe().c_str());
    for (auto& line : l) {
        auto path = line.substr(line.rfind(':') + 1);
        cr_assert(path == "/", "cgroup line not rooted at /: [%s]\n%s", line.c_str(), r.describe().c_str());
    }
    itest::finish();
}

Test(namespaces, no_cgroup_namespace_shows_path) {
    // Contrast: without a cgroup namespace the full path is visible.
    auto c = itest::container();
    c.sh("cat /proc/self/cgroup");
    auto r = c.run();
    IT_ASSERT_OK(r);
    std::string want = itest::cgroup_parent() + "/" + c.id;
    for (auto& line : itest::lines(r.out)) {
        auto path = line.substr(line.rfind(':') + 1);
        IT_ASSERT_STR_EQ(path, want, line + "\n" + r.describe());
    }
    itest::finish();
}

Test(namespaces, user_namespace_mappings) {
    auto c = itest::container();
    add_ns(c, NsType::user);
    c.cfg.linux->uidMappings = {IdMapping{0, 100000, 65536}};
    c.cfg.linux->gidMappings = {IdMapping{0, 100000, 65536}};
    c.sh("cat /proc/self/uid_map; cat /proc/self/gid_map; id -u; id -g; stat -c '%t %T' /dev/null; "
         "readlink /proc/self/ns/user");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert_eq(l.size(), 6u, "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(squeeze(l[0]), "0 100000 65536", r.describe());
    IT_ASSERT_STR_EQ(squeeze(l[1]), "0 100000 65536", r.describe());
    IT_ASSERT_STR_EQ(l[2], "0", r.describe());
    IT_ASSERT_STR_EQ(l[3], "0", r.describe());
    IT_ASSERT_STR_EQ(l[4], "1 3", r.describe());   // /dev/null bound from the host
    cr_assert(l[5] != itest::readlink_str("/proc/self/ns/user"), "%s", r.describe().c_str());
    itest::finish();
}

Test(namespaces, user_namespace_host_view) {
    // From the host, the container's root is uid 100000.
    auto c = itest::container();
    add_ns(c, NsType::user);
    c.cfg.linux->uidMappings = {IdMapping{0, 100000, 65536}};
    c.cfg.linux->gidMappings = {IdMapping{0, 100000, 65536}};
    c.sh("exec sleep 30");
    auto r = c.run({"-d"});
    IT_ASSERT_OK(r);
    cr_assert(c.wait_status("running"), "state: %s", c.state().describe().c_str());
    pid_t pid = c.pid();
    cr_assert(pid > 0);
    std::string uid_line;
    for (auto& l : itest::lines(itest::read_file("/proc/" + std::to_string(pid) + "/status")))
        if (l.rfind("Uid:", 0) == 0) uid_line = squeeze(l);
    IT_ASSERT_STR_EQ(uid_line, "Uid: 100000 100000 100000 100000", "host /proc/PID/status");
    itest::finish();
}

Test(namespaces, time_namespace_boottime_offset) {
    auto c = itest::container();
    add_ns(c, NsType::time);
    c.cfg.linux->timeOffsets["boottime"] = {86400, 0};
    double host_before = first_number(itest::read_file("/proc/uptime"));
    c.sh("cat /proc/uptime");
    auto r = c.run();
    IT_ASSERT_OK(r);
    double inside = first_number(r.out);
    cr_assert(inside >= host_before + 86400, "uptime inside %.2f, host %.2f (+86400 expected)\n%s", inside,
              host_before, r.describe().c_str());
    // And well under two days more: the offset is exactly one day.
    double host_after = first_number(itest::read_file("/proc/uptime"));
    cr_assert(inside <= host_after + 86400 + 1, "uptime inside %.2f, host after %.2f", inside, host_after);
    itest::finish();
}

Test(namespaces, join_network_namespace_by_path) {
    auto a = itest::container();
    a.sh("readlink /proc/self/ns/net; exec sleep 30");
    auto ra = a.run({"-d"});
    IT_ASSERT_OK(ra);
    cr_assert(a.wait_status("running"), "state: %s", a.state().describe().c_str());
    // A wrote its netns to its stdout (out.txt); wait for the line.
    bool got = false;
    for (int i = 0; i < 500 && !got; ++i) {
        got = itest::contains(a.output(), "\n");
        if (!got) ::usleep(10000);
    }
    cr_assert(got, "container A printed nothing");
    std::string a_ns = trim(a.output());
    pid_t apid = a.pid();
    cr_assert(apid > 0);
    std::string host_view = itest::readlink_str("/proc/" + std::to_string(apid) + "/ns/net");
    IT_ASSERT_STR_EQ(a_ns, host_view, "A's netns inside vs /proc/<A pid>/ns/net on the host");

    auto b = itest::container();
    add_ns(b, NsType::network, "/proc/" + std::to_string(apid) + "/ns/net");
    b.sh("readlink /proc/self/ns/net");
    auto rb = b.run();
    IT_ASSERT_OK(rb);
    IT_ASSERT_STR_EQ(trim(rb.out), a_ns, rb.describe());
    cr_assert(a_ns != itest::readlink_str("/proc/self/ns/net"));
    itest::finish();
}

Test(namespaces, join_pid_and_uts_namespaces_by_path) {
    auto a = itest::container();
    a.cfg.hostname = "itest-a";
    a.sh("exec sleep 30");
    IT_ASSERT_OK(a.run({"-d"}));
    cr_assert(a.wait_status("running"), "state: %s", a.state().describe().c_str());
    std::string apid = std::to_string(a.pid());

    auto b = itest::container();
    b.cfg.hostname.clear();   // joining A's uts namespace: keep its name
    add_ns(b, NsType::pid, "/proc/" + apid + "/ns/pid");
    add_ns(b, NsType::uts, "/proc/" + apid + "/ns/uts");
    b.sh("hostname; echo $$; ps -o pid,comm");
    auto r = b.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert(l.size() >= 3, "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(l[0], "itest-a", r.describe());
    cr_assert(l[1] != "1", "B is the init of its own pid namespace:\n%s", r.describe().c_str());
    // A's sleep is pid 1 in the shared namespace.
    bool saw_a = false;
    for (auto& line : l)
        if (squeeze(line) == "1 sleep") saw_a = true;
    cr_assert(saw_a, "A's process not visible from B:\n%s", r.describe().c_str());
    itest::finish();
}

Test(namespaces, user_namespace_files_on_bind_mount_show_mapped_ids) {
    std::string shared = itest::make_dir("userns-bind");
    cr_assert_eq(chmod(shared.c_str(), 0777), 0);
    for (uint32_t uid : {0u, 1000u}) {
        auto c = itest::container();
        add_ns(c, NsType::user);
        c.cfg.linux->uidMappings = {IdMapping{0, 100000, 65536}};
        c.cfg.linux->gidMappings = {IdMapping{0, 100000, 65536}};
        c.cfg.process->user.uid = uid;
        c.cfg.process->user.gid = uid;
        // Onto a dir the image has: the mapped root may not create one in a
        // rootfs owned by the host's root.
        c.cfg.mounts.push_back(berth::spec::Mount{"/tmp", "bind", shared, {"rbind", "rw"}});
        c.sh("touch /tmp/f" + std::to_string(uid) + " && stat -c '%u:%g' /tmp/f" + std::to_string(uid));
        auto r = c.run();
        IT_ASSERT_OK(r);
        std::string inside = std::to_string(uid) + ":" + std::to_string(uid);
        IT_ASSERT_STR_EQ(trim(r.out), inside, r.describe());
        struct stat st;
        std::string f = shared + "/f" + std::to_string(uid);
        cr_assert_eq(stat(f.c_str(), &st), 0, "%s missing on the host", f.c_str());
        cr_assert_eq(st.st_uid, 100000 + uid, "host uid %u for container uid %u", st.st_uid, uid);
        cr_assert_eq(st.st_gid, 100000 + uid, "host gid %u for container gid %u", st.st_gid, uid);
    }
    itest::finish();
}

// ---- the runtime's mount namespace, inherited ------------------------------

namespace {

// No "mount" in linux.namespaces: the container shares berth's mount
// namespace (the spec allows it), so nothing may be mounted for it.
void inherit_mount_ns(itest::Container& c) {
    auto& ns = c.cfg.linux->namespaces;
    ns.erase(std::remove_if(ns.begin(), ns.end(), [](const Namespace& n) { return n.type == NsType::mount; }),
             ns.end());
    c.cfg.mounts.clear();
    c.cfg.linux->maskedPaths.clear();
    c.cfg.linux->readonlyPaths.clear();
    c.cfg.root.readonly = false;
}

} // namespace

Test(namespaces, inherited_mount_namespace_chroots_into_the_rootfs) {
    auto c = itest::container();
    std::string rootfs = c.copy_rootfs();
    itest::write_file(rootfs + "/container-root", "");
    inherit_mount_ns(c);
    c.sh("ls /; exec sleep 30");
    IT_ASSERT_OK(c.run({"-d"}));
    cr_assert(c.wait_status("running"));
    auto out = itest::wait_output(c, "container-root");
    cr_assert(itest::contains(out, "container-root"), "%s", out.c_str());
    std::string pid = std::to_string(c.pid());
    IT_ASSERT_STR_EQ(itest::readlink_str("/proc/" + pid + "/ns/mnt"), itest::readlink_str("/proc/self/ns/mnt"),
                     "the container has a mount namespace of its own");
    IT_ASSERT_STR_EQ(itest::readlink_str("/proc/" + pid + "/root"), rootfs, "its root");
    IT_ASSERT_OK(c.kill());
    cr_assert(c.wait_status("stopped"));
    IT_ASSERT_OK(c.del());
    itest::finish();
}

Test(namespaces, inherited_mount_namespace_refuses_what_would_mount_on_the_host) {
    auto c = itest::container();
    inherit_mount_ns(c);
    c.cfg.mounts.push_back(berth::spec::Mount{"/tmp", "tmpfs", "tmpfs", {}});
    c.sh("true");
    auto r = c.run();
    IT_ASSERT_FAIL(r, "mounts", "mount namespace", "host's mounts");
    IT_ASSERT_NO_TRACE(c.id, c.bundle);

    auto d = itest::container();
    inherit_mount_ns(d);
    d.cfg.linux->maskedPaths = {"/proc/keys"};
    d.sh("true");
    auto rd = d.run();
    IT_ASSERT_FAIL(rd, "linux.maskedPaths", "mount namespace");
    IT_ASSERT_NO_TRACE(d.id, d.bundle);
    itest::finish();
}

Test(namespaces, user_namespace_binds_a_source_only_the_host_can_open) {
    // Below a 0700 dir of the host root's: the container's root (uid 100000
    // on the host) can't reach the source, berth on the host side can.
    std::string dir = itest::make_dir("private") + "/shared";
    cr_assert_eq(mkdir(dir.c_str(), 0755), 0);
    itest::write_file(dir + "/f", "host only\n");
    cr_assert_eq(chmod(dir.substr(0, dir.rfind('/')).c_str(), 0700), 0);
    auto c = itest::container();
    add_ns(c, NsType::user);
    c.cfg.linux->uidMappings = {IdMapping{0, 100000, 65536}};
    c.cfg.linux->gidMappings = {IdMapping{0, 100000, 65536}};
    // Onto a dir the image has: the mapped root may not create one.
    c.cfg.mounts.push_back(berth::spec::Mount{"/tmp", "bind", dir, {"rbind", "ro"}});
    c.sh("cat /tmp/f 2>&1");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "host only\n", r.describe());
    itest::finish();
}
