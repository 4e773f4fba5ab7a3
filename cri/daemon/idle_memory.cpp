#include "idle_memory.hpp"

#include "file_util.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>

namespace berth::cri {

std::vector<std::pair<uintptr_t, uintptr_t>> clean_file_ranges(const std::string& smaps) {
    std::vector<std::pair<uintptr_t, uintptr_t>> out;
    bool candidate = false;
    uintptr_t start = 0, end = 0;
    size_t pos = 0;
    while (pos < smaps.size()) {
        size_t eol = smaps.find('\n', pos);
        if (eol == std::string::npos) eol = smaps.size();
        std::string line = smaps.substr(pos, eol - pos);
        pos = eol + 1;
        // A mapping's header: "start-end perms offset dev inode [path]"; its
        // fields ("Rss:   12 kB") follow, Anonymous among them. inode 0 is
        // not a file (heap, stacks, [vdso]).
        char perms[8] = {};
        unsigned long long s = 0, e = 0, off = 0, inode = 0;
        char dev[32] = {};
        int path_at = -1;
        if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %31s %llu %n", &s, &e, perms, &off, dev, &inode, &path_at) >= 6 &&
            path_at > 0) {
            candidate = perms[1] != 'w' && inode != 0 && line[static_cast<size_t>(path_at)] == '/';
            start = static_cast<uintptr_t>(s);
            end = static_cast<uintptr_t>(e);
            continue;
        }
        if (candidate && line.rfind("Anonymous:", 0) == 0) {
            if (std::strtoull(line.c_str() + 10, nullptr, 10) == 0) out.emplace_back(start, end);
            candidate = false;
        }
    }
    return out;
}

void set_malloc_thresholds() {
    ::mallopt(M_MMAP_THRESHOLD, 256 << 10);
    ::mallopt(M_TRIM_THRESHOLD, 512 << 10);
}

long resident_pages() {
    long size = 0, resident = 0;
    FILE* f = std::fopen("/proc/self/statm", "re");
    if (!f) return 0;
    if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    std::fclose(f);
    return resident;
}

void release_idle_memory() {
    ::malloc_trim(0);
    std::string smaps;
    try {
        smaps = read_file("/proc/self/smaps");
    } catch (const std::exception&) {
        return;
    }
    for (const auto& [s, e] : clean_file_ranges(smaps))
        ::madvise(reinterpret_cast<void*>(s), e - s, MADV_DONTNEED);   // best effort
}

} // namespace berth::cri
