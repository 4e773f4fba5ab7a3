// Mounts, as seen from inside the container; and a rootfs whose symlinks
// point out of it.
#include "harness.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

using berth::spec::Mount;
using itest::contains;
using itest::trim;

TestSuite(mounts, .init = itest::setup, .fini = itest::teardown, .timeout = 60);

namespace {

// The /proc/mounts line for mount point `dst` in the container's output.
std::string mount_line(const std::string& out, const std::string& dst) {
    for (auto& l : itest::lines(out)) {
        auto f = l.find(' ');
        if (f != std::string::npos && l.compare(f + 1, dst.size() + 1, dst + " ") == 0) return l;
    }
    return "";
}

} // namespace

Test(mounts, bind_dir_readonly) {
    auto c = itest::container();
    std::string src = itest::make_dir("src");
    itest::write_file(src + "/f", "hello\n");
    c.cfg.mounts.push_back(Mount{"/data", "bind", src, {"rbind", "ro"}});
    c.sh("cat /data/f; touch /data/x 2>&1; echo rc=$?");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "hello\n"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "Read-only file system"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "rc=1"), "%s", r.describe().c_str());
    cr_assert(!itest::exists(src + "/x"), "write went through to the host dir");
    itest::finish();
}

Test(mounts, bind_dir_readwrite_reaches_host) {
    auto c = itest::container();
    std::string src = itest::make_dir("src");
    c.cfg.mounts.push_back(Mount{"/data", "bind", src, {"rbind", "rw"}});
    c.sh("echo from-container > /data/new");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(itest::read_file(src + "/new"), "from-container\n", r.describe());
    itest::finish();
}

Test(mounts, bind_file) {
    auto c = itest::container();
    std::string file = itest::work_dir() + "/bound.txt";
    itest::write_file(file, "file-content\n");
    c.cfg.mounts.push_back(Mount{"/etc/berth-bound", "bind", file, {"bind", "ro"}});
    c.sh("cat /etc/berth-bound; test -f /etc/berth-bound && echo regular");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "file-content\nregular\n", r.describe());
    itest::finish();
}

Test(mounts, bind_file_creates_parent_dirs) {
    // Missing parents of a file mount target are made as directories anyone
    // may enter (0755), as for a directory target.
    auto c = itest::container();
    c.copy_rootfs();
    std::string file = itest::work_dir() + "/bound.txt";
    itest::write_file(file, "deep\n");
    c.cfg.mounts.push_back(Mount{"/opt/berth/conf/file", "bind", file, {"bind", "ro"}});
    c.cfg.mounts.push_back(Mount{"/opt/berth/dir/sub", "tmpfs", "tmpfs", {"size=1m"}});
    c.sh("stat -c '%n %a' /opt /opt/berth /opt/berth/conf /opt/berth/dir; cat /opt/berth/conf/file");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "/opt 755\n/opt/berth 755\n/opt/berth/conf 755\n/opt/berth/dir 755\ndeep\n", r.describe());
    itest::finish();
}

Test(mounts, tmpfs_with_size) {
    auto c = itest::container();
    c.cfg.mounts.push_back(Mount{"/scratch", "tmpfs", "tmpfs", {"size=1m", "mode=1777"}});
    c.sh("cat /proc/mounts; echo ---; df -k /scratch | tail -n 1");
    auto r = c.run();
    IT_ASSERT_OK(r);
    std::string line = mount_line(r.out, "/scratch");
    cr_assert(line.rfind("tmpfs /scratch tmpfs ", 0) == 0, "no tmpfs on /scratch:\n%s", r.describe().c_str());
    cr_assert(contains(line, "size=1024k"), "line: %s", line.c_str());
    auto df = r.out.substr(r.out.find("---\n") + 4);
    // Filesystem 1K-blocks Used Available Use% Mounted-on
    cr_assert(contains(df, " 1024 "), "df: %s", df.c_str());
    itest::finish();
}

