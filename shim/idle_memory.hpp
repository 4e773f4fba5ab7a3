// An idle shim's resident memory. A shim spends nearly all its life waiting
// for a container to exit, but the burst of work that created the container
// leaves its traces resident: freed heap that malloc keeps, and the pages of
// the (static) binary's code and read-only data it ran through, about 2.5
// MiB of the 2.9 MiB an idle shim held. Once the shim has been idle a while,
// release_idle_memory() gives both back.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace berth::shim {

// malloc_trim, then MADV_DONTNEED over the clean, read-only mappings of our
// own binary: the page cache keeps those pages and the next call faults them
// back in (minor faults). Writable mappings, and any page that was ever
// written (Anonymous > 0: relro, a debugger's breakpoint), are left alone,
// since dropping those would lose their contents. Also the stack below the
// caller's frame, which deep calls (container creation) left touched.
void release_idle_memory();

// From /proc/self/smaps text: the [start, end) ranges of mappings of `exe`
// that are not writable and hold no anonymous (copied-on-write) pages.
std::vector<std::pair<uintptr_t, uintptr_t>> clean_readonly_ranges(const std::string& smaps, const std::string& exe);
// The [start, end) of the [stack] mapping, {0, 0} if none.
std::pair<uintptr_t, uintptr_t> stack_range(const std::string& smaps);

} // namespace berth::shim
