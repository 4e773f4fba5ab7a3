// berthd's resident memory while idle. Nearly all of an idle berthd's RSS is
// clean pages of the shared libraries (gRPC, protobuf, OpenSSL, GnuTLS, ...)
// that start-up or the last request ran through, and freed heap that malloc
// keeps after a pull (per-thread arenas, the unpack buffers).
// release_idle_memory() gives both back: malloc_trim, then MADV_DONTNEED
// over the clean read-only file mappings. The page cache keeps those pages,
// so the next request faults them back in (minor faults); a writable
// mapping, or one with copied-on-write pages (relro), is left alone.
// The same idea as shim/idle_memory.hpp, for every mapped file.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace berth::cri {

void release_idle_memory();

// Fixed malloc thresholds, set once at start. glibc's dynamic ones grow
// with each big block freed (a 4 MiB blob buffer: up to 8 MiB of free top
// kept per thread arena), and malloc_trim leaves a thread arena's top alone:
// 20 MiB stayed resident after a few pulls. With these, blocks of 256 KiB
// and more are their own mappings, gone when freed.
void set_malloc_thresholds();

// Resident pages now (/proc/self/statm), 0 when unreadable.
long resident_pages();

// From /proc/self/smaps text: the [start, end) ranges of file mappings that
// are not writable and hold no anonymous pages.
std::vector<std::pair<uintptr_t, uintptr_t>> clean_file_ranges(const std::string& smaps);

} // namespace berth::cri
