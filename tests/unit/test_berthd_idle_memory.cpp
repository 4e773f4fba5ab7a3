// berthd's idle memory release: which mappings of /proc/self/smaps it may
// drop (clean, read-only, file-backed), and that dropping them in this
// live process lowers its file-backed RSS and leaves it working.
#include <criterion/criterion.h>

#include "idle_memory.hpp"

#include <cstdio>
#include <cstring>
#include <string>

using namespace berth::cri;

namespace {
const char* smaps_text =
    "00400000-00401000 r--p 00000000 08:01 1234   /usr/sbin/berthd\n"
    "Rss:                   4 kB\n"
    "Anonymous:             0 kB\n"
    "7f0000000000-7f0000100000 r-xp 00010000 08:01 99   /usr/lib/x86_64-linux-gnu/libgrpc.so.29\n"
    "Rss:                1024 kB\n"
    "Anonymous:             0 kB\n"
    "7f0000100000-7f0000110000 r--p 00110000 08:01 99   /usr/lib/x86_64-linux-gnu/libgrpc.so.29\n"
    "Anonymous:            64 kB\n"
    "7f0000110000-7f0000112000 rw-p 00120000 08:01 99   /usr/lib/x86_64-linux-gnu/libgrpc.so.29\n"
    "Anonymous:             0 kB\n"
    "7f0000200000-7f0000300000 rw-p 00000000 00:00 0 \n"
    "Anonymous:           100 kB\n"
    "7f0000400000-7f0000401000 r--p 00000000 00:00 0 \n"
    "Anonymous:             0 kB\n"
    "7fff19000000-7fff19001000 r-xp 00000000 00:00 0                          [vdso]\n"
    "Anonymous:             0 kB\n"
    "7fff19052000-7fff19073000 rw-p 00000000 00:00 0                          [stack]\n"
    "Anonymous:            44 kB\n";

long status_kib(const char* key) {
    FILE* f = std::fopen("/proc/self/status", "re");
    char line[256];
    long v = -1;
    while (f && std::fgets(line, sizeof line, f))
        if (std::strncmp(line, key, std::strlen(key)) == 0) std::sscanf(line + std::strlen(key), "%ld", &v);
    if (f) std::fclose(f);
    return v;
}
} // namespace

Test(idle_memory, only_clean_readonly_file_mappings) {
    auto r = clean_file_ranges(smaps_text);
    // Not the relro mapping (copied on write), the data, anonymous memory
    // (read-only or not), the vdso, nor the stack.
    cr_assert_eq(r.size(), 2u);
    cr_assert_eq(r[0].first, 0x400000u);
    cr_assert_eq(r[0].second, 0x401000u);
    cr_assert_eq(r[1].first, 0x7f0000000000u);
    cr_assert_eq(r[1].second, 0x7f0000100000u);
    cr_assert(clean_file_ranges("").empty());
}

Test(idle_memory, the_file_pages_go_and_the_process_works) {
    long before = status_kib("RssFile:");
    cr_assert_gt(before, 0);
    release_idle_memory();
    long after = status_kib("RssFile:");
    // Half is a wide margin: what stays is what this check itself faults back in.
    cr_assert_lt(after, before / 2, "RssFile %ld kB before, %ld kB after", before, after);
    cr_assert_gt(resident_pages(), 0);
    std::string s(100000, 'x');   // libc and libstdc++ still run
    cr_assert_eq(s.find('y'), std::string::npos);
}
