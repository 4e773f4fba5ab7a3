#include "layer_stream.hpp"

#include "digest.hpp"
#include "error.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>

namespace berth::image {

namespace {

constexpr size_t kChunk = 1 << 20;
constexpr int kBuffers = 4;

// The decompressors libarchive has built in.
struct Filters {
    bool gzip, zstd, xz, bzip2;
};

const Filters& builtin_filters() {
    static const Filters f = [] {
        auto probe = [](int (*add)(archive*)) {
            archive* a = archive_read_new();
            bool ok = add(a) == ARCHIVE_OK;
            archive_read_free(a);
            return ok;
        };
        return Filters{probe(archive_read_support_filter_gzip), probe(archive_read_support_filter_zstd),
                       probe(archive_read_support_filter_xz), probe(archive_read_support_filter_bzip2)};
    }();
    return f;
}

struct ArchiveReader {
    archive* a = archive_read_new();
    ~ArchiveReader() { archive_read_free(a); }
};

} // namespace

void support_builtin_filters(archive* a) {
    const Filters& f = builtin_filters();
    if (f.gzip) archive_read_support_filter_gzip(a);
    if (f.zstd) archive_read_support_filter_zstd(a);
    if (f.xz) archive_read_support_filter_xz(a);
    if (f.bzip2) archive_read_support_filter_bzip2(a);
}

LayerStream::LayerStream(UniqueFd blob) : blob_(std::move(blob)) {
    ::posix_fadvise(blob_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    for (int i = 0; i < kBuffers; ++i) {
        bufs_.push_back(std::make_unique<char[]>(kChunk));
        free_.push_back(i);
    }
    thread_ = std::thread([this] { run(blob_.get()); });
}

LayerStream::~LayerStream() {
    {
        std::lock_guard<std::mutex> g(m_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

bool LayerStream::fail(const std::string& why) {
    std::lock_guard<std::mutex> g(m_);
    if (error_.empty()) error_ = why;
    end_ = true;
    cv_.notify_all();
    return false;
}

void LayerStream::run(int fd) {
    ArchiveReader r;
    support_builtin_filters(r.a);
    // "raw": the decompressed bytes as one entry, for the tar reader and the hash.
    archive_read_support_format_raw(r.a);
    archive_read_support_format_empty(r.a);
    auto archive_error = [&] {
        const char* s = archive_error_string(r.a);
        return std::string(s ? s : "unreadable layer");
    };
    if (archive_read_open_fd(r.a, fd, kChunk) != ARCHIVE_OK) return (void)fail(archive_error());
    Sha256 hash;
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(r.a, &e);
    bool eof = rc == ARCHIVE_EOF;   // an empty blob
    if (rc < ARCHIVE_WARN) return (void)fail(archive_error());
    while (!eof) {
        int idx;
        {
            std::unique_lock<std::mutex> g(m_);
            cv_.wait(g, [&] { return stop_ || !free_.empty(); });
            if (stop_) return;
            idx = free_.back();
            free_.pop_back();
        }
        char* buf = bufs_[idx].get();
        size_t fill = 0;
        while (fill < kChunk) {
            la_ssize_t n = archive_read_data(r.a, buf + fill, kChunk - fill);
            if (n < 0) return (void)fail(archive_error());
            if (n == 0) {
                eof = true;
                break;
            }
            fill += static_cast<size_t>(n);
            std::lock_guard<std::mutex> g(m_);
            if (stop_) return;
        }
        hash.update(buf, fill);
        std::lock_guard<std::mutex> g(m_);
        if (fill) {
            full_.emplace_back(idx, fill);
            total_ += fill;
        } else {
            free_.push_back(idx);
        }
        cv_.notify_all();
    }
    std::string d = hash.finish();
    std::lock_guard<std::mutex> g(m_);
    digest_ = std::move(d);
    end_ = true;
    cv_.notify_all();
}

bool LayerStream::next(const void** p, size_t* n) {
    std::unique_lock<std::mutex> g(m_);
    if (held_ >= 0) {
        free_.push_back(held_);
        held_ = -1;
        cv_.notify_all();
    }
    cv_.wait(g, [&] { return full_head_ < full_.size() || end_; });
    if (!error_.empty()) return false;
    if (full_head_ == full_.size()) {
        *p = nullptr;
        *n = 0;
        return true;
    }
    auto [idx, len] = full_[full_head_++];
    if (full_head_ == full_.size()) {
        full_.clear();
        full_head_ = 0;
    }
    held_ = idx;
    *p = bufs_[idx].get();
    *n = len;
    return true;
}

std::string LayerStream::error() const {
    std::lock_guard<std::mutex> g(m_);
    return error_;
}

uint64_t LayerStream::total() const {
    std::lock_guard<std::mutex> g(m_);
    return total_;
}

std::string LayerStream::finish() {
    const void* p;
    size_t n;
    do {
        if (!next(&p, &n)) throw Error(EBADMSG, error());
    } while (n);
    std::lock_guard<std::mutex> g(m_);
    return digest_;
}

} // namespace berth::image
