// The image store against the real kernel: overlay rootfs of unpacked
// layers (whiteouts, opaque dirs, writes to the upper dir, removal), the
// copy fallback, running out of space while unpacking, and GC with a
// container's lease. Standalone (cri/image/ as a library, no containers).
//
// Each test runs in a private mount namespace of its own process (Criterion
// forks one per test) on a tmpfs of its own, so nothing it mounts can
// outlive it; needs root, else the tests skip.
#include <criterion/criterion.h>

#include "content_store.hpp"
#include "digest.hpp"
#include "error.hpp"
#include "gc.hpp"
#include "image_store.hpp"
#include "layer_store.hpp"
#include "layer_tar.hpp"
#include "rootfs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

using namespace berth;
using namespace berth::image;
namespace lt = layer_tar;

namespace {

std::string g_top;

void remove_top() {
    if (g_top.empty()) return;
    ::umount2(g_top.c_str(), MNT_DETACH);
    ::nftw(g_top.c_str(), [](const char* p, const struct stat*, int, FTW*) { return ::remove(p); }, 16,
           FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    g_top.clear();
}

void setup_with(const char* tmpfs_size) {
    if (::geteuid() != 0) cr_skip_test("needs root (overlay mounts, whiteout nodes, trusted xattrs)");
    cr_assert_eq(::unshare(CLONE_NEWNS), 0, "unshare(CLONE_NEWNS)");
    cr_assert_eq(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    char tmpl[] = "/tmp/berth-image-XXXXXX";
    cr_assert_not_null(::mkdtemp(tmpl));
    g_top = tmpl;
    cr_assert_eq(::mount("tmpfs", g_top.c_str(), "tmpfs", 0, (std::string("mode=0700,size=") + tmpfs_size).c_str()), 0);
}

void setup() { setup_with("256m"); }
void setup_small() { setup_with("2m"); }

std::string slurp(const std::string& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

bool exists(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
}

bool mounted(const std::string& path) {
    std::ifstream f("/proc/self/mountinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.find(" " + path + " ") != std::string::npos) return true;
    return false;
}

// A layer: its compressed blob in `content`, unpacked into `layers`.
struct Built {
    std::string blob_digest, diff_id, chain_id;
    Layer layer;
};

Built add_layer(ContentStore& cs, LayerStore& ls, const std::string& parent_chain, const std::vector<lt::Entry>& es) {
    Built b;
    std::string gz = lt::make(es);
    b.blob_digest = sha256_digest(gz);
    cs.put(b.blob_digest, gz);
    b.diff_id = sha256_digest(lt::plain(es));
    b.chain_id = chain_id(parent_chain, b.diff_id);
    b.layer = ls.ensure(b.chain_id, b.diff_id, cs.path(b.blob_digest), "layer " + b.blob_digest);
    return b;
}

// Three layers: the second whites out a/gone and makes d/ opaque; the third
// adds files, a symlink and a hardlink.
std::vector<Built> three_layers(ContentStore& cs, LayerStore& ls) {
    auto suid = lt::file("bin/tool", "tool", 04755);
    suid.uid = 1000;
    suid.gid = 1000;
    auto root = lt::dir("./", 0751);   // the image's "/" (the top layer's says)
    root.uid = 1000;
    root.gid = 1001;
    std::vector<Built> out;
    out.push_back(add_layer(cs, ls, "",
                            {lt::dir("a/"), lt::file("a/keep", "keep1"), lt::file("a/gone", "gone"), lt::dir("d/"),
                             lt::file("d/old", "old"), lt::file("over", "v1"), lt::dir("x/"), lt::file("x/y", "xy")}));
    out.push_back(add_layer(cs, ls, out.back().chain_id,
                            {lt::dir("a/"), lt::file("a/.wh.gone", ""), lt::dir("d/"), lt::file("d/.wh..wh..opq", ""),
                             lt::file("d/new", "new"), lt::file("over", "v2")}));
    out.push_back(add_layer(cs, ls, out.back().chain_id,
                            {root, lt::file("top", "top"), lt::symlink("link", "top"), lt::hardlink("top2", "top"),
                             lt::dir("bin/"), suid}));
    return out;
}

void check_view(const std::string& m) {
    cr_assert_eq(slurp(m + "/top"), "top");
    cr_assert_eq(slurp(m + "/a/keep"), "keep1");
    cr_assert(!exists(m + "/a/gone"), "the whited-out file is hidden");
    cr_assert(!exists(m + "/d/old"), "the opaque dir hides the lower contents");
    cr_assert_eq(slurp(m + "/d/new"), "new");
    cr_assert_eq(slurp(m + "/over"), "v2");
    cr_assert_eq(slurp(m + "/x/y"), "xy");
    struct stat st;
    cr_assert_eq(::lstat((m + "/bin/tool").c_str(), &st), 0);
    cr_assert_eq(st.st_mode & 07777, 04755);
    cr_assert_eq(st.st_uid, 1000u);
    cr_assert_eq(::lstat(m.c_str(), &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0751, "/ has the image's mode");
    cr_assert_eq(st.st_uid, 1000u);
    cr_assert_eq(st.st_gid, 1001u);
}

// path -> a description of type, mode, owner, size, content or target.
void describe(const std::string& root, const std::string& rel, std::map<std::string, std::string>& out) {
    DIR* d = ::opendir((root + rel).c_str());
    cr_assert_not_null(d, "opendir %s", (root + rel).c_str());
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") names.emplace_back(e->d_name);
    ::closedir(d);
    for (const auto& n : names) {
        std::string p = rel + "/" + n;
        struct stat st;
        cr_assert_eq(::lstat((root + p).c_str(), &st), 0);
        std::string desc = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) +
                           " " + std::to_string(st.st_mtim.tv_sec);
        if (S_ISREG(st.st_mode)) desc += " " + slurp(root + p);
        if (S_ISLNK(st.st_mode)) {
            char t[256] = {};
            ::readlink((root + p).c_str(), t, sizeof t - 1);
            desc += std::string(" -> ") + t;
        }
        if (!S_ISDIR(st.st_mode)) desc += " nlink " + std::to_string(st.st_nlink);
        out[p] = desc;
        if (S_ISDIR(st.st_mode)) describe(root, p, out);
    }
}

std::vector<std::string> fs_dirs(const std::vector<Built>& ls) {
    std::vector<std::string> out;
    for (const auto& b : ls) out.push_back(b.layer.fs());
    return out;
}

std::vector<std::string> chains(const std::vector<Built>& ls) {
    std::vector<std::string> out;
    for (const auto& b : ls) out.push_back(b.chain_id);
    return out;
}

} // namespace

TestSuite(image_rootfs, .init = setup, .fini = remove_top);

Test(image_rootfs, overlay_of_three_layers) {
    ContentStore cs(g_top + "/content");
    LayerStore ls(g_top + "/layers");
    auto layers = three_layers(cs, ls);
    std::string rootfs = g_top + "/rootfs";
    std::string m = prepare_rootfs(rootfs, "c1", fs_dirs(layers), chains(layers));
    cr_assert_eq(m, rootfs + "/c1/merged");
    cr_assert(mounted(m), "merged/ is an overlay mount");
    check_view(m);
    auto leases = rootfs_leases(rootfs);
    for (const auto& c : chains(layers)) cr_assert(std::find(leases.begin(), leases.end(), c) != leases.end());

    // Writes land in the container's upper dir, never in a layer.
    lt::write_file(m + "/written", "by the container");
    cr_assert_eq(::unlink((m + "/a/keep").c_str()), 0);
    cr_assert_eq(slurp(rootfs + "/c1/upper/written"), "by the container");
    cr_assert_eq(slurp(layers[0].layer.fs() + "/a/keep"), "keep1", "the layer is untouched");
    for (const auto& b : layers) cr_assert(!exists(b.layer.fs() + "/written"));
    Usage u = writable_layer_usage(rootfs, "c1");
    cr_assert_geq(u.inodes, 2u, "the file and the whiteout of a/keep");
    cr_assert_gt(u.bytes, 0u);

    remove_rootfs(rootfs, "c1");
    cr_assert(!mounted(m), "no mount left");
    cr_assert(!exists(rootfs + "/c1"), "no dir left");
    cr_assert(rootfs_leases(rootfs).empty());
    remove_rootfs(rootfs, "c1");   // idempotent
    cr_assert_eq(slurp(layers[0].layer.fs() + "/a/keep"), "keep1");
}

Test(image_rootfs, overlay_through_mount_2) {
    // The one-string mount(2) that kernels before 6.8 get (no "lowerdir+").
    ContentStore cs(g_top + "/content");
    LayerStore ls(g_top + "/layers");
    auto layers = three_layers(cs, ls);
    std::string rootfs = g_top + "/rootfs";
    RootfsOptions o;
    o.legacy_mount = true;
    std::string m = prepare_rootfs(rootfs, "c1", fs_dirs(layers), chains(layers), o);
    cr_assert(mounted(m));
    check_view(m);
    remove_rootfs(rootfs, "c1");
    cr_assert(!mounted(m));
    cr_assert(!exists(rootfs + "/c1"));
}

Test(image_rootfs, copy_fallback_reads_like_the_overlay) {
    ContentStore cs(g_top + "/content");
    LayerStore ls(g_top + "/layers");
    auto layers = three_layers(cs, ls);
    std::string rootfs = g_top + "/rootfs";
    std::string ov = prepare_rootfs(rootfs, "ov", fs_dirs(layers), chains(layers));
    RootfsOptions copy;
    copy.copy = true;
    std::string cp = prepare_rootfs(rootfs, "cp", fs_dirs(layers), chains(layers), copy);
    cr_assert(!mounted(cp), "a copy, not a mount");
    check_view(cp);
    std::map<std::string, std::string> a, b;
    describe(ov, "", a);
    describe(cp, "", b);
    cr_assert_eq(a.size(), b.size(), "%zu entries in the overlay, %zu in the copy", a.size(), b.size());
    for (const auto& [p, desc] : a) {
        auto it = b.find(p);
        cr_assert(it != b.end(), "%s missing from the copy", p.c_str());
        cr_assert_eq(it->second, desc, "%s: overlay %s, copy %s", p.c_str(), desc.c_str(), it->second.c_str());
    }
    struct stat s1, s2;
    cr_assert_eq(::lstat((cp + "/top").c_str(), &s1), 0);
    cr_assert_eq(::lstat((cp + "/top2").c_str(), &s2), 0);
    cr_assert_eq(s1.st_ino, s2.st_ino, "hardlinks stay hardlinks");
    Usage u = writable_layer_usage(rootfs, "cp");
    cr_assert_gt(u.inodes, 5u);
    remove_rootfs(rootfs, "ov");
    remove_rootfs(rootfs, "cp");
    cr_assert(!exists(rootfs + "/ov"));
    cr_assert(!exists(rootfs + "/cp"));
    cr_assert(!mounted(ov));
}

Test(image_rootfs, an_image_without_layers) {
    std::string rootfs = g_top + "/rootfs";
    std::string m = prepare_rootfs(rootfs, "empty", {}, {});
    lt::write_file(m + "/f", "x");
    cr_assert_eq(slurp(rootfs + "/empty/upper/f"), "x");
    remove_rootfs(rootfs, "empty");
    cr_assert(!exists(rootfs + "/empty"));
}

Test(image_rootfs, a_failed_prepare_leaves_nothing) {
    std::string rootfs = g_top + "/rootfs";
    try {
        prepare_rootfs(rootfs, "bad", {g_top + "/no-such-layer"}, {sha256_digest("x")});
        cr_assert_fail("a rootfs on a missing layer");
    } catch (const Error& e) {
        cr_assert(std::string(e.what()).find("container bad") != std::string::npos, "%s", e.what());
    }
    cr_assert(!exists(rootfs + "/bad"));
    try {
        prepare_rootfs(rootfs, "../escape", {}, {});
        cr_assert_fail("a bad id");
    } catch (const Error& e) {
        cr_assert_eq(e.err(), EINVAL);
    }
}

Test(image_rootfs, remove_does_not_cross_into_other_mounts) {
    std::string rootfs = g_top + "/rootfs";
    std::string m = prepare_rootfs(rootfs, "c1", {}, {});
    // A mount left under the rootfs (a volume): its files are not the rootfs's.
    std::string vol = g_top + "/volume";
    cr_assert_eq(::mkdir(vol.c_str(), 0755), 0);
    lt::write_file(vol + "/precious", "p");
    cr_assert_eq(::mkdir((rootfs + "/c1/upper/mnt").c_str(), 0755), 0);
    cr_assert_eq(::mount(vol.c_str(), (rootfs + "/c1/upper/mnt").c_str(), nullptr, MS_BIND, nullptr), 0);
    try {
        remove_rootfs(rootfs, "c1");
        cr_assert_fail("removed through a mount point");
    } catch (const Error& e) {
        cr_assert_eq(e.err(), EBUSY, "%s", e.what());
    }
    cr_assert_eq(slurp(vol + "/precious"), "p");
    ::umount2((rootfs + "/c1/upper/mnt").c_str(), MNT_DETACH);
    remove_rootfs(rootfs, "c1");
    cr_assert(!exists(rootfs + "/c1"));
}

// A layer store on a 2 MiB tmpfs and a layer of 8 MiB.
TestSuite(image_space, .init = setup_small, .fini = remove_top);

Test(image_space, enospc_names_the_layer_and_leaves_nothing) {
    std::string big(8 << 20, '\0');
    uint64_t x = 88172645463325252ull;
    for (auto& c : big) {   // incompressible, so the blob itself is big too
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        c = static_cast<char>(x);
    }
    std::vector<lt::Entry> es = {lt::file("small", "s"), lt::file("big", big)};
    // The blob lives outside the small file system.
    char tmpl[] = "/tmp/berth-image-blob-XXXXXX";
    cr_assert_not_null(::mkdtemp(tmpl));
    std::string blob = std::string(tmpl) + "/layer.tar";
    lt::write_file(blob, lt::plain(es));
    std::string diff = sha256_digest(lt::plain(es));
    LayerStore ls(g_top + "/layers");
    std::string what = "layer sha256:feed of docker.io/library/big:latest";
    int err = 0;
    std::string msg;
    try {
        ls.ensure(diff, diff, blob, what);
    } catch (const Error& e) {
        err = e.err();
        msg = e.what();
    }
    ::unlink(blob.c_str());
    ::rmdir(tmpl);
    cr_assert_eq(err, ENOSPC, "%s", msg.c_str());
    cr_assert(msg.find(what) != std::string::npos, "%s", msg.c_str());
    cr_assert(msg.find("no space") != std::string::npos, "%s", msg.c_str());
    cr_assert(!exists(g_top + "/layers/" + diff.substr(7, 16)), "the partial layer is removed");
    cr_assert(ls.list().empty());
}

TestSuite(image_gc, .init = setup, .fini = remove_top);

Test(image_gc, unreferenced_blobs_and_layers_go_leased_ones_stay) {
    ContentStore cs(g_top + "/content");
    LayerStore ls(g_top + "/layers");
    ImageStore is(g_top + "/images");
    std::string rootfs = g_top + "/rootfs";

    Built shared = add_layer(cs, ls, "", {lt::file("base", "b")});
    Built only_b = add_layer(cs, ls, shared.chain_id, {lt::file("b", "b")});
    Built only_c = add_layer(cs, ls, shared.chain_id, {lt::file("c", "c")});
    auto image = [&](const std::string& name, const std::vector<Built>& layers) {
        ImageRecord r;
        std::string config = "{\"config of\":\"" + name + "\"}";
        std::string manifest = "{\"manifest of\":\"" + name + "\"}";
        r.id = r.config_digest = sha256_digest(config);
        r.manifest_digest = sha256_digest(manifest);
        cs.put(r.id, config);
        cs.put(r.manifest_digest, manifest);
        r.repo_tags = {"docker.io/library/" + name + ":latest"};
        for (const auto& l : layers) {
            r.layer_digests.push_back(l.blob_digest);
            r.diff_ids.push_back(l.diff_id);
            r.chain_ids.push_back(l.chain_id);
        }
        is.put(r);
        return r;
    };
    ImageRecord a = image("a", {shared});
    ImageRecord b = image("b", {shared, only_b});
    ImageRecord c = image("c", {shared, only_c});
    // A container of image b.
    std::string m = prepare_rootfs(rootfs, "ctr-b", {shared.layer.fs(), only_b.layer.fs()}, {shared.chain_id, only_b.chain_id});
    // What a crash leaves: an ingest long untouched and an unpack without metadata.
    { cs.writer(sha256_digest("never finished"), 100)->write("half", 4); }
    std::string ingest = g_top + "/content/ingest/" + sha256_digest("never finished").substr(7);
    struct timespec past[2] = {{1000000000, 0}, {1000000000, 0}};
    cr_assert_eq(::utimensat(AT_FDCWD, ingest.c_str(), past, 0), 0);
    std::string crashed = g_top + "/layers/00000000000000aa";
    cr_assert_eq(::mkdir(crashed.c_str(), 0700), 0);

    cr_assert(is.remove("docker.io/library/b:latest"));
    cr_assert(is.remove("docker.io/library/c:latest"));
    GcResult r = collect_garbage(is, cs, ls, rootfs_leases(rootfs));
    // b's and c's own blobs (config, manifest, own layer) go; the shared layer's blob stays (a uses it).
    for (const auto& d : {b.id, b.manifest_digest, only_b.blob_digest, c.id, c.manifest_digest, only_c.blob_digest})
        cr_assert(!cs.has(d), "%s should be gone", d.c_str());
    for (const auto& d : {a.id, a.manifest_digest, shared.blob_digest}) cr_assert(cs.has(d), "%s should stay", d.c_str());
    cr_assert(ls.find(shared.chain_id).has_value());
    cr_assert(ls.find(only_b.chain_id).has_value(), "leased by the container");
    cr_assert(!ls.find(only_c.chain_id).has_value(), "nobody uses it");
    cr_assert(!exists(ingest));
    cr_assert(!exists(crashed));
    cr_assert_eq(r.blobs, 6u);
    cr_assert_eq(r.layers, 2u, "only_c and the crashed unpack");
    cr_assert_eq(slurp(m + "/b"), "b", "the container still reads its layer");

    remove_rootfs(rootfs, "ctr-b");
    collect_garbage(is, cs, ls, rootfs_leases(rootfs));
    cr_assert(!ls.find(only_b.chain_id).has_value(), "released with the container");
    cr_assert(ls.find(shared.chain_id).has_value());
    cr_assert_eq(ls.list().size(), 1u);
}