Test(mounts, proc) {
    auto c = itest::container();
    c.sh("grep ' /proc ' /proc/mounts; cat /proc/1/comm; test -r /proc/self/status && echo ok");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert_eq(l.size(), 3u, "%s", r.describe().c_str());
    cr_assert(l[0].rfind("proc /proc proc ", 0) == 0, "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(l[1], "sh", r.describe());
    IT_ASSERT_STR_EQ(l[2], "ok", r.describe());
    itest::finish();
}

Test(mounts, sysfs_readonly) {
    auto c = itest::container();
    c.sh("grep ' /sys ' /proc/mounts; test -d /sys/kernel && echo has-kernel; "
         "mkdir /sys/berth-x 2>&1; echo rc=$?");
    auto r = c.run();
    IT_ASSERT_OK(r);
    std::string line = mount_line(r.out, "/sys");
    cr_assert(line.rfind("sysfs /sys sysfs ro", 0) == 0, "sysfs not read-only on /sys:\n%s", r.describe().c_str());
    cr_assert(contains(r.out, "has-kernel"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "Read-only file system") && contains(r.out, "rc=1"), "%s", r.describe().c_str());
    itest::finish();
}

Test(mounts, devpts_and_ptmx) {
    auto c = itest::container();
    c.sh("grep ' /dev/pts ' /proc/mounts; readlink /dev/ptmx; test -c /dev/pts/ptmx && echo ptmx-char");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert_eq(l.size(), 3u, "%s", r.describe().c_str());
    cr_assert(l[0].rfind("devpts /dev/pts devpts ", 0) == 0, "%s", r.describe().c_str());
    // mkbundle asks for a new instance with ptmxmode=0666.
    cr_assert(contains(l[0], "ptmxmode=666"), "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(l[1], "pts/ptmx", r.describe());
    IT_ASSERT_STR_EQ(l[2], "ptmx-char", r.describe());
    itest::finish();
}

Test(mounts, mqueue) {
    auto c = itest::container();
    c.sh("grep ' /dev/mqueue ' /proc/mounts");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(trim(r.out).rfind("mqueue /dev/mqueue mqueue ", 0) == 0, "%s", r.describe().c_str());
    itest::finish();
}

Test(mounts, cgroup_shows_own_cgroup) {
    auto c = itest::container();
    // v1: the memory hierarchy's dir; v2: the unified mount itself.
    bool v2 = itest::exists("/sys/fs/cgroup/cgroup.controllers");
    std::string dir = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
    c.sh("test -d " + dir + " && echo cgroup-dir; echo ---; cat " + dir + "/cgroup.procs; echo ---; grep ' " + dir +
         " ' /proc/mounts");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto parts = r.out;
    cr_assert(contains(parts, "cgroup-dir\n---\n"), "%s", r.describe().c_str());
    auto a = parts.find("---\n") + 4;
    auto b = parts.find("---\n", a);
    cr_assert(b != std::string::npos, "%s", r.describe().c_str());
    auto procs = itest::lines(parts.substr(a, b - a));
    // Non-empty, and only the container's processes (in its pid namespace:
    // sh as 1, and cat), not the host's root cgroup.
    cr_assert(!procs.empty(), "cgroup.procs is empty:\n%s", r.describe().c_str());
    cr_assert(procs.size() <= 3, "cgroup.procs lists %zu pids (not the container's own cgroup?):\n%s", procs.size(),
              r.describe().c_str());
    cr_assert(std::find(procs.begin(), procs.end(), "1") != procs.end(), "pid 1 not in cgroup.procs:\n%s",
              r.describe().c_str());
    auto line = parts.substr(b + 4);
    cr_assert(contains(line, " ro,") || contains(line, " ro "), "cgroup mount not read-only: %s", line.c_str());
    itest::finish();
}

Test(mounts, propagation_rprivate_accepted) {
    auto c = itest::container();
    std::string src = itest::make_dir("src");
    c.cfg.mounts.push_back(Mount{"/data", "bind", src, {"rbind", "rprivate"}});
    c.sh("grep ' /data ' /proc/self/mountinfo");
    auto r = c.run();
    IT_ASSERT_OK(r);
    std::string line = trim(r.out);
    cr_assert(!line.empty(), "no /data mount:\n%s", r.describe().c_str());
    cr_assert(!contains(line, "shared:") && !contains(line, "master:"), "not private: %s", line.c_str());
    itest::finish();
}

Test(mounts, propagation_rshared_applied) {
    auto c = itest::container();
    std::string src = itest::make_dir("src");
    c.cfg.mounts.push_back(Mount{"/data", "bind", src, {"rbind", "rshared"}});
    c.sh("grep ' /data ' /proc/self/mountinfo");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, " shared:"), "not shared:\n%s", r.describe().c_str());
    itest::finish();
}

