// Blobs by digest under ROOT/content: blobs/sha256/<hex>, and ingest/<hex>
// for transfers in progress. A blob is written to its ingest file, hashed
// as it goes, checked against its digest and size, fsynced and renamed into
// place: a pull killed at any moment leaves no visible partial blob, and a
// retried pull resumes the ingest (Range). Thread-safe; one writer per
// digest at a time (begin() waits for another writer of the same digest).
#pragma once

#include "registry.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace berth::image {

class ContentStore {
public:
    explicit ContentStore(std::string root);   // the store's dir (ROOT/content), created
    const std::string& root() const { return root_; }

    bool has(const std::string& digest) const;
    std::string path(const std::string& digest) const;   // where the blob is (or would be)
    int64_t size(const std::string& digest) const;       // -1 if absent
    // Whole small blobs (manifests, configs); throws ENOENT when absent.
    std::string read(const std::string& digest) const;
    // Store bytes already in memory (a manifest), verified.
    void put(const std::string& digest, std::string_view data);

    // A blob being written. commit() verifies digest and size and publishes
    // it; destroying an uncommitted writer keeps the ingest for a resume
    // (discard() drops it), unless nothing was written to it. Throws EBADMSG on a digest mismatch (the ingest
    // is dropped) or on commit() before `size` bytes (the ingest is kept),
    // EFBIG past the expected size (the ingest is dropped).
    class Writer : public BlobSink {
    public:
        ~Writer() override;
        // True once committed, and from the start when the blob was already
        // in the store (another writer of it finished first): nothing to write.
        bool committed() const;
        uint64_t offset() const override;
        void write(const char* data, size_t n) override;
        void restart() override;
        // The digest of what was written since the last restart(), so the
        // registry client checks a blob while it still knows the host (a
        // mirror's bad copy then passes to the next host). Once asked,
        // nothing more may be written until restart().
        std::string digest() override;
        void commit();
        void discard();

    private:
        friend class ContentStore;
        struct State;
        explicit Writer(std::unique_ptr<State> s);
        std::unique_ptr<State> s_;
    };
    // Begin (or resume) the blob `digest` of `size` bytes (-1: unknown): an
    // ingest left by an earlier writer is hashed again and continued from
    // its end. Waits while another writer of the digest is alive.
    std::unique_ptr<Writer> writer(const std::string& digest, int64_t size);

    void remove(const std::string& digest);   // no error if absent
    std::vector<std::string> list() const;   // digests of committed blobs
    // Ingests untouched for longer than max_age are removed (GC).
    void remove_stale_ingests(std::chrono::seconds max_age);
    uint64_t disk_usage() const;   // allocated bytes of blobs and ingests

private:
    std::string root_;
    struct Locks;
    std::shared_ptr<Locks> locks_;
};

} // namespace berth::image
