#include "content_store.hpp"

#include "digest.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <set>

namespace berth::image {

namespace {

// Writes reach the ingest file in pieces of this size (curl hands over 16 KiB).
constexpr size_t kFlushBytes = 1 << 20;

bool is_hex64(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::vector<std::string> hex_names(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        if (errno == ENOENT) return out;
        throw_errno("open " + dir);
    }
    while (dirent* e = ::readdir(d))
        if (is_hex64(e->d_name)) out.emplace_back(e->d_name);
    ::closedir(d);
    return out;
}

uint64_t allocated(const std::string& dir) {
    uint64_t n = 0;
    for (const auto& h : hex_names(dir)) {
        struct stat st;
        if (::stat((dir + "/" + h).c_str(), &st) == 0) n += static_cast<uint64_t>(st.st_blocks) * 512;
    }
    return n;
}

void fsync_dir(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::fsync(fd.get()) < 0) throw_errno("fsync " + dir);
}

} // namespace

// Which digests have a live writer; writer() waits on `cv` for its turn.
struct ContentStore::Locks {
    std::mutex m;
    std::condition_variable cv;
    std::set<std::string> active;
};

struct ContentStore::Writer::State {
    std::shared_ptr<Locks> locks;
    std::string digest, hex, ingest, blob, blobs_dir;
    int64_t expected = -1;
    UniqueFd fd;
    Sha256 hash;
    std::string finished;   // hash.finish(), once digest() asked for it
    uint64_t written = 0;   // bytes in the ingest file
    std::string pending;    // bytes hashed but not yet in the file
    bool done = false;      // committed, discarded, or present from the start
    bool committed = false;

    uint64_t offset() const { return written + pending.size(); }

    void flush() {
        std::string_view p = pending;
        while (!p.empty()) {
            ssize_t n = ::pwrite(fd.get(), p.data(), p.size(), static_cast<off_t>(written));
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == ENOSPC || errno == EDQUOT)
                    throw Error(ENOSPC, "blob " + digest + ": no space left on the content store's file system");
                throw_errno("write " + ingest);
            }
            written += static_cast<uint64_t>(n);
            p.remove_prefix(static_cast<size_t>(n));
        }
        pending.clear();
    }

    void drop() {
        fd.reset();
        ::unlink(ingest.c_str());
        pending.clear();
        done = true;
        release();
    }

    void release() {
        if (!locks) return;
        {
            std::lock_guard<std::mutex> g(locks->m);
            locks->active.erase(hex);
        }
        locks->cv.notify_all();
        locks.reset();
    }

    ~State() {
        if (!done && fd) {
            try {
                flush();   // keep what arrived, for a resume
            } catch (const Error&) {
            }
            // An empty ingest resumes nothing: a transfer that never got a
            // byte (a redirect loop, a refused blob) leaves no file.
            if (written == 0) ::unlink(ingest.c_str());
        }
        release();
    }
};

ContentStore::Writer::Writer(std::unique_ptr<State> s) : s_(std::move(s)) {}
ContentStore::Writer::~Writer() = default;

bool ContentStore::Writer::committed() const { return s_->committed; }

uint64_t ContentStore::Writer::offset() const { return s_->offset(); }

void ContentStore::Writer::write(const char* data, size_t n) {
    auto& s = *s_;
    if (s.done) throw Error(EINVAL, "blob " + s.digest + ": write after the writer finished");
    if (!s.finished.empty()) throw Error(EINVAL, "blob " + s.digest + ": write after its digest was taken");
    if (s.expected >= 0 && s.offset() + n > static_cast<uint64_t>(s.expected)) {
        s.drop();
        throw Error(EFBIG, "blob " + s.digest + ": more than the " + std::to_string(s.expected) + " bytes expected");
    }
    s.hash.update(data, n);
    s.pending.append(data, n);
    if (s.pending.size() >= kFlushBytes) s.flush();
}

void ContentStore::Writer::restart() {
    auto& s = *s_;
    if (s.done) throw Error(EINVAL, "blob " + s.digest + ": restart after the writer finished");
    s.pending.clear();
    if (::ftruncate(s.fd.get(), 0) < 0) throw_errno("truncate " + s.ingest);
    s.written = 0;
    s.hash = Sha256();
    s.finished.clear();
}

std::string ContentStore::Writer::digest() {
    auto& s = *s_;
    if (s.done) return s.committed ? s.digest : std::string();
    if (s.finished.empty()) s.finished = s.hash.finish();
    return s.finished;
}

void ContentStore::Writer::commit() {
    auto& s = *s_;
    if (s.committed) return;
    if (s.done) throw Error(EINVAL, "blob " + s.digest + ": commit after discard");
    s.flush();
    if (s.expected >= 0 && s.written != static_cast<uint64_t>(s.expected))
        throw Error(EBADMSG, "blob " + s.digest + ": " + std::to_string(s.written) + " of " +
                                 std::to_string(s.expected) + " bytes");
    std::string got = digest();
    if (got != s.digest) {
        s.drop();
        throw Error(EBADMSG, "blob " + s.digest + ": content has digest " + got);
    }
    if (::fsync(s.fd.get()) < 0) throw_errno("fsync " + s.ingest);
    if (::rename(s.ingest.c_str(), s.blob.c_str()) < 0) throw_errno("rename " + s.ingest + " to " + s.blob);
    fsync_dir(s.blobs_dir);
    s.fd.reset();
    s.done = s.committed = true;
    s.release();
}