Test(mounts, rootfs_propagation_rprivate) {
    auto c = itest::container();
    c.cfg.linux->rootfsPropagation = "rprivate";
    c.sh("awk '$5 == \"/\"' /proc/self/mountinfo");
    auto r = c.run();
    IT_ASSERT_OK(r);
    std::string line = trim(r.out);
    cr_assert(!line.empty(), "%s", r.describe().c_str());
    cr_assert(!contains(line, "shared:") && !contains(line, "master:"), "/ not private: %s", line.c_str());
    itest::finish();
}

Test(mounts, recursive_readonly_rro) {
    auto c = itest::container();
    std::string src = itest::make_dir("src");
    itest::make_dir("src/sub");
    itest::host_mount("tmpfs", src + "/sub", "tmpfs", 0, "size=1m");
    c.cfg.mounts.push_back(Mount{"/data", "bind", src, {"rbind", "rro"}});
    c.sh("grep -c ' /data/sub ' /proc/mounts; touch /data/a 2>&1; echo rc=$?; touch /data/sub/b 2>&1; echo rc=$?");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert_eq(l.size(), 5u, "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(l[0], "1", "submount missing\n" + r.describe());
    cr_assert(contains(l[1], "Read-only file system"), "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(l[2], "rc=1", r.describe());
    cr_assert(contains(l[3], "Read-only file system"), "submount writable:\n%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(l[4], "rc=1", r.describe());
    cr_assert(!itest::exists(src + "/sub/b") && !itest::exists(src + "/a"));
    itest::finish();
}

// ---- symlinks in the rootfs that point out of it ------------------------------

namespace {

enum class Via { tmpfs, bind_dir, bind_file, device, proc, sysfs };

// A rootfs (private copy) where `where` (/mnt/evil, or /proc) is a symlink
// with target `link`, which names the host dir `escape`. Something is then
// mounted or created through that symlink; it must land inside the rootfs:
// the host dir stays empty and no host mount appears.
void check_escape(const std::string& link_where, const std::string& link, Via via) {
    std::string escape = itest::make_temp_dir("berth-escape-");
    cr_assert(!escape.empty());
    itest::remove_later(escape);
    std::string target = link.empty() ? escape : link + escape;

    auto c = itest::container();
    std::string rootfs = c.copy_rootfs();
    itest::make_dir(c.id + "/rootfs/mnt");
    std::string at = rootfs + link_where;
    ::rmdir(at.c_str());   // /proc, /sys: replace the image's dir with the link
    cr_assert(::symlink(target.c_str(), at.c_str()) == 0, "symlink %s: %s", at.c_str(), std::strerror(errno));

    std::string check;
    switch (via) {
    case Via::tmpfs:
        c.cfg.mounts.push_back(Mount{"/mnt/evil/sub", "tmpfs", "tmpfs", {"size=1m"}});
        check = "grep -c ' tmpfs ' /proc/mounts >/dev/null && echo canary > /mnt/evil/sub/canary && echo ok";
        break;
    case Via::bind_dir: {
        std::string src = itest::make_dir("bindsrc");
        itest::write_file(src + "/f", "bound\n");
        c.cfg.mounts.push_back(Mount{"/mnt/evil/data", "bind", src, {"rbind", "ro"}});
        check = "cat /mnt/evil/data/f >/dev/null && echo ok";
        break;
    }
    case Via::bind_file: {
        std::string src = itest::work_dir() + "/bindfile";
        itest::write_file(src, "bound\n");
        c.cfg.mounts.push_back(Mount{"/mnt/evil/file", "bind", src, {"bind", "ro"}});
        check = "cat /mnt/evil/file >/dev/null && echo ok";
        break;
    }
    case Via::device: {
        // A device outside /dev: made in the image, through the link.
        berth::spec::Device d;
        d.type = "c";
        d.path = "/mnt/evil/null0";
        d.major = 1;
        d.minor = 3;
        c.cfg.linux->devices.push_back(d);
        check = "test -c /mnt/evil/null0 && echo ok";
        break;
    }
    case Via::proc:
    case Via::sysfs:
        check = "echo ok";
        break;
    }
    c.sh(check);
    auto r = c.run();

    auto host_entries = itest::run_cmd({"/bin/ls", "-A", escape});
    IT_ASSERT_STR_EQ(host_entries.out, "", "the host dir " + escape + " got entries\n" + r.describe());
    auto host_mounts = itest::mounts_mentioning(escape);
    cr_assert(host_mounts.empty(), "a host mount appeared: %s\n%s", host_mounts.empty() ? "" : host_mounts[0].c_str(),
              r.describe().c_str());
    if (via == Via::proc || via == Via::sysfs) {
        // As runc: proc and sysfs only on an ordinary directory
        // (CVE-2019-16884), and the error says where.
        IT_ASSERT_FAIL(r, link_where, "must be mounted on an ordinary directory", "symlink");
    } else {
        // The container works, with the mount inside its own rootfs.
        IT_ASSERT_OK(r);
        IT_ASSERT_STR_EQ(r.out, "ok\n", r.describe());
    }
    IT_ASSERT_NO_TRACE(c.id, c.bundle);
    itest::finish();
}

// ../ enough times to climb out of any rootfs path; the host dir follows.
const std::string kUp = "../../../../../../../../..";

} // namespace

Test(mounts, symlink_escape_absolute) { check_escape("/mnt/evil", "", Via::tmpfs); }
Test(mounts, symlink_escape_relative) { check_escape("/mnt/evil", kUp, Via::tmpfs); }
Test(mounts, symlink_escape_bind_dir) { check_escape("/mnt/evil", "", Via::bind_dir); }
Test(mounts, symlink_escape_bind_file_relative) { check_escape("/mnt/evil", kUp, Via::bind_file); }
Test(mounts, symlink_escape_device) { check_escape("/mnt/evil", "", Via::device); }
Test(mounts, proc_on_a_symlink_is_refused) { check_escape("/proc", "", Via::proc); }
Test(mounts, sysfs_on_a_symlink_is_refused) { check_escape("/sys", "", Via::sysfs); }

// ---- maskedPaths, readonlyPaths, root.readonly ---------------------------------

Test(mounts, masked_paths) {
    auto c = itest::container();
    std::string secret = itest::make_dir("secret");
    itest::write_file(secret + "/password", "hunter2\n");
    c.cfg.mounts.push_back(Mount{"/secret", "bind", secret, {"rbind", "ro"}});
    c.cfg.linux->maskedPaths = {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/secret"};
    c.sh("for f in /proc/kcore /proc/keys /proc/timer_list; do "
         "if [ -e $f ]; then echo \"$f $(cat $f | wc -c)\"; else echo \"$f absent\"; fi; done; "
         "echo \"secret [$(ls -A /secret)]\"; cat /secret/password 2>/dev/null || echo unreadable");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert_eq(l.size(), 5u, "%s", r.describe().c_str());
    const char* files[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list"};
    for (int i = 0; i < 3; ++i) {
        std::string f = files[i];
        // A file the host kernel lacks cannot show up; one it has must read empty.
        if (itest::exists(f)) IT_ASSERT_STR_EQ(l[i], f + " 0", r.describe());
        else cr_assert(l[i] == f + " absent" || l[i] == f + " 0", "%s", r.describe().c_str());
    }
    IT_ASSERT_STR_EQ(l[3], "secret []", r.describe());
    IT_ASSERT_STR_EQ(l[4], "unreadable", r.describe());
    itest::finish();
}

Test(mounts, readonly_paths) {
    auto c = itest::container();
    c.cfg.hostname = "before";
    c.cfg.linux->readonlyPaths = {"/proc/sys"};
    c.sh("{ echo after > /proc/sys/kernel/hostname; } 2>&1; echo rc=$?; hostname");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "Read-only file system"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "rc=1\nbefore\n"), "%s", r.describe().c_str());
    itest::finish();
}

Test(mounts, root_readonly) {
    auto c = itest::container();
    c.cfg.root.readonly = true;
    c.sh("touch /x 2>&1; echo rc=$?; grep -c ' / ' /proc/mounts >/dev/null; awk '$2 == \"/\" {print $4}' /proc/mounts");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "Read-only file system"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "rc=1\n"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "\nro,") || contains(r.out, "\nro\n"), "/ not mounted ro:\n%s", r.describe().c_str());
    cr_assert(!itest::exists(itest::shared_rootfs() + "/x"));
    itest::finish();
}

Test(mounts, root_writable) {
    auto c = itest::container();
    c.cfg.root.readonly = false;
    std::string name = "berth-rw-" + c.id;
    std::string host_path = itest::shared_rootfs() + "/" + name;
    itest::remove_later(host_path);
    c.sh("touch /" + name + " && echo ok");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "ok\n", r.describe());
    cr_assert(itest::exists(host_path), "the file did not land in the rootfs");
    ::unlink(host_path.c_str());
    itest::finish();
}

