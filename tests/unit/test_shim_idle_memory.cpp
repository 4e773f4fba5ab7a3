// berth-shim's idle memory release: which mappings of /proc/self/smaps it
// may drop (clean, read-only, of its own binary), and that dropping them in
// a live process leaves it working.
#include <criterion/criterion.h>

#include "idle_memory.hpp"

#include <string>

using namespace berth::shim;

namespace {
const char* smaps_text =
    "00400000-00401000 r--p 00000000 08:01 1234   /usr/bin/berth-shim\n"
    "Rss:                   4 kB\n"
    "Anonymous:             0 kB\n"
    "00401000-006f3000 r-xp 00001000 08:01 1234   /usr/bin/berth-shim\n"
    "Rss:                2364 kB\n"
    "Anonymous:             0 kB\n"
    "006f3000-007b5000 r--p 002f3000 08:01 1234   /usr/bin/berth-shim\n"
    "Anonymous:             0 kB\n"
    "007b5000-007c6000 r--p 003b4000 08:01 1234   /usr/bin/berth-shim\n"
    "Anonymous:             8 kB\n"
    "007c6000-007ca000 rw-p 003c5000 08:01 1234   /usr/bin/berth-shim\n"
    "Anonymous:             0 kB\n"
    "007ca000-007d3000 rw-p 00000000 00:00 0 \n"
    "Anonymous:            24 kB\n"
    "7f0000000000-7f0000001000 r-xp 00000000 08:01 99   /usr/lib/other.so\n"
    "Anonymous:             0 kB\n"
    "7f0000002000-7f0000003000 r-xp 00000000 08:01 1234   /usr/bin/berth-shim (deleted)\n"
    "Anonymous:             0 kB\n"
    "7fff19052000-7fff19073000 rw-p 00000000 00:00 0                          [stack]\n"
    "Anonymous:            44 kB\n";
}

Test(idle_memory, only_clean_readonly_mappings_of_the_binary) {
    auto r = clean_readonly_ranges(smaps_text, "/usr/bin/berth-shim");
    // Not the relro mapping (written once), the data, anonymous memory,
    // another file, nor a path that only starts with ours.
    cr_assert_eq(r.size(), 3u);
    cr_assert_eq(r[0].first, 0x400000u);
    cr_assert_eq(r[0].second, 0x401000u);
    cr_assert_eq(r[1].first, 0x401000u);
    cr_assert_eq(r[1].second, 0x6f3000u);
    cr_assert_eq(r[2].first, 0x6f3000u);
    cr_assert_eq(r[2].second, 0x7b5000u);
}

Test(idle_memory, no_mapping_of_another_binary) {
    cr_assert(clean_readonly_ranges(smaps_text, "/usr/bin/berth").empty());
    cr_assert(clean_readonly_ranges("", "/usr/bin/berth-shim").empty());
}

Test(idle_memory, the_stack_mapping) {
    auto r = stack_range(smaps_text);
    cr_assert_eq(r.first, 0x7fff19052000u);
    cr_assert_eq(r.second, 0x7fff19073000u);
    cr_assert_eq(stack_range("00400000-00401000 r--p 00000000 08:01 1234   /x\n").first, 0u);
}

static int square(int x) { return x * x; }

Test(idle_memory, a_process_keeps_running_after_the_release) {
    std::string s(100000, 'x');
    release_idle_memory();   // this test binary's own code and rodata
    cr_assert_eq(square(7), 49);
    cr_assert_eq(s.size(), 100000u);
    cr_assert_eq(s[99999], 'x');
}
