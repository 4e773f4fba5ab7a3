// cri/image/unpack and layer_store: layer tars built here with libarchive's
// writer, unpacked into a temp dir. Parts that need root (owners, 0/0
// whiteout nodes as root, trusted.* xattrs, security.capability) check
// more when run as root.
#include <criterion/criterion.h>

#include "digest.hpp"
#include "error.hpp"
#include "layer_store.hpp"
#include "layer_tar.hpp"
#include "test_dir.hpp"
#include "tree.hpp"
#include "unpack.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <locale.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

using namespace berth;
using namespace berth::image;
namespace lt = layer_tar;

// Layers hold read-only dirs, which std::filesystem cannot remove without root.
void remove_layers_dir() {
    try {
        if (!test_dir().empty()) remove_tree(test_dir());
    } catch (const Error&) {
    }
    remove_test_dir();
}

TestSuite(unpack, .init = make_test_dir, .fini = remove_layers_dir);

namespace {

std::string blob(const std::vector<lt::Entry>& es, lt::Compression c = lt::Compression::gzip) {
    static int n = 0;
    std::string p = test_dir() + "/blob" + std::to_string(n++);
    lt::write_file(p, lt::make(es, c));
    return p;
}

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

struct stat lstat_of(const std::string& p) {
    struct stat st {};
    cr_assert_eq(::lstat(p.c_str(), &st), 0, "lstat %s: %s", p.c_str(), strerror(errno));
    return st;
}

// Runs the unpack expecting an Error; returns it.
Error unpack_error(const std::string& b, const std::string& dir, const std::function<bool()>& cancelled = {}) {
    try {
        unpack_layer(b, dir, "layer L1", cancelled);
    } catch (const Error& e) {
        return e;
    }
    cr_assert_fail("unpack of %s succeeded", b.c_str());
    return Error("unreachable");
}

bool root() { return ::geteuid() == 0; }

// A skipped test gets no .fini: its dir goes first.
void skip_unless_root(const char* why) {
    if (root()) return;
    remove_layers_dir();
    cr_skip_test("needs root (%s)", why);
}

} // namespace

Test(unpack, files_dirs_links_modes_and_times) {
    auto d = lt::dir("etc/", 0750);
    d.mtime = 1400000000;
    auto f = lt::file("etc/passwd", "root:x:0:0\n", 0640);
    f.mtime = 1300000000;
    f.mtime_nsec = 123456789;
    auto suid = lt::file("bin/su", "ELF", 04755);
    auto ro = lt::dir("ro/", 0555);
    auto inner = lt::file("ro/inside", "x", 0444);
    auto b = blob({d, f, lt::dir("bin/"), suid, lt::symlink("bin/sh", "busybox"), lt::hardlink("bin/su2", "bin/su"),
                   ro, inner, lt::file("deep/er/file", "made parents")});
    std::string out = test_dir() + "/fs";
    auto r = unpack_layer(b, out, "layer L1");

    cr_assert_eq(slurp(out + "/etc/passwd"), "root:x:0:0\n");
    cr_assert_eq(lstat_of(out + "/etc/passwd").st_mode & 07777, 0640);
    cr_assert_eq(lstat_of(out + "/etc/passwd").st_mtim.tv_sec, 1300000000);
    cr_assert_eq(lstat_of(out + "/etc/passwd").st_mtim.tv_nsec, 123456789);
    // Directory times survive the children made after them.
    cr_assert_eq(lstat_of(out + "/etc").st_mtim.tv_sec, 1400000000);
    cr_assert_eq(lstat_of(out + "/etc").st_mode & 07777, 0750);
    cr_assert_eq(lstat_of(out + "/bin/su").st_mode & 07777, 04755);
    cr_assert(S_ISLNK(lstat_of(out + "/bin/sh").st_mode));
    char target[64] = {};
    cr_assert_gt(::readlink((out + "/bin/sh").c_str(), target, sizeof target - 1), 0);
    cr_assert_str_eq(target, "busybox");
    cr_assert_eq(lstat_of(out + "/bin/su2").st_ino, lstat_of(out + "/bin/su").st_ino);
    cr_assert_eq(lstat_of(out + "/ro").st_mode & 07777, 0555);
    cr_assert_eq(slurp(out + "/ro/inside"), "x");
    cr_assert_eq(slurp(out + "/deep/er/file"), "made parents");
    cr_assert(S_ISDIR(lstat_of(out + "/deep/er").st_mode));
    cr_assert_eq(r.bytes, 11u + 3 + 1 + 12);
    cr_assert_geq(r.inodes, 11u);
}