// ---- devices ------------------------------------------------------------------

Test(mounts, default_devices) {
    auto c = itest::container();
    c.sh("for d in null zero full random urandom tty; do stat -c '%n %F %t %T %a' /dev/$d; done");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out,
                     "/dev/null character special file 1 3 666\n"
                     "/dev/zero character special file 1 5 666\n"
                     "/dev/full character special file 1 7 666\n"
                     "/dev/random character special file 1 8 666\n"
                     "/dev/urandom character special file 1 9 666\n"
                     "/dev/tty character special file 5 0 666\n",
                     r.describe());
    itest::finish();
}

Test(mounts, dev_symlinks) {
    auto c = itest::container();
    c.sh("for l in fd stdin stdout stderr; do readlink /dev/$l; done; echo hi >> /dev/stdout");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\nhi\n", r.describe());
    itest::finish();
}

Test(mounts, linux_devices_entry) {
    auto c = itest::container();
    berth::spec::Device d;
    d.type = "c";
    d.path = "/dev/berthnull";
    d.major = 1;
    d.minor = 3;
    d.fileMode = 0600;
    d.uid = 1000;
    d.gid = 1000;
    c.cfg.linux->devices.push_back(d);
    c.sh("stat -c '%F %t %T %a %u %g' /dev/berthnull");
    auto r = c.run();
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "character special file 1 3 600 1000 1000\n", r.describe());
    itest::finish();
}

