// libFuzzer target for layer unpacking (cri/image/unpack.cpp): the input is
// a layer blob, unpacked with unpack_layer into a fresh directory of a
// scratch dir made in LLVMFuzzerInitialize, then removed. The tar parser
// is Debian's libarchive (not instrumented); what is fuzzed is what berth
// does with the entries it hands over: names, whiteouts, links, devices,
// xattrs, owners, replacements of what an earlier entry made.
//
// Headers of an uncompressed input get their checksums recomputed before
// the unpack (tar_checksums.hpp); gzip, zstd, xz and bzip2 inputs go as
// they are.
//
// Properties:
//   - unpack_layer answers, or refuses with berth::Error and leaves no
//     directory behind;
//   - nothing is written outside the layer's directory: the scratch dir
//     (the blob, the directories above the layers, 4 deep so that "../"
//     escapes land in it) and $TMPDIR (when run.sh made it private) hold
//     exactly what they held before. Run as root, the target also moves
//     into a mount namespace of its own where every mount but the scratch
//     dir and libFuzzer's output dirs is read-only: a write anywhere else
//     fails with EROFS, which is a finding too (and the host is safe);
//   - an uncompressed layer's diff id is the sha256 of the input.
// Anything else (a sanitizer report, another exception, a hang) is a finding.
#include "digest.hpp"
#include "error.hpp"
#include "tar_checksums.hpp"
#include "unpack.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

// libFuzzer offers no user data pointer: the scratch dir's layout and its
// snapshot are the harness's globals, set once in LLVMFuzzerInitialize.
std::string g_scratch, g_blob, g_layers, g_tmpdir;
std::set<std::string> g_scratch_names, g_tmpdir_names;
uint64_t g_count = 0;

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "fuzz_tar_unpack: %s\n", what.c_str());
    __builtin_trap();
}

[[noreturn]] void setup_failed(const std::string& what) {
    std::fprintf(stderr, "fuzz_tar_unpack: setup: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(2);
}

// rm -rf that gets through directories an entry made unreadable.
void remove_all_at(int dirfd, const char* name) {
    struct stat st;
    if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return;
    if (S_ISDIR(st.st_mode)) {
        ::fchmodat(dirfd, name, 0700, 0);
        int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            if (DIR* d = ::fdopendir(fd)) {
                std::vector<std::string> names;
                while (dirent* e = ::readdir(d))
                    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.push_back(e->d_name);
                for (const auto& n : names) remove_all_at(::dirfd(d), n.c_str());
                ::closedir(d);
            } else {
                ::close(fd);
            }
        }
        ::unlinkat(dirfd, name, AT_REMOVEDIR);
    } else {
        ::unlinkat(dirfd, name, 0);
    }
}

void remove_all(const std::string& path) { remove_all_at(AT_FDCWD, path.c_str()); }

// Every path under dir, relative to it, not following symlinks.
void walk(const std::string& dir, const std::string& rel, std::set<std::string>& out) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    while (dirent* e = ::readdir(d)) {
        if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
        std::string r = rel.empty() ? e->d_name : rel + "/" + e->d_name;
        out.insert(r);
        struct stat st;
        std::string p = dir + "/" + e->d_name;
        if (::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) walk(p, r, out);
    }
    ::closedir(d);
}

std::set<std::string> names_in(const std::string& dir) {
    std::set<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) out.insert(e->d_name);
    ::closedir(d);
    return out;
}

// ---- a read-only host, when root

std::string dir_of(const std::string& path) {
    size_t s = path.rfind('/');
    if (s == std::string::npos) return ".";
    return s == 0 ? "/" : path.substr(0, s);
}

