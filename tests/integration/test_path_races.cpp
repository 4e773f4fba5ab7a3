// A mount destination swapped for a symlink while berth sets up mounts
// (CVE-2021-30465, where runc resolved a path and then mounted by path
// string). berth resolves each destination inside the rootfs to an O_PATH
// fd and mounts onto that fd, so a swap after the resolution moves
// nothing. Both tests drive libberth's own code (path_resolve, mount_entry)
// in a private mount namespace of the test process, against a rootfs whose
// /a can be exchanged (renameat2 RENAME_EXCHANGE) with a symlink leading to
// a host dir outside it: the host dir must never get a mount.
//
// Standalone (no containers): needs root, else the tests skip.
#include <criterion/criterion.h>

#include "error.hpp"
#include "path_resolve.hpp"
#include "rootfs.hpp"

#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string g_top;   // mkdtemp dir holding rootfs/ and escape/

void remove_tree() {
    if (g_top.empty()) return;
    ::umount2(g_top.c_str(), MNT_DETACH);   // whatever is left mounted below it
    ::nftw(g_top.c_str(), [](const char* p, const struct stat*, int, FTW*) { return ::remove(p); }, 16,
           FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    g_top.clear();
}

void setup() {
    if (::geteuid() != 0) cr_skip_test("needs root (mounts in a private mount namespace)");
    // Mounts stay in this test process's own namespace and die with it.
    cr_assert_eq(::unshare(CLONE_NEWNS), 0, "unshare(CLONE_NEWNS)");
    cr_assert_eq(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    char tmpl[] = "/tmp/berth-race-XXXXXX";
    cr_assert_not_null(::mkdtemp(tmpl));
    g_top = tmpl;
    // A mount of its own, so leftovers go with one umount.
    cr_assert_eq(::mount("tmpfs", g_top.c_str(), "tmpfs", 0, "size=8m"), 0);
    for (const char* d : {"/rootfs", "/rootfs/a", "/rootfs/a/b", "/escape", "/escape/b"})
        cr_assert_eq(::mkdir((g_top + d).c_str(), 0755), 0, "mkdir %s", d);
    // /rootfs/x is the symlink /a gets exchanged with.
    cr_assert_eq(::symlink((g_top + "/escape").c_str(), (g_top + "/rootfs/x").c_str()), 0);
}

void teardown() { remove_tree(); }

// Is anything mounted at or below the host dir outside the rootfs?
bool escape_has_a_mount() {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    std::string needle = " " + g_top + "/escape";
    while (std::getline(in, line))
        if (line.find(needle) != std::string::npos) return true;
    return false;
}

// Detach what mount_entry mounted inside the rootfs (a/b or x/b).
void unmount_inside() {
    for (const char* p : {"/rootfs/a/b", "/rootfs/x/b", "/rootfs/a", "/rootfs/x"})
        while (::umount2((g_top + p).c_str(), MNT_DETACH) == 0) {
        }
}

} // namespace

TestSuite(path_races, .init = setup, .fini = teardown, .timeout = 120);

Test(path_races, resolved_destination_pins_the_directory) {
    berth::UniqueFd root(::open((g_top + "/rootfs").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    cr_assert(root);
    // berth's resolution, then the swap, then a mount the way mounts.cpp
    // makes it: onto the fd's /proc/self/fd path.
    auto dst = berth::mkdir_in_root(root.get(), "/a/b");
    cr_assert_eq(::renameat2(AT_FDCWD, (g_top + "/rootfs/a").c_str(), AT_FDCWD, (g_top + "/rootfs/x").c_str(),
                             RENAME_EXCHANGE),
                 0);
    cr_assert_eq(::mount("tmpfs", berth::fd_path(dst.get()).c_str(), "tmpfs", 0, "size=1m"), 0);
    cr_assert(!escape_has_a_mount(), "the mount followed the swapped-in symlink out of the rootfs");
    // It is on the directory that was resolved (now at /rootfs/x/b).
    struct stat st;
    cr_assert_eq(::stat((g_top + "/rootfs/x/b").c_str(), &st), 0);
    std::ifstream in("/proc/self/mountinfo");
    std::stringstream all;
    all << in.rdbuf();
    cr_assert(all.str().find(g_top + "/rootfs/x/b ") != std::string::npos, "%s", all.str().c_str());
}

Test(path_races, mount_entry_racing_a_symlink_swap_never_escapes) {
    berth::UniqueFd root(::open((g_top + "/rootfs").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    cr_assert(root);
    berth::RootfsContext ctx;
    ctx.rootfs = g_top + "/rootfs";
    ctx.bundle = g_top;
    ctx.rootfd = root.get();
    berth::spec::Mount m{"/a/b", "tmpfs", "tmpfs", {"size=1m"}};

    std::atomic<bool> stop{false};
    std::atomic<long> swaps{0};
    std::thread flipper([&] {
        std::string a = g_top + "/rootfs/a", x = g_top + "/rootfs/x";
        while (!stop.load()) {
            if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, x.c_str(), RENAME_EXCHANGE) == 0) ++swaps;
        }
    });
    int mounted = 0, failed = 0;
    bool escaped = false;
    for (int i = 0; i < 300 && !escaped; ++i) {
        try {
            berth::mount_entry(m, 0, ctx);
            ++mounted;
        } catch (const berth::Error&) {
            ++failed;   // resolved through the symlink at the wrong moment: refused, fine
        }
        escaped = escape_has_a_mount();
        unmount_inside();
    }
    stop = true;
    flipper.join();
    cr_assert(!escaped, "a mount landed outside the rootfs (after %d mounts)", mounted);
    cr_assert_gt(swaps.load(), 1000, "the race never ran (%ld swaps)", swaps.load());
    cr_assert_gt(mounted, 0, "no mount succeeded at all (%d failed)", failed);
}