Test(mounts, image_dev_null_symlink_replaced) {
    struct stat before {};
    cr_assert(::stat("/etc/passwd", &before) == 0);
    std::string passwd_before = itest::read_file("/etc/passwd");

    auto c = itest::container();
    std::string rootfs = c.copy_rootfs();
    // No tmpfs on /dev: devices are made in the image's own /dev.
    auto& ms = c.cfg.mounts;
    ms.erase(std::remove_if(ms.begin(), ms.end(), [](const Mount& m) { return m.destination == "/dev"; }), ms.end());
    cr_assert(::symlink("/etc/passwd", (rootfs + "/dev/null").c_str()) == 0, "symlink: %s", std::strerror(errno));
    std::string image_passwd = itest::read_file(rootfs + "/etc/passwd");
    c.sh("stat -c '%F %t %T %a' /dev/null; head -n 1 /etc/passwd");
    auto r = c.run();

    struct stat after {};
    ::stat("/etc/passwd", &after);
    std::string passwd_after = itest::read_file("/etc/passwd");
    bool host_same = passwd_after == passwd_before && after.st_mode == before.st_mode &&
                     after.st_uid == before.st_uid && after.st_gid == before.st_gid &&
                     after.st_ino == before.st_ino && after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
                     after.st_mtim.tv_nsec == before.st_mtim.tv_nsec;
    if (!host_same) {
        // Put the host right before failing.
        if (passwd_after != passwd_before) itest::write_file("/etc/passwd", passwd_before);
        ::chmod("/etc/passwd", before.st_mode & 07777);
        ::chown("/etc/passwd", before.st_uid, before.st_gid);
    }
    cr_assert(host_same, "the host's /etc/passwd was changed through the image's /dev/null symlink\n%s",
              r.describe().c_str());
    IT_ASSERT_OK(r);
    IT_ASSERT_STR_EQ(r.out, "character special file 1 3 666\nroot:x:0:0:root:/root:/bin/sh\n", r.describe());
    IT_ASSERT_STR_EQ(itest::read_file(rootfs + "/etc/passwd"), image_passwd, "the image's /etc/passwd changed");
    itest::finish();
}

