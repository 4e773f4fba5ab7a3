// The uncompressed bytes of a layer blob (gzip, zstd, xz, bzip2 or none,
// detected from the data), decompressed and hashed by a thread of its own
// while the caller consumes them: decompression and writing files take
// about as long each, so an unpack keeps two cores busy. Chunks are large
// (1 MiB) and handed over without copies.
#pragma once

#include "fd.hpp"

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct archive;

namespace berth::image {

// Enable on a libarchive reader the decompressors libarchive has built in
// (gzip, zstd, xz, bzip2 as available). One it lacks would run an external
// program (fork + exec from berthd's threads): never enabled.
void support_builtin_filters(archive* a);

class LayerStream {
public:
    // Takes the blob's fd; starts the decompressing thread.
    explicit LayerStream(UniqueFd blob);
    ~LayerStream();   // stops and joins the thread
    LayerStream(const LayerStream&) = delete;
    LayerStream& operator=(const LayerStream&) = delete;

    // The next chunk; *n == 0 at the end. The previous chunk is given back.
    // Returns false (no exception: called from libarchive's callbacks) when
    // the stream failed; error() says why.
    bool next(const void** p, size_t* n);
    std::string error() const;
    // Reads what is left (after the tar's end) and returns "sha256:<hex>" of
    // the whole uncompressed stream; throws EBADMSG if the stream failed.
    std::string finish();
    uint64_t total() const;   // uncompressed bytes produced so far

private:
    void run(int fd);
    bool fail(const std::string& why);

    UniqueFd blob_;
    std::vector<std::unique_ptr<char[]>> bufs_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::vector<int> free_;                        // buffers the producer may fill
    std::vector<std::pair<int, size_t>> full_;     // FIFO of filled buffers
    size_t full_head_ = 0;
    int held_ = -1;                                // the buffer the consumer has
    bool end_ = false, stop_ = false;
    std::string error_, digest_;
    uint64_t total_ = 0;
    std::thread thread_;
};

} // namespace berth::image
