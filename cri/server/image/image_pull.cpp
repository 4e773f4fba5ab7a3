#include "image_pull.hpp"

#include "digest.hpp"
#include "error.hpp"
#include "image.hpp"
#include "log.hpp"
#include "reference.hpp"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace berth::cri {

namespace si = spec::image;

namespace {

// A content store writer that reports the bytes it has taken.
class CountingSink : public image::BlobSink {
public:
    CountingSink(image::BlobSink& w, const std::function<void(uint64_t)>& report) : w_(w), report_(report) {}
    uint64_t offset() const override { return w_.offset(); }
    void write(const char* data, size_t n) override {
        w_.write(data, n);
        report_(w_.offset());
    }
    void restart() override {
        w_.restart();
        report_(0);
    }
    std::string digest() override { return w_.digest(); }

private:
    image::BlobSink& w_;
    const std::function<void(uint64_t)>& report_;
};

// Into the content store, unless it is there; another pull fetching the
// same blob makes us wait for it instead of fetching it twice. `report`
// (may be empty) hears the bytes in so far.
void fetch_blob(Daemon& d, image::RegistryClient& c, const image::Reference& ref, const si::Descriptor& desc,
                const std::function<void(uint64_t)>& report = {}) {
    auto done = [&] {
        if (report) report(static_cast<uint64_t>(std::max<int64_t>(desc.size, 0)));
    };
    if (d.content.has(desc.digest)) return done();
    auto w = d.content.writer(desc.digest, desc.size);
    if (w->committed()) return done();   // another pull stored it while we waited
    if (report) {
        report(w->offset());   // a resumed ingest
        CountingSink sink(*w, report);
        c.get_blob(ref, desc.digest, desc.size, sink);
    } else {
        c.get_blob(ref, desc.digest, desc.size, *w);
    }
    w->commit();
}

bool is_layer_type(const std::string& mt) {
    return mt.empty() || mt == si::media::oci_layer || mt == si::media::oci_layer_gzip ||
           mt == si::media::oci_layer_zstd || mt == si::media::docker_layer_gzip ||
           mt == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" ||
           mt == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
}

std::string now_rfc3339() {
    time_t t = ::time(nullptr);
    struct tm tm;
    ::gmtime_r(&t, &tm);
    char buf[32];
    ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

long long ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

} // namespace

image::ImageRecord pull_image(Daemon& d, const PullRequest& r) {
    auto ref = image::parse_reference(r.ref);
    const std::string what = ref.str();
    auto started = std::chrono::steady_clock::now();
    Daemon::PullGuard guard(d);

    image::RegistryOptions o;
    o.config_dir = d.cfg.registry_config;
    o.credentials = r.credentials;
    o.deadline = r.deadline;
    if (d.cfg.images.pull_timeout.count() > 0) o.deadline = std::min(o.deadline, started + d.cfg.images.pull_timeout);
    o.cancelled = r.cancelled;
    o.tokens = d.tokens;
    o.max_manifest_bytes = d.cfg.images.max_manifest_bytes;
    image::RegistryClient client(o);

    image::ImageRecord rec;
    auto top = client.get_manifest(ref, ref.tag_or_digest());
    std::string manifest_body = std::move(top.body), manifest_digest = top.digest;
    switch (si::classify(top.content_type, manifest_body)) {
    case si::DocKind::schema1:
        throw Error(EINVAL, what + ": a schema 1 manifest, which berthd does not pull (deprecated; push the image "
                                   "again with a current client)");
    case si::DocKind::unknown:
        throw Error(EINVAL, what + ": not a manifest or an index (Content-Type \"" + top.content_type + "\")");
    case si::DocKind::index: {
        auto idx = si::parse_index(manifest_body, "index " + ref.with_digest(manifest_digest));
        auto want = si::host_platform();
        const si::Descriptor* m = si::select_platform(idx, want);
        if (!m)
            throw Error(ENOENT, what + ": no image for " + want.os + "/" + want.architecture +
                                    (want.variant.empty() ? "" : "/" + want.variant) + " in its index");
        d.content.put(manifest_digest, manifest_body);
        rec.index_digest = manifest_digest;
        auto f = client.get_manifest(ref, m->digest);
        if (si::classify(f.content_type, f.body) != si::DocKind::manifest)
            throw Error(EINVAL, what + ": the index entry " + m->digest + " is not an image manifest");
        manifest_body = std::move(f.body);
        manifest_digest = f.digest;
        break;
    }
    case si::DocKind::manifest: break;
    }
    auto man = si::parse_manifest(manifest_body, "manifest " + ref.with_digest(manifest_digest));
    d.content.put(manifest_digest, manifest_body);

    fetch_blob(d, client, ref, man.config);
    auto cfg = si::parse_image_config(d.content.read(man.config.digest), "image config " + man.config.digest);
    if (cfg.diff_ids.size() != man.layers.size())
        throw Error(EINVAL, what + ": the manifest has " + std::to_string(man.layers.size()) +
                                " layers but the config " + std::to_string(cfg.diff_ids.size()) + " diff ids");
    if (r.progress) r.progress({PullEvent::Kind::layers, 0, 0, &man.layers});
    std::vector<std::string> chains;
    for (size_t i = 0; i < man.layers.size(); ++i) {
        if (!is_layer_type(man.layers[i].media_type))
            throw Error(EINVAL, what + ": layer " + std::to_string(i) + " has the media type \"" +
                                    man.layers[i].media_type + "\", which is not a layer");
        chains.push_back(image::chain_id(i ? chains.back() : "", cfg.diff_ids[i]));
    }

    // Layers: fetched and unpacked by a few workers, each layer as soon as
    // its blob is in; the first failure stops the rest. The biggest blobs
    // go first: the pull lasts as long as its slowest worker, and a big
    // layer taken up last would run alone at the end.
    std::vector<size_t> order(man.layers.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return man.layers[a].size > man.layers[b].size; });
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex err_mu;
    std::exception_ptr first_error;
    auto stop = [&] { return failed.load() || (r.cancelled && r.cancelled()); };
    auto work = [&] {
        for (size_t k; !stop() && (k = next++) < order.size();) {
            size_t i = order[k];
            try {
                const auto& l = man.layers[i];
                std::function<void(uint64_t)> report;
                if (r.progress)
                    report = [&, i](uint64_t n) { r.progress({PullEvent::Kind::fetched, i, n, nullptr}); };
                if (!d.layers.find(chains[i])) {
                    auto t0 = std::chrono::steady_clock::now();
                    fetch_blob(d, client, ref, l, report);
                    auto t1 = std::chrono::steady_clock::now();
                    auto layer = d.layers.ensure(chains[i], cfg.diff_ids[i], d.content.path(l.digest),
                                                 "layer " + l.digest + " of " + what, stop);
                    // For tests/bench/pull-bench.sh, which reads the unpack rate from these.
                    BERTHD_DEBUG("fetched layer " + l.digest + " of " + what + ": " + std::to_string(l.size) +
                                 " bytes in " + std::to_string(ms_between(t0, t1)) + " ms; unpacked layer: " +
                                 std::to_string(layer.bytes) + " bytes in " +
                                 std::to_string(ms_between(t1, std::chrono::steady_clock::now())) + " ms, " +
                                 std::to_string(layer.inodes) + " inodes");
                } else if (report) {
                    report(static_cast<uint64_t>(std::max<int64_t>(l.size, 0)));
                }
                if (r.progress) r.progress({PullEvent::Kind::unpacked, i, 0, nullptr});
            } catch (...) {
                std::lock_guard g(err_mu);
                if (!first_error) first_error = std::current_exception();
                failed = true;
            }
        }
    };
    size_t n = std::min<size_t>(std::max(1, d.cfg.images.max_concurrent_downloads), man.layers.size());
    std::vector<std::thread> workers;
    for (size_t i = 1; i < n; ++i) workers.emplace_back(work);
    work();
    for (auto& t : workers) t.join();
    if (first_error) std::rethrow_exception(first_error);
    if (r.cancelled && r.cancelled()) throw Error(ECANCELED, "pull " + what + ": cancelled");