Test(unpack, names_that_are_not_ascii) {
    // pax keeps them as UTF-8; berthd runs in the C locale, and the bytes on
    // disk must be those of the tar (what containerd writes too).
    std::string dir = "\xc3\xbc" "ber/", name = dir + "na\xc3\xafve.txt", link = dir + "\xe2\x86\x92";
    std::string out = test_dir() + "/fs";
    unpack_layer(blob({lt::dir(dir), lt::file(name, "utf8"), lt::symlink(link, "na\xc3\xafve.txt"),
                       lt::hardlink(dir + "hard\xc3\xa9", name)}),
                 out, "layer L1");
    cr_assert_eq(slurp(out + "/" + name), "utf8");
    cr_assert_eq(slurp(out + "/" + link), "utf8");
    cr_assert_eq(lstat_of(out + "/" + dir + "hard\xc3\xa9").st_ino, lstat_of(out + "/" + name).st_ino);

    // Written in a UTF-8 locale, the pax records say UTF-8 (as Go's and
    // Python's tar writers do) instead of hdrcharset=BINARY.
    locale_t utf8 = ::newlocale(LC_ALL_MASK, "C.UTF-8", nullptr);
    if (!utf8) return;
    locale_t old = ::uselocale(utf8);
    std::string b = blob({lt::dir(dir), lt::file(name, "pax utf8"), lt::symlink(link, "na\xc3\xafve.txt")},
                         lt::Compression::none);
    ::uselocale(old);
    ::freelocale(utf8);
    std::string raw = slurp(b);
    cr_assert_neq(raw.find("path=" + name), std::string::npos, "a pax path record");
    cr_assert_eq(raw.find("hdrcharset"), std::string::npos, "in UTF-8, not BINARY");
    unpack_layer(b, out + "2", "layer L1");
    cr_assert_eq(slurp(out + "2/" + name), "pax utf8");
    cr_assert_eq(slurp(out + "2/" + link), "pax utf8");
}

Test(unpack, diff_id_is_the_uncompressed_digest_whatever_the_compression) {
    std::vector<lt::Entry> es = {lt::file("a", std::string(300000, 'a')), lt::dir("d/"), lt::file("d/b", "b")};
    std::string want = sha256_digest(lt::plain(es));
    int i = 0;
    for (auto c : {lt::Compression::none, lt::Compression::gzip, lt::Compression::zstd}) {
        std::string out = test_dir() + "/fs" + std::to_string(i++);
        auto r = unpack_layer(blob(es, c), out, "layer L1");
        cr_assert_str_eq(r.diff_id.c_str(), want.c_str());
        cr_assert_eq(slurp(out + "/a").size(), 300000u);
    }
}

Test(unpack, diff_id_covers_what_follows_the_tars_end) {
    // Bytes past the end-of-archive marker (padding, or anything) are part
    // of the layer's digest; the tar reader stops early, the hash must not.
    std::string data = lt::plain({lt::file("a", "x")}) + std::string(1 << 20, '\0') + std::string(3 << 20, 'p');
    std::string b = test_dir() + "/padded";
    lt::write_file(b, data);
    auto r = unpack_layer(b, test_dir() + "/fs", "layer L1");
    std::string want = sha256_digest(data);
    cr_assert_str_eq(r.diff_id.c_str(), want.c_str());
}