std::string absolute(const std::string& p) {
    char buf[PATH_MAX];
    return ::realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

// Unescape a mountinfo field (\040 for a space, ...).
std::string unescape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            out += static_cast<char>(std::strtol(s.substr(i + 1, 3).c_str(), nullptr, 8));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// A private mount namespace in which only `scratch` (a tmpfs of its own,
// fast and gone with the process) and `writable` (each bind-mounted onto
// itself) can be written. Best effort: false, with the reason, when this
// process may not (not root, no CAP_SYS_ADMIN, a seccomp filter).
bool read_only_host(const std::string& scratch, const std::vector<std::string>& writable, std::string& why) {
    if (::geteuid() != 0) return why = "not root", false;
    if (std::getenv("FUZZ_UNPACK_NO_NAMESPACE")) return why = "FUZZ_UNPACK_NO_NAMESPACE is set", false;
    if (::unshare(CLONE_NEWNS) < 0) return why = std::string("unshare: ") + std::strerror(errno), false;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
        return why = std::string("make / private: ") + std::strerror(errno), false;
    std::set<std::string> keep = {absolute(scratch)};
    if (::mount("tmpfs", scratch.c_str(), "tmpfs", MS_NOSUID, "size=512m,mode=0700") < 0)
        return why = std::string("tmpfs on the scratch dir: ") + std::strerror(errno), false;
    for (const auto& w : writable) {
        std::string p = absolute(w);
        if (p.empty() || keep.count(p)) continue;
        if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
            return why = "bind " + p + ": " + std::strerror(errno), false;
        keep.insert(p);
    }
    std::ifstream mi("/proc/self/mountinfo");
    std::string line;
    std::vector<std::string> points;
    while (std::getline(mi, line)) {
        std::istringstream fields(line);
        std::string id, parent, devno, root, point;
        fields >> id >> parent >> devno >> root >> point;
        points.push_back(unescape(point));
    }
    int done = 0;
    for (const auto& p : points) {
        bool kept = false;
        for (const auto& k : keep)
            if (p == k || p.starts_with(k + "/")) kept = true;
        if (kept) continue;
        if (::mount(nullptr, p.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0) ++done;
    }
    if (!done) return why = "no mount could be made read-only", false;
    return true;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    const char* t = std::getenv("TMPDIR");
    std::string base = t && *t ? t : "/tmp";
    std::string tmpl = base + "/fuzz_tar_unpack.XXXXXX";
    if (!::mkdtemp(tmpl.data())) setup_failed("mkdtemp in " + base);
    g_scratch = tmpl;
    g_blob = g_scratch + "/blob";
    g_layers = g_scratch + "/a/b/c";

    // A private TMPDIR (run.sh's) is watched too; the shared /tmp is not.
    if (t && *t && std::string_view(t) != "/tmp" && std::string_view(t) != "/tmp/") g_tmpdir = absolute(base);

    // libFuzzer writes into the corpus dirs, next to -artifact_prefix and
    // -exact_artifact_path, and into the working directory.
    std::vector<std::string> writable = {"."};
    for (int i = 1; i < *argc; ++i) {
        std::string a = (*argv)[i];
        for (const char* flag : {"-artifact_prefix=", "-exact_artifact_path="})
            if (a.starts_with(flag)) writable.push_back(dir_of(a.substr(std::strlen(flag)) + "x"));
        struct stat st;
        if (a[0] != '-' && ::stat(a.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) writable.push_back(a);
    }
    // In the read-only namespace the scratch dir cannot be removed (its
    // parent is read-only there): a child left in the host's namespace
    // removes it once this process is gone, however it ends. (Started
    // before the namespace, and before libFuzzer's threads.)
    int janitor[2];
    if (::pipe(janitor) < 0) setup_failed("pipe");
    pid_t pid = ::fork();
    if (pid < 0) setup_failed("fork");
    if (pid == 0) {
        ::close(janitor[1]);
        for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_IGN);
        char c;
        while (::read(janitor[0], &c, 1) < 0 && errno == EINTR) {
        }
        remove_all(g_scratch);
        ::_exit(0);
    }
    ::close(janitor[0]);
    ::fcntl(janitor[1], F_SETFD, FD_CLOEXEC);   // held open until this process ends
    std::string why;
    if (!read_only_host(g_scratch, writable, why)) {
        std::fprintf(stderr, "fuzz_tar_unpack: the host stays writable (%s); checking the scratch dir only\n",
                     why.c_str());
    } else {
        // The protection is live: next to the scratch dir, nothing can be made.
        std::string probe = g_scratch + ".probe";
        if (::mkdir(probe.c_str(), 0700) == 0) {
            ::rmdir(probe.c_str());
            std::fprintf(stderr, "fuzz_tar_unpack: %s is writable despite the read-only namespace\n",
                         dir_of(g_scratch).c_str());
        } else if (errno != EROFS) {
            setup_failed("probe " + probe);
        }
    }
    for (const char* d : {"/a", "/a/b", "/a/b/c"})
        if (::mkdir((g_scratch + d).c_str(), 0755) < 0) setup_failed("mkdir");
    int fd = ::open(g_blob.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) setup_failed("create " + g_blob);
    ::close(fd);
    walk(g_scratch, "", g_scratch_names);
    if (!g_tmpdir.empty()) g_tmpdir_names = names_in(g_tmpdir);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string blob(reinterpret_cast<const char*>(data), size);
    fuzz::fix_tar_checksums(blob);
    {
        int fd = ::open(g_blob.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || ::write(fd, blob.data(), blob.size()) != static_cast<ssize_t>(blob.size()) || ::close(fd) < 0)
            setup_failed("write " + g_blob);
    }
    std::string dir = g_layers + "/" + std::to_string(++g_count);
    bool ok = false;
    berth::image::UnpackResult r;
    try {
        r = berth::image::unpack_layer(g_blob, dir, "layer");
        ok = true;
    } catch (const berth::Error& e) {
        if (e.err() == EROFS) finding(std::string("a write outside the layer's dir: ") + e.what());
        static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;   // why a seed is refused
        if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
        struct stat st;
        if (::geteuid() == 0 && ::lstat(dir.c_str(), &st) == 0)
            finding(std::string("a refused layer's dir is left behind: ") + e.what());
    }
    if (ok && !fuzz::compressed(blob) && r.diff_id != berth::image::sha256_digest(blob))
        finding("diff id " + r.diff_id + " is not the sha256 of the uncompressed input");
    remove_all(dir);
    std::set<std::string> now;
    walk(g_scratch, "", now);
    if (now != g_scratch_names) {
        std::string extra;
        for (const auto& n : now)
            if (!g_scratch_names.count(n)) extra += " " + n;
        finding("the scratch dir changed outside the layer's dir:" + extra);
    }
    if (!g_tmpdir.empty() && names_in(g_tmpdir) != g_tmpdir_names) finding("$TMPDIR changed: " + g_tmpdir);
    return 0;
}