void ContentStore::Writer::discard() {
    if (!s_->done) s_->drop();
}

ContentStore::ContentStore(std::string root) : root_(std::move(root)), locks_(std::make_shared<Locks>()) {
    make_dirs(root_ + "/blobs/sha256");
    make_dirs(root_ + "/ingest");
}

std::string ContentStore::path(const std::string& digest) const {
    return root_ + "/blobs/sha256/" + digest_hex(digest);
}

bool ContentStore::has(const std::string& digest) const { return size(digest) >= 0; }

int64_t ContentStore::size(const std::string& digest) const {
    struct stat st;
    if (::stat(path(digest).c_str(), &st) < 0) return -1;
    return st.st_size;
}

std::string ContentStore::read(const std::string& digest) const {
    std::string p = path(digest);
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) throw Error(ENOENT, "blob " + digest + " is not in the content store");
        throw_errno("open " + p);
    }
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read " + p);
        }
        if (n == 0) return out;
        out.append(buf, static_cast<size_t>(n));
    }
}

void ContentStore::put(const std::string& digest, std::string_view data) {
    auto w = writer(digest, static_cast<int64_t>(data.size()));
    if (w->committed()) return;
    w->restart();   // the whole blob is here: an old ingest is of no use
    w->write(data.data(), data.size());
    w->commit();
}

std::unique_ptr<ContentStore::Writer> ContentStore::writer(const std::string& digest, int64_t size) {
    auto s = std::make_unique<Writer::State>();
    s->digest = digest;
    s->hex = digest_hex(digest);
    s->expected = size;
    s->ingest = root_ + "/ingest/" + s->hex;
    s->blobs_dir = root_ + "/blobs/sha256";
    s->blob = s->blobs_dir + "/" + s->hex;
    {
        std::unique_lock<std::mutex> g(locks_->m);
        locks_->cv.wait(g, [&] { return !locks_->active.count(s->hex); });
        locks_->active.insert(s->hex);
    }
    s->locks = locks_;   // from here, ~State lets the next writer in

    struct stat st;
    if (::stat(s->blob.c_str(), &st) == 0 && (size < 0 || st.st_size == size)) {
        s->committed = s->done = true;
        s->expected = st.st_size;
        s->written = static_cast<uint64_t>(st.st_size);
        s->release();
        return std::unique_ptr<Writer>(new Writer(std::move(s)));
    }
    s->fd.reset(::open(s->ingest.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!s->fd) throw_errno("open " + s->ingest);
    if (::fstat(s->fd.get(), &st) < 0) throw_errno("stat " + s->ingest);
    if (size >= 0 && st.st_size > size) {
        if (::ftruncate(s->fd.get(), 0) < 0) throw_errno("truncate " + s->ingest);
        st.st_size = 0;
    }
    // Resume: the hash must cover what an earlier writer left.
    std::string buf(kFlushBytes, '\0');
    uint64_t off = 0;
    while (off < static_cast<uint64_t>(st.st_size)) {
        ssize_t n = ::pread(s->fd.get(), buf.data(), buf.size(), static_cast<off_t>(off));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read " + s->ingest);
        }
        if (n == 0) break;
        s->hash.update(buf.data(), static_cast<size_t>(n));
        off += static_cast<uint64_t>(n);
    }
    s->written = off;
    ::futimens(s->fd.get(), nullptr);   // fresh for remove_stale_ingests
    return std::unique_ptr<Writer>(new Writer(std::move(s)));
}

void ContentStore::remove(const std::string& digest) {
    std::string p = path(digest);
    if (::unlink(p.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + p);
}

std::vector<std::string> ContentStore::list() const {
    std::vector<std::string> out;
    for (auto& h : hex_names(root_ + "/blobs/sha256")) out.push_back("sha256:" + h);
    return out;
}

void ContentStore::remove_stale_ingests(std::chrono::seconds max_age) {
    std::string dir = root_ + "/ingest";
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        if (errno == ENOENT) return;
        throw_errno("open " + dir);
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    auto now = std::chrono::system_clock::now();
    for (const auto& n : names) {
        // Under the lock, so no writer of this digest starts in between.
        std::lock_guard<std::mutex> g(locks_->m);
        if (locks_->active.count(n)) continue;
        std::string p = dir + "/" + n;
        struct stat st;
        if (::lstat(p.c_str(), &st) < 0) continue;
        auto mtime = std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec));
        if (now - mtime < max_age) continue;
        if (::unlink(p.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + p);
    }
}

uint64_t ContentStore::disk_usage() const {
    return allocated(root_ + "/blobs/sha256") + allocated(root_ + "/ingest");
}

} // namespace berth::image
