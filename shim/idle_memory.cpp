#include "idle_memory.hpp"

#include "file_util.hpp"

#include <limits.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace berth::shim {

std::vector<std::pair<uintptr_t, uintptr_t>> clean_readonly_ranges(const std::string& smaps, const std::string& exe) {
    std::vector<std::pair<uintptr_t, uintptr_t>> out;
    bool candidate = false;
    uintptr_t start = 0, end = 0;
    size_t pos = 0;
    while (pos < smaps.size()) {
        size_t eol = smaps.find('\n', pos);
        if (eol == std::string::npos) eol = smaps.size();
        std::string line = smaps.substr(pos, eol - pos);
        pos = eol + 1;
        // A mapping's header: "start-end perms offset dev inode [path]";
        // its fields ("Rss:   12 kB") follow, Anonymous among them.
        char perms[8] = {};
        unsigned long long s = 0, e = 0, off = 0, inode = 0;
        char dev[32] = {};
        int path_at = -1;
        if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %31s %llu %n", &s, &e, perms, &off, dev, &inode, &path_at) >= 6 &&
            path_at > 0) {
            candidate = perms[1] != 'w' && line.compare(static_cast<size_t>(path_at), std::string::npos, exe) == 0;
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

std::pair<uintptr_t, uintptr_t> stack_range(const std::string& smaps) {
    size_t at = smaps.find(" [stack]\n");
    if (at == std::string::npos) return {0, 0};
    size_t bol = smaps.rfind('\n', at);
    bol = bol == std::string::npos ? 0 : bol + 1;
    unsigned long long s = 0, e = 0;
    if (std::sscanf(smaps.c_str() + bol, "%llx-%llx ", &s, &e) != 2) return {0, 0};
    return {static_cast<uintptr_t>(s), static_cast<uintptr_t>(e)};
}

// noinline: its frame must sit above the stack range it releases.
[[gnu::noinline]] static void release_stack_below_here(uintptr_t stack_start) {
    volatile char here = 0;
    const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    // A page of margin under this frame, for madvise's own call.
    uintptr_t top = (reinterpret_cast<uintptr_t>(&here) & ~(page - 1)) - page;
    if (stack_start && top > stack_start) ::madvise(reinterpret_cast<void*>(stack_start), top - stack_start, MADV_DONTNEED);
}

void release_idle_memory() {
    ::malloc_trim(0);
    char exe[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    std::string smaps;
    try {
        smaps = read_file("/proc/self/smaps");
    } catch (const std::exception&) {
        return;
    }
    auto ranges = clean_readonly_ranges(smaps, std::string(exe, static_cast<size_t>(n)));
    uintptr_t stack_start = stack_range(smaps).first;
    smaps = std::string();
    release_stack_below_here(stack_start);
    for (const auto& [s, e] : ranges) {
        ::madvise(reinterpret_cast<void*>(s), e - s, MADV_DONTNEED);   // best effort
    }
    ::malloc_trim(0);
}

} // namespace berth::shim
