// The unpack rate of berthd's layer unpacker (cri/image/unpack) on a big
// gzip layer, beside GNU tar's (tar -xzpf) and the bare decompression
// (gzip -dc > /dev/null) on the same blob: MB/s of uncompressed tar, best
// and median of the runs, and the CPU time (user + system, all threads and
// children) per run, which a busy machine disturbs less than wall time.
// Printed, not asserted.
//
//   unpack-bench [--size MB] [--src DIR] [--work DIR] [--runs N] [--keep 1]
//
// The layer is a tar.gz of the first MB megabytes (default 200) of files
// under DIR (default /usr), made once in the work dir (default /var/tmp).
// Runs alternate between the unpackers, each into a fresh dir; the trees
// are removed at the end only: ext4 scans past inodes freed in the last
// ~30 s when it allocates new ones, which would slow whichever run follows
// a removal (run it again after half a minute for the same reason).
#include "error.hpp"
#include "tree.hpp"
#include "unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct Builder {
    archive* a;
    uint64_t limit, files = 0, data = 0;
};
Builder* g_builder;

int add_entry(const char* path, const struct stat* st, int type, FTW*) {
    Builder& b = *g_builder;
    if (b.data >= b.limit) return 1;
    if (type != FTW_F && type != FTW_D && type != FTW_SL) return 0;
    std::string name = path + 1;   // without the leading '/'
    archive_entry* e = archive_entry_new();
    archive_entry_copy_stat(e, st);
    archive_entry_set_pathname(e, name.c_str());
    std::string target;
    if (type == FTW_SL) {
        char t[4096];
        ssize_t n = ::readlink(path, t, sizeof t);
        if (n < 0) {
            archive_entry_free(e);
            return 0;
        }
        target.assign(t, static_cast<size_t>(n));
        archive_entry_set_symlink(e, target.c_str());
    }
    int fd = -1;
    if (type == FTW_F) {
        if (!S_ISREG(st->st_mode) || (fd = ::open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            archive_entry_free(e);
            return 0;
        }
    }
    if (archive_write_header(b.a, e) != ARCHIVE_OK) {
        std::fprintf(stderr, "%s: %s\n", path, archive_error_string(b.a));
        std::exit(1);
    }
    if (fd >= 0) {
        static char buf[1 << 16];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) archive_write_data(b.a, buf, static_cast<size_t>(n));
        ::close(fd);
        b.data += static_cast<uint64_t>(st->st_size);
        b.files++;
    }
    archive_entry_free(e);
    return 0;
}

// Returns the uncompressed size.
uint64_t build_layer(const std::string& src, const std::string& out, uint64_t limit) {
    Builder b{archive_write_new(), limit};
    archive_write_set_format_pax_restricted(b.a);
    archive_write_add_filter_gzip(b.a);
    if (archive_write_open_filename(b.a, out.c_str()) != ARCHIVE_OK) {
        std::fprintf(stderr, "%s: %s\n", out.c_str(), archive_error_string(b.a));
        std::exit(1);
    }
    g_builder = &b;
    ::nftw(src.c_str(), add_entry, 64, FTW_PHYS | FTW_MOUNT);
    archive_write_close(b.a);
    uint64_t raw = static_cast<uint64_t>(archive_filter_bytes(b.a, 0));
    archive_write_free(b.a);
    std::printf("layer: %llu files, %.1f MB of file data, %.1f MB tar, %s\n", static_cast<unsigned long long>(b.files),
                b.data / 1e6, raw / 1e6, out.c_str());
    return raw;
}

double cpu_seconds(int who) {
    struct rusage ru;
    ::getrusage(who, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Sample {
    double wall, cpu;
};

Sample run_cmd(std::vector<std::string> argv) {
    std::vector<char*> args;
    for (auto& s : argv) args.push_back(s.data());
    args.push_back(nullptr);
    double c0 = cpu_seconds(RUSAGE_CHILDREN);
    auto t0 = std::chrono::steady_clock::now();
    pid_t pid;
    if (::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return {-1, -1};
    int st;
    ::waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return {-1, -1};
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), cpu_seconds(RUSAGE_CHILDREN) - c0};
}

void report(const char* what, std::vector<Sample> s, uint64_t raw) {
    if (s.empty() || s[0].wall < 0) {
        std::printf("%-22s failed or missing\n", what);
        return;
    }
    std::sort(s.begin(), s.end(), [](const Sample& a, const Sample& b) { return a.wall < b.wall; });
    double best = s.front().wall, median = s[s.size() / 2].wall;
    std::sort(s.begin(), s.end(), [](const Sample& a, const Sample& b) { return a.cpu < b.cpu; });
    double cpu = s[s.size() / 2].cpu;
    std::printf("%-22s wall best %6.3f s (%6.1f MB/s), median %6.3f s (%6.1f MB/s); CPU median %6.3f s (%6.1f MB/CPU-s)\n",
                what, best, raw / 1e6 / best, median, raw / 1e6 / median, cpu, raw / 1e6 / cpu);
}

} // namespace

int main(int argc, char** argv) {
    uint64_t size_mb = 200;
    std::string src = "/usr", work = "/var/tmp";
    int runs = 3;
    bool keep = false;   // leave WORK/berth-unpack-bench/layer.tar.gz for other tools
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i];
        if (k == "--size") size_mb = std::strtoull(argv[i + 1], nullptr, 10);
        else if (k == "--src") src = argv[i + 1];
        else if (k == "--work") work = argv[i + 1];
        else if (k == "--runs") runs = std::atoi(argv[i + 1]);
        else if (k == "--keep") keep = std::atoi(argv[i + 1]) != 0;
        else {
            std::fprintf(stderr, "usage: unpack-bench [--size MB] [--src DIR] [--work DIR] [--runs N] [--keep 1]\n");
            return 2;
        }
    }
    std::string dir = work + "/berth-unpack-bench";
    berth::image::remove_tree(dir);
    berth::image::make_dirs(dir);
    std::string blob = dir + "/layer.tar.gz";
    uint64_t raw = build_layer(src, blob, size_mb << 20);
    struct stat st;
    ::stat(blob.c_str(), &st);
    std::printf("blob: %.1f MB gzip; %d runs each, alternating\n", st.st_size / 1e6, runs);

    std::vector<Sample> ours, tar, gunzip;
    for (int r = 0; r < runs; ++r) {
        std::string out = dir + "/berth" + std::to_string(r);
        double c0 = cpu_seconds(RUSAGE_SELF);
        auto t0 = std::chrono::steady_clock::now();
        try {
            berth::image::unpack_layer(blob, out, "bench layer");
        } catch (const berth::Error& e) {
            std::fprintf(stderr, "unpack: %s\n", e.what());
            return 1;
        }
        ours.push_back({std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                        cpu_seconds(RUSAGE_SELF) - c0});

        std::string tout = dir + "/tar" + std::to_string(r);
        berth::image::make_dirs(tout);
        tar.push_back(run_cmd({"tar", "-xzpf", blob, "-C", tout}));

        gunzip.push_back(run_cmd({"sh", "-c", "gzip -dc < '" + blob + "' > /dev/null"}));
    }
    report("berth unpack_layer", ours, raw);
    report("tar -xzpf", tar, raw);
    report("gzip -dc > /dev/null", gunzip, raw);
    for (int r = 0; r < runs; ++r) {
        berth::image::remove_tree(dir + "/berth" + std::to_string(r));
        berth::image::remove_tree(dir + "/tar" + std::to_string(r));
    }
    if (!keep) berth::image::remove_tree(dir);
    return 0;
}