Test(mounts, tmpfs_tmpcopyup) {
    auto c = itest::container();
    // /etc becomes a tmpfs that starts with the image's /etc; writes stay in it.
    c.cfg.mounts.push_back(Mount{"/etc", "tmpfs", "tmpfs", {"tmpcopyup", "mode=755"}});
    c.sh("grep -c root /etc/passwd; grep ' /etc ' /proc/mounts | cut -d' ' -f3; echo new > /etc/new && cat /etc/new");
    auto r = c.run();
    IT_ASSERT_OK(r);
    auto l = itest::lines(r.out);
    cr_assert(l.size() >= 3, "%s", r.describe().c_str());
    cr_assert_str_neq(l[0].c_str(), "0", "the image's /etc/passwd was not copied up: %s", r.describe().c_str());
    IT_ASSERT_STR_EQ(l[1], "tmpfs", r.describe());
    IT_ASSERT_STR_EQ(l[2], "new", r.describe());
    cr_assert(!itest::exists(itest::shared_rootfs() + "/etc/new"), "a write reached the image's /etc");
    itest::finish();
}

Test(mounts, tmpcopyup_only_for_tmpfs) {
    auto c = itest::container();
    c.cfg.mounts.push_back(Mount{"/mnt", "proc", "proc", {"tmpcopyup"}});
    auto r = c.run();
    cr_assert_neq(r.status, 0, "%s", r.describe().c_str());
    cr_assert(contains(r.err, "tmpcopyup"), "%s", r.describe().c_str());
    IT_ASSERT_STR_EQ(itest::check_no_trace(c.id, c.bundle), "", r.describe());
    itest::finish();
}

// ---- rootfsPropagation and a read-only /dev -------------------------------------

Test(mounts, rootfs_propagation_runbindable) {
    auto c = itest::container();
    c.cfg.linux->rootfsPropagation = "runbindable";
    c.sh("awk '$5 == \"/\"' /proc/self/mountinfo");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "unbindable"), "/ is not unbindable:\n%s", r.describe().c_str());
    itest::finish();
}

Test(mounts, readonly_dev_is_filled_before_it_is_made_read_only) {
    auto c = itest::container();
    for (auto& m : c.cfg.mounts)
        if (m.destination == "/dev") m.options.push_back("ro");
    c.sh("touch /dev/x 2>&1; echo rc=$?; test -d /dev/pts && test -c /dev/null && echo > /dev/null && echo devices-ok");
    auto r = c.run();
    IT_ASSERT_OK(r);
    cr_assert(contains(r.out, "Read-only file system") && contains(r.out, "rc=1"), "%s", r.describe().c_str());
    cr_assert(contains(r.out, "devices-ok"), "%s", r.describe().c_str());
    itest::finish();
}