    rec.id = man.config.digest;
    rec.config_digest = man.config.digest;
    rec.manifest_digest = manifest_digest;
    rec.diff_ids = cfg.diff_ids;
    rec.chain_ids = chains;
    rec.size = manifest_body.size() + static_cast<uint64_t>(man.config.size);
    for (const auto& l : man.layers) {
        rec.layer_digests.push_back(l.digest);
        rec.size += static_cast<uint64_t>(l.size);
    }
    rec.config = std::move(cfg);
    rec.pulled_at = now_rfc3339();
    if (auto old = d.images.get(rec.id)) {
        rec.repo_tags = old->repo_tags;
        rec.repo_digests = old->repo_digests;
        rec.pinned = old->pinned;
    }
    if (!ref.tag.empty()) add_unique(rec.repo_tags, ref.with_tag());
    add_unique(rec.repo_digests, ref.with_digest(manifest_digest));
    d.images.put(rec);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    log::info("pulled " + what + " (" + rec.id + ", " + std::to_string(rec.size) + " bytes) in " +
              std::to_string(ms) + " ms");
    return rec;
}

} // namespace berth::cri

// ---- the RPC ---------------------------------------------------------------

#include "idle_memory.hpp"
#include "image_ops.hpp"

namespace berth::cri {

PullRequest cri_pull_request(grpc::ServerContext& ctx, const runtime::v1::PullImageRequest& req) {
    PullRequest r;
    r.ref = req.image().image();
    if (r.ref.empty()) throw Error(EINVAL, "PullImage: image.image: required");
    const auto& a = req.auth();
    r.credentials.username = a.username();
    r.credentials.password = a.password();
    r.credentials.auth = a.auth();
    r.credentials.identity_token = a.identity_token();
    r.credentials.registry_token = a.registry_token();
    auto left = ctx.deadline() - std::chrono::system_clock::now();
    if (ctx.deadline() != std::chrono::system_clock::time_point::max() && left.count() > 0)
        r.deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
    r.cancelled = [&ctx] { return ctx.IsCancelled(); };
    // The sandbox config's runtime handler is accepted: images are shared by
    // every handler.
    return r;
}

void pull_image_rpc(Daemon& d, grpc::ServerContext& ctx, const runtime::v1::PullImageRequest& req,
                    runtime::v1::PullImageResponse& resp) {
    // A pull's heap (thread arenas, unpack buffers) goes back once it ends.
    struct Release {
        ~Release() { release_idle_memory(); }
    } release;
    resp.set_image_ref(pull_image(d, cri_pull_request(ctx, req)).id);
}

} // namespace berth::cri
