// berth.v1.Images.Load: the client's archive is spooled to a nameless file
// under the root (memory stays bounded whatever its size), checked whole
// (cri/image/archive.hpp), then its blobs go to the content store, its
// layers are unpacked, and the image records are written last, as a pull
// does. A failure after the first blob asks for a GC, which takes what no
// record names.
#include "images_v1.hpp"

#include "archive.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "log.hpp"
#include "tree.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

namespace berth::cri {

namespace {

// Unlinked from the start (O_TMPFILE, or mkstemp + unlink where the file
// system lacks it): it goes with its fd, even when berthd is killed.
UniqueFd spool_file(const std::string& dir) {
    image::make_dirs(dir);
    UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (fd) return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) throw_errno("create a temp file in " + dir);
    std::string t = dir + "/load-XXXXXX";
    fd.reset(::mkostemp(t.data(), O_CLOEXEC));
    if (!fd) throw_errno("create " + t);
    ::unlink(t.c_str());
    return fd;
}

void append(int fd, const std::string& data, const std::string& dir) {
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == ENOSPC || errno == EDQUOT))
            throw Error(ENOSPC, "Load: no space left in " + dir + " for the archive");
        if (n < 0) throw_errno("Load: write the archive to " + dir);
        off += static_cast<size_t>(n);
    }
}

std::string now_rfc3339() {
    time_t t = ::time(nullptr);
    struct tm tm;
    ::gmtime_r(&t, &tm);
    char buf[32];
    ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

struct LayerJob {
    std::string chain_id, diff_id, blob, what;
};

// Every layer of the plan, each chain once, by a few workers; the first
// failure stops the rest.
void unpack_layers(Daemon& d, const std::vector<LayerJob>& jobs, const std::function<bool()>& cancelled) {
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex err_mu;
    std::exception_ptr first_error;
    auto stop = [&] { return failed.load() || cancelled(); };
    auto work = [&] {
        for (size_t i; !stop() && (i = next++) < jobs.size();) {
            try {
                const auto& j = jobs[i];
                if (!d.layers.find(j.chain_id)) d.layers.ensure(j.chain_id, j.diff_id, d.content.path(j.blob), j.what, stop);
            } catch (const Error& e) {
                // The unpacker refuses a hostile entry (a ".." name, a path
                // through a symlink) with EPERM; here that is the archive's
                // fault: InvalidArgument, its message naming the entry.
                std::lock_guard g(err_mu);
                if (!first_error)
                    first_error = e.err() == EPERM ? std::make_exception_ptr(Error(EINVAL, e.what()))
                                                   : std::current_exception();
                failed = true;
            } catch (...) {
                std::lock_guard g(err_mu);
                if (!first_error) first_error = std::current_exception();
                failed = true;
            }
        }
    };
    size_t n = std::min<size_t>(std::max(1, d.cfg.images.max_concurrent_downloads), jobs.size());
    std::vector<std::thread> workers;
    for (size_t i = 1; i < n; ++i) workers.emplace_back(work);
    work();
    for (auto& t : workers) t.join();
    if (first_error) std::rethrow_exception(first_error);
    if (cancelled()) throw Error(ECANCELED, "Load: cancelled");
}

} // namespace

void load_images(Daemon& d, grpc::ServerContext& ctx, grpc::ServerReader<berth::v1::LoadChunk>& in,
                 berth::v1::LoadResponse& resp) {
    std::function<bool()> cancelled = [&ctx] { return ctx.IsCancelled(); };
    const std::string dir = d.cfg.root + "/tmp";
    UniqueFd fd = spool_file(dir);
    berth::v1::LoadChunk chunk;
    berth::v1::LoadOptions opts;
    uint64_t bytes = 0;
    for (bool first = true; in.Read(&chunk); first = false) {
        if (first) opts = chunk.options();
        append(fd.get(), chunk.data(), dir);
        bytes += chunk.data().size();
    }
    if (cancelled()) throw Error(ECANCELED, "Load: cancelled by the client");
    if (bytes == 0) throw Error(EINVAL, "Load: the archive is empty");

    image::ArchiveOptions o;
    o.base_name = opts.base_name();
    o.tag = opts.tag();
    auto plan = image::read_archive(fd.get(), o);   // EINVAL, and nothing stored, for a bad archive

    Daemon::PullGuard guard(d);   // what we store is no image's until the records are written
    std::vector<image::ImageRecord> records;
    try {
        image::store_archive(fd.get(), plan, d.content, cancelled);
        std::vector<LayerJob> jobs;
        std::set<std::string> seen;
        for (const auto& img : plan.images) {
            image::ImageRecord rec;
            rec.id = rec.config_digest = img.config_digest;
            rec.manifest_digest = img.manifest_digest;
            rec.index_digest = img.index_digest;
            rec.layer_digests = img.layer_digests;
            rec.diff_ids = img.config.diff_ids;
            for (size_t i = 0; i < img.layer_digests.size(); ++i) {
                rec.chain_ids.push_back(image::chain_id(i ? rec.chain_ids.back() : "", rec.diff_ids[i]));
                if (seen.insert(rec.chain_ids.back()).second)
                    jobs.push_back({rec.chain_ids.back(), rec.diff_ids[i], img.layer_digests[i],
                                    "layer " + img.layer_digests[i] + " of image " + img.config_digest});
            }
            rec.size = img.size;
            rec.config = img.config;
            rec.pulled_at = now_rfc3339();
            rec.repo_tags = img.tags;
            records.push_back(std::move(rec));
        }
        unpack_layers(d, jobs, cancelled);
        // Records last: an image is complete or absent.
        for (auto& rec : records) {
            auto tags = rec.repo_tags;
            if (auto old = d.images.get(rec.id)) {
                rec.repo_tags = old->repo_tags;
                rec.repo_digests = old->repo_digests;
                rec.pinned = old->pinned;
                for (const auto& t : tags)
                    if (std::find(rec.repo_tags.begin(), rec.repo_tags.end(), t) == rec.repo_tags.end())
                        rec.repo_tags.push_back(t);
            }
            d.images.put(rec);
            auto* li = resp.add_images();
            li->set_id(rec.id);
            for (const auto& t : tags) li->add_repo_tags(t);
        }
    } catch (const Error& e) {
        d.request_gc();   // run when this load's guard (and any pull's) is gone
        // A layer that is not what its config says: the archive is bad.
        if (e.err() == EBADMSG) throw Error(EINVAL, std::string("Load: ") + e.what());
        throw;
    } catch (...) {
        d.request_gc();
        throw;
    }
    resp.set_format(std::string(image::archive_format_name(plan.format)));
    std::string what;
    for (const auto& li : resp.images()) {
        what += (what.empty() ? "" : ", ") + li.id();
        for (const auto& t : li.repo_tags()) what += " " + t;
    }
    log::info("loaded " + std::to_string(resp.images_size()) + " image(s) from a " +
              std::string(image::archive_format_name(plan.format)) + " of " + std::to_string(bytes) +
              " bytes: " + what);
}

} // namespace berth::cri