Test(unpack, sparse_files_keep_their_holes_and_size) {
    // GNU tar's sparse formats (gnu, and pax's GNU.sparse), with a hole at the end.
    std::string src = test_dir() + "/src";
    cr_assert_eq(::mkdir(src.c_str(), 0755), 0);
    int fd = ::open((src + "/f").c_str(), O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    std::string data(4096, 's');
    cr_assert_eq(::pwrite(fd, data.data(), data.size(), 1 << 20), 4096);
    cr_assert_eq(::ftruncate(fd, 3 << 20), 0);
    ::close(fd);
    for (const char* fmt : {"gnu", "posix"}) {
        std::string tar = test_dir() + "/sparse-" + fmt + ".tar";
        std::string cmd = std::string("tar --format=") + fmt + " -cSf " + tar + " -C " + src + " f";
        int rc = ::system(cmd.c_str());
        if (rc != 0) {
            remove_layers_dir();
            cr_skip_test("GNU tar is needed to make sparse tars (%s: %d)", cmd.c_str(), rc);
        }
        std::string out = test_dir() + "/fs-" + fmt;
        unpack_layer(tar, out, "layer L1");
        struct stat st = lstat_of(out + "/f");
        cr_assert_eq(st.st_size, 3 << 20, "%s: size %lld", fmt, (long long)st.st_size);
        std::string got = slurp(out + "/f");
        cr_assert_eq(got.substr(1 << 20, 4096), data, "%s", fmt);
        cr_assert_eq(got.find('s'), size_t(1) << 20, "%s: zeros before the data", fmt);
        cr_assert_lt(st.st_blocks * 512, 1 << 20, "%s: holes stay holes (%lld blocks)", fmt, (long long)st.st_blocks);
    }
}

Test(unpack, owners_when_root) {
    skip_unless_root("chown");
    auto f = lt::file("f", "x", 0755);
    f.uid = 1234;
    f.gid = 5678;
    auto s = lt::symlink("s", "/nowhere");
    s.uid = 42;
    s.gid = 43;
    auto d = lt::dir("d/");
    d.uid = 7;
    d.gid = 8;
    std::string out = test_dir() + "/fs";
    unpack_layer(blob({f, s, d}), out, "layer L1");
    cr_assert_eq(lstat_of(out + "/f").st_uid, 1234u);
    cr_assert_eq(lstat_of(out + "/f").st_gid, 5678u);
    cr_assert_eq(lstat_of(out + "/s").st_uid, 42u);   // lchown: the link, not what it names
    cr_assert_eq(lstat_of(out + "/d").st_gid, 8u);
}

Test(unpack, setuid_survives_the_chown) {
    skip_unless_root("chown clears setuid only when it runs");
    auto f = lt::file("su", "x", 06755);
    f.uid = 1000;
    f.gid = 1000;
    std::string out = test_dir() + "/fs";
    unpack_layer(blob({f}), out, "layer L1");
    cr_assert_eq(lstat_of(out + "/su").st_mode & 07777, 06755);
}

Test(unpack, whiteouts_and_opaque_dirs) {
    std::vector<lt::Entry> es = {lt::dir("a/"), lt::file("a/.wh.gone", ""), lt::dir("o/"), lt::file("o/.wh..wh..opq", ""),
                                 lt::file("o/new", "n"), lt::file("a/.wh..wh.plnk", "")};
    std::string out = test_dir() + "/fs";
    if (!root()) {
        // Without root the opaque xattr (trusted.*) cannot be set: a clear error, nothing left.
        Error e = unpack_error(blob(es), out);
        cr_assert(std::string(e.what()).find("o/.wh..wh..opq") != std::string::npos, "%s", e.what());
        cr_assert(!exists(out));
        return;
    }
    unpack_layer(blob(es), out, "layer L1");
    struct stat st = lstat_of(out + "/a/gone");
    cr_assert(S_ISCHR(st.st_mode));
    cr_assert_eq(st.st_rdev, makedev(0, 0));
    cr_assert(!exists(out + "/a/.wh.gone"));
    cr_assert(!exists(out + "/a/.wh..wh.plnk"));
    cr_assert(!exists(out + "/a/.wh.plnk"));
    char v[8] = {};
    cr_assert_eq(::getxattr((out + "/o").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
    cr_assert_eq(v[0], 'y');
    cr_assert(!exists(out + "/o/.wh..wh..opq"));
    cr_assert_eq(slurp(out + "/o/new"), "n");
}

Test(unpack, xattrs) {
    auto f = lt::file("f", "x");
    f.xattrs["user.berth.test"] = "value";
    f.xattrs["trusted.overlay.redirect"] = "/elsewhere";   // never from a layer
    if (root()) {
        // VFS_CAP_REVISION_2 granting cap_net_bind_service (bit 10) permitted + effective.
        std::string cap("\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
        f.xattrs["security.capability"] = cap;
        f.xattrs["trusted.berth"] = "t";
        f.uid = 1000;   // the chown comes before the capability, which it would clear
    }
    auto d = lt::dir("d/");
    d.xattrs["user.dir"] = "dv";
    std::string out = test_dir() + "/fs";
    unpack_layer(blob({f, d}), out, "layer L1");
    char v[64] = {};
    ssize_t n = ::getxattr((out + "/f").c_str(), "user.berth.test", v, sizeof v);
    if (n < 0 && errno == ENOTSUP) {
        remove_layers_dir();
        cr_skip_test("no user xattrs in /tmp");
    }
    cr_assert_eq(n, 5);
    cr_assert_str_eq(v, "value");
    cr_assert_eq(::getxattr((out + "/d").c_str(), "user.dir", v, sizeof v), 2);
    cr_assert_lt(::getxattr((out + "/f").c_str(), "trusted.overlay.redirect", v, sizeof v), 0);
    if (root()) {
        char cap[32];
        cr_assert_eq(::getxattr((out + "/f").c_str(), "security.capability", cap, sizeof cap), 20);
        cr_assert_eq(::getxattr((out + "/f").c_str(), "trusted.berth", v, sizeof v), 1);
    }
}

Test(unpack, device_nodes_and_fifos) {
    auto fifo = lt::file("p", "");
    fifo.type = AE_IFIFO;
    std::vector<lt::Entry> es = {fifo};
    if (root()) {
        lt::Entry c;
        c.name = "null";
        c.type = AE_IFCHR;
        c.perm = 0666;
        c.dev_major = 1;
        c.dev_minor = 3;
        es.push_back(c);
    }
    std::string out = test_dir() + "/fs";
    unpack_layer(blob(es), out, "layer L1");
    cr_assert(S_ISFIFO(lstat_of(out + "/p").st_mode));
    if (root()) {
        struct stat st = lstat_of(out + "/null");
        cr_assert(S_ISCHR(st.st_mode));
        cr_assert_eq(st.st_rdev, makedev(1, 3));
        cr_assert_eq(st.st_mode & 07777, 0666);
    }
}

Test(unpack, later_entries_replace_earlier_ones) {
    std::string out = test_dir() + "/fs";
    unpack_layer(blob({lt::file("x", "file"), lt::dir("x/"), lt::file("x/in", "i"), lt::file("x", "file again"),
                       lt::symlink("l", "a"), lt::file("l", "not a link")}),
                 out, "layer L1");
    cr_assert_eq(slurp(out + "/x"), "file again");
    cr_assert(S_ISREG(lstat_of(out + "/l").st_mode));
}

Test(unpack, dot_dot_is_refused) {
    std::string out = test_dir() + "/fs";
    Error e = unpack_error(blob({lt::file("ok", "1"), lt::file("a/../../x", "escape")}), out);
    cr_assert_eq(e.err(), EINVAL);
    cr_assert(std::string(e.what()).find("\"..\"") != std::string::npos, "refused by name: %s", e.what());
    cr_assert(std::string(e.what()).find("a/../../x") != std::string::npos, "%s", e.what());
    cr_assert(std::string(e.what()).find("layer L1") != std::string::npos, "%s", e.what());
    cr_assert(!exists(out), "the partial dir is removed");
    cr_assert(!exists(test_dir() + "/x"));
}

Test(unpack, absolute_names_are_refused) {
    std::string out = test_dir() + "/fs";
    std::string victim = test_dir() + "/abs-victim";
    Error e = unpack_error(blob({lt::file(victim, "escape")}), out);
    cr_assert_eq(e.err(), EINVAL);
    cr_assert(std::string(e.what()).find(victim) != std::string::npos, "%s", e.what());
    cr_assert(!exists(victim));
    cr_assert(!exists(out));
}

Test(unpack, a_symlink_out_of_the_layer_is_not_followed) {
    std::string outside = test_dir() + "/outside";
    cr_assert_eq(::mkdir(outside.c_str(), 0755), 0);
    int i = 0;
    // Absolute, relative, and a chain of two links.
    for (auto links : std::vector<std::vector<lt::Entry>>{{lt::symlink("esc", outside)},
                                                          {lt::symlink("esc", "../outside")},
                                                          {lt::symlink("hop", ".."), lt::symlink("esc", "hop/outside")}}) {
        std::string out = test_dir() + "/fs" + std::to_string(i++);
        links.push_back(lt::file("esc/planted", "pwned"));
        Error e = unpack_error(blob(links), out);
        cr_assert_eq(e.err(), EINVAL, "%s", e.what());
        cr_assert(std::string(e.what()).find("esc/planted") != std::string::npos, "%s", e.what());
        cr_assert(!exists(outside + "/planted"));
        cr_assert(!exists(out));
    }
}

Test(unpack, a_symlink_inside_the_layer_is_followed) {
    std::string out = test_dir() + "/fs";
    unpack_layer(blob({lt::dir("usr/lib/"), lt::symlink("lib", "usr/lib"), lt::file("lib/x", "through"),
                       lt::symlink("usr/lib64", "../usr/lib"), lt::file("usr/lib64/y", "up and back")}),
                 out, "layer L1");
    cr_assert_eq(slurp(out + "/usr/lib/x"), "through");
    cr_assert_eq(slurp(out + "/usr/lib/y"), "up and back");
}

Test(unpack, hardlinks_stay_in_the_layer) {
    std::string outside = test_dir() + "/secret";
    lt::write_file(outside, "secret");
    int i = 0;
    for (auto es : std::vector<std::vector<lt::Entry>>{
             {lt::hardlink("h", "../secret")},
             {lt::hardlink("h", outside)},
             {lt::symlink("esc", test_dir()), lt::hardlink("h", "esc/secret")}}) {
        std::string out = test_dir() + "/fs" + std::to_string(i++);
        Error e = unpack_error(blob(es), out);
        cr_assert_eq(e.err(), EINVAL, "%s", e.what());
        cr_assert(std::string(e.what()).find("\"h\"") != std::string::npos, "%s", e.what());
        cr_assert(!exists(out));
        cr_assert_eq(lstat_of(outside).st_nlink, 1u);
    }
    std::string out = test_dir() + "/fsmissing";
    Error e = unpack_error(blob({lt::hardlink("h", "nothing")}), out);
    cr_assert(std::string(e.what()).find("not in the layer") != std::string::npos, "%s", e.what());
}

Test(unpack, truncated_gzip_is_an_error) {
    std::string data = lt::make({lt::file("big", std::string(1 << 20, 'z')), lt::file("after", "x")});
    std::string b = test_dir() + "/trunc";
    lt::write_file(b, data.substr(0, data.size() / 2));
    std::string out = test_dir() + "/fs";
    Error e = unpack_error(b, out);
    cr_assert_eq(e.err(), EBADMSG, "%s", e.what());
    cr_assert(std::string(e.what()).find("layer L1") != std::string::npos, "%s", e.what());
    cr_assert(!exists(out));
}

Test(unpack, garbage_is_an_error) {
    std::string b = test_dir() + "/garbage";
    lt::write_file(b, std::string(5000, '\x7f'));
    std::string out = test_dir() + "/fs";
    Error e = unpack_error(b, out);
    cr_assert_eq(e.err(), EBADMSG, "%s", e.what());
    cr_assert(!exists(out));
}

Test(unpack, cancellation_removes_the_partial_dir) {
    std::vector<lt::Entry> es;
    for (int i = 0; i < 50; ++i) es.push_back(lt::file("f" + std::to_string(i), "x"));
    int calls = 0;
    std::string out = test_dir() + "/fs";
    Error e = unpack_error(blob(es), out, [&] { return ++calls > 10; });
    cr_assert_eq(e.err(), ECANCELED);
    cr_assert(!exists(out));
}

Test(unpack, an_existing_dir_is_refused) {
    std::string out = test_dir() + "/fs";
    cr_assert_eq(::mkdir(out.c_str(), 0755), 0);
    lt::write_file(out + "/keep", "k");
    Error e = unpack_error(blob({lt::file("a", "1")}), out);
    cr_assert_eq(e.err(), EEXIST);
    cr_assert(exists(out + "/keep"), "somebody else's dir is not removed");
}

// --- layer_store ---

TestSuite(layer_store, .init = make_test_dir, .fini = remove_layers_dir);

Test(layer_store, chain_ids) {
    std::string a = sha256_digest("a"), b = sha256_digest("b");
    cr_assert_eq(chain_id("", a), a);
    cr_assert_eq(chain_id(a, b), sha256_digest(a + " " + b));
}

Test(layer_store, ensure_unpacks_and_finds) {
    std::vector<lt::Entry> es = {lt::file("hello", "world")};
    std::string diff = sha256_digest(lt::plain(es));
    LayerStore s(test_dir() + "/layers");
    std::string cid = chain_id("", diff);
    cr_assert(!s.find(cid));
    Layer l = s.ensure(cid, diff, blob(es), "layer L1");
    cr_assert_eq(l.diff_id, diff);
    cr_assert_eq(slurp(l.fs() + "/hello"), "world");
    cr_assert_eq(l.dir, test_dir() + "/layers/" + diff.substr(7, 16));
    auto f = s.find(cid);
    cr_assert(f.has_value());
    cr_assert_eq(f->bytes, 5u);
    cr_assert_eq(s.list().size(), 1u);
    s.remove(cid);
    cr_assert(!exists(l.dir));
    cr_assert(s.list().empty());
}

Test(layer_store, wrong_diff_id_removes_the_layer) {
    std::vector<lt::Entry> es = {lt::file("hello", "world")};
    std::string wrong = sha256_digest("something else");
    LayerStore s(test_dir() + "/layers");
    try {
        s.ensure(wrong, wrong, blob(es), "layer L1");
        cr_assert_fail("a wrong diff id was accepted");
    } catch (const Error& e) {
        cr_assert_eq(e.err(), EBADMSG);
        cr_assert(std::string(e.what()).find(wrong) != std::string::npos, "%s", e.what());
    }
    cr_assert(!exists(test_dir() + "/layers/" + wrong.substr(7, 16)));
    cr_assert(!s.find(wrong));
}

Test(layer_store, concurrent_ensure_unpacks_once) {
    std::vector<lt::Entry> es;
    for (int i = 0; i < 40; ++i) es.push_back(lt::file("f" + std::to_string(i), std::string(10000, 'x')));
    std::string diff = sha256_digest(lt::plain(es));
    std::string b = blob(es);
    LayerStore s(test_dir() + "/layers");
    // The unpack polls `cancelled` once per entry: the count says how many unpacks ran.
    std::atomic<int> polls{0};
    std::vector<std::thread> ts;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i)
        ts.emplace_back([&] {
            Layer l = s.ensure(diff, diff, b, "layer L1", [&] {
                polls++;
                return false;
            });
            if (l.chain_id == diff) ok++;
        });
    for (auto& t : ts) t.join();
    cr_assert_eq(ok.load(), 4);
    cr_assert_eq(polls.load(), 40, "unpacked %d entries for 40", polls.load());
}

Test(layer_store, remove_incomplete) {
    std::vector<lt::Entry> es = {lt::file("hello", "world")};
    std::string diff = sha256_digest(lt::plain(es));
    LayerStore s(test_dir() + "/layers");
    s.ensure(diff, diff, blob(es), "layer L1");
    std::string crashed = test_dir() + "/layers/0123456789abcdef";
    cr_assert_eq(::mkdir(crashed.c_str(), 0700), 0);
    cr_assert_eq(::mkdir((crashed + "/fs").c_str(), 0700), 0);
    lt::write_file(crashed + "/fs/half", "h");
    cr_assert_eq(s.remove_incomplete(), 1u);
    cr_assert(!exists(crashed));
    cr_assert(s.find(diff).has_value());
}
