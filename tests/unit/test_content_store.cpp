// cri/image/content_store: blobs by digest, verified, with resumable ingests.
#include <criterion/criterion.h>

#include "content_store.hpp"
#include "digest.hpp"
#include "error.hpp"
#include "test_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

using namespace berth;
using namespace berth::image;

TestSuite(content_store, .init = make_test_dir, .fini = remove_test_dir);

namespace {

std::string slurp(const std::string& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

bool exists(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
}

std::string payload(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919) >> 3);
    return s;
}

template <class Fn>
int error_of(Fn fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.err();
    }
    return 0;
}

} // namespace

Test(content_store, put_read_list_remove) {
    ContentStore cs(test_dir() + "/content");
    std::string data = "{\"schemaVersion\":2}";
    std::string d = sha256_digest(data);
    cr_assert(!cs.has(d));
    cr_assert_eq(cs.size(d), -1);
    cs.put(d, data);
    cr_assert(cs.has(d));
    cr_assert_eq(cs.size(d), static_cast<int64_t>(data.size()));
    cr_assert_eq(cs.read(d), data);
    cr_assert_eq(cs.path(d), test_dir() + "/content/blobs/sha256/" + d.substr(7));
    cr_assert_eq(cs.list().size(), 1u);
    cr_assert_eq(cs.list()[0], d);
    cr_assert_gt(cs.disk_usage(), 0u);
    cs.remove(d);
    cr_assert(!cs.has(d));
    cr_assert_eq(error_of([&] { cs.read(d); }), ENOENT);
    cs.remove(d);   // idempotent
}

Test(content_store, a_wrong_digest_stores_nothing) {
    ContentStore cs(test_dir() + "/content");
    std::string d = sha256_digest("the real thing");
    cr_assert_eq(error_of([&] { cs.put(d, "an impostor!!!"); }), EBADMSG);
    cr_assert(!cs.has(d));
    cr_assert(!exists(test_dir() + "/content/ingest/" + d.substr(7)), "the ingest is dropped");
}

Test(content_store, more_than_the_size_is_efbig) {
    ContentStore cs(test_dir() + "/content");
    std::string data = payload(100);
    std::string d = sha256_digest(data);
    auto w = cs.writer(d, 50);
    cr_assert_eq(error_of([&] { w->write(data.data(), data.size()); }), EFBIG);
    w.reset();
    cr_assert(!cs.has(d));
    cr_assert(!exists(test_dir() + "/content/ingest/" + d.substr(7)));
}

Test(content_store, invalid_digests_are_refused) {
    ContentStore cs(test_dir() + "/content");
    cr_assert_eq(error_of([&] { cs.writer("sha256:../../etc/passwd", 1); }), EINVAL);
    cr_assert_eq(error_of([&] { cs.has("md5:abc"); }), EINVAL);
}

Test(content_store, a_broken_transfer_resumes) {
    ContentStore cs(test_dir() + "/content");
    std::string data = payload(3 << 20);
    std::string d = sha256_digest(data);
    size_t half = data.size() / 2 + 12345;
    {
        auto w = cs.writer(d, static_cast<int64_t>(data.size()));
        cr_assert_eq(w->offset(), 0u);
        w->write(data.data(), half);
    }   // dropped without commit, as a broken pull does
    cr_assert(!cs.has(d));
    cr_assert_eq(slurp(test_dir() + "/content/ingest/" + d.substr(7)).size(), half);
    // A new store object (a restarted daemon) resumes from the ingest.
    ContentStore again(test_dir() + "/content");
    auto w = again.writer(d, static_cast<int64_t>(data.size()));
    cr_assert_eq(w->offset(), half);
    w->write(data.data() + half, data.size() - half);
    w->commit();
    cr_assert(w->committed());
    cr_assert_eq(again.read(d), data);
    cr_assert(!exists(test_dir() + "/content/ingest/" + d.substr(7)));
}

Test(content_store, a_corrupt_ingest_fails_its_commit) {
    ContentStore cs(test_dir() + "/content");
    std::string data = payload(10000);
    std::string d = sha256_digest(data);
    std::string bad = data.substr(0, 5000);
    bad[100] ^= 1;
    {
        std::ofstream f(test_dir() + "/content/ingest/" + d.substr(7));
        f << bad;
    }
    auto w = cs.writer(d, static_cast<int64_t>(data.size()));
    cr_assert_eq(w->offset(), 5000u);
    w->write(data.data() + 5000, 5000);
    cr_assert_eq(error_of([&] { w->commit(); }), EBADMSG);
    cr_assert(!cs.has(d));
    cr_assert(!exists(test_dir() + "/content/ingest/" + d.substr(7)));
}

Test(content_store, a_short_blob_keeps_its_ingest) {
    ContentStore cs(test_dir() + "/content");
    std::string data = payload(10000);
    std::string d = sha256_digest(data);
    auto w = cs.writer(d, static_cast<int64_t>(data.size()));
    w->write(data.data(), 4000);
    cr_assert_eq(error_of([&] { w->commit(); }), EBADMSG);
    cr_assert(!cs.has(d));
    cr_assert_eq(w->offset(), 4000u, "still resumable");
    w->write(data.data() + 4000, 6000);
    w->commit();
    cr_assert_eq(cs.read(d), data);
}

Test(content_store, restart_starts_over) {
    ContentStore cs(test_dir() + "/content");
    std::string data = payload(10000);
    std::string d = sha256_digest(data);
    auto w = cs.writer(d, static_cast<int64_t>(data.size()));
    w->write("garbage", 7);
    w->restart();   // the server ignored our Range
    cr_assert_eq(w->offset(), 0u);
    w->write(data.data(), data.size());
    w->commit();
    cr_assert_eq(cs.read(d), data);
}

// The registry client checks a blob through the sink's digest() while it
// still knows which host sent it (a mirror's bad copy passes to the next).
Test(content_store, the_writer_hashes_for_the_registry_client) {
    ContentStore cs(test_dir() + "/content");
    std::string data = payload(10000);
    std::string d = sha256_digest(data);
    auto w = cs.writer(d, static_cast<int64_t>(data.size()));
    std::string bad = data;
    bad[0] ^= 1;
    w->write(bad.data(), bad.size());
    BlobSink& sink = *w;
    cr_assert_eq(sink.digest(), sha256_digest(bad));
    cr_assert_eq(error_of([&] { w->write("x", 1); }), EINVAL, "no write once the digest is taken");
    sink.restart();
    w->write(data.data(), data.size());
    cr_assert_eq(sink.digest(), d);
    cr_assert_eq(sink.digest(), d, "asked twice, the same");
    w->commit();
    cr_assert_eq(cs.read(d), data);
}

// A transfer that never got a byte (a redirect loop, a refused blob, a bad
// copy restarted) has nothing to resume: no ingest file stays.
Test(content_store, an_empty_ingest_does_not_stay) {
    ContentStore cs(test_dir() + "/content");
    std::string data = payload(10000);
    std::string d = sha256_digest(data);
    std::string ingest = test_dir() + "/content/ingest/" + d.substr(7);
    { auto w = cs.writer(d, static_cast<int64_t>(data.size())); }
    cr_assert(!exists(ingest));
    {
        auto w = cs.writer(d, static_cast<int64_t>(data.size()));
        w->write(data.data(), 100);
        w->restart();
    }
    cr_assert(!exists(ingest));
    {
        auto w = cs.writer(d, static_cast<int64_t>(data.size()));
        w->write(data.data(), 100);
    }
    cr_assert(exists(ingest), "a partial ingest is kept for a resume");
}

Test(content_store, one_writer_per_digest) {
    ContentStore cs(test_dir() + "/content");
    std::string data = payload(100000);
    std::string d = sha256_digest(data);
    auto first = cs.writer(d, static_cast<int64_t>(data.size()));
    first->write(data.data(), 1000);
    std::atomic<bool> second_started{false};
    std::atomic<bool> second_committed{false};
    std::thread t([&] {
        auto w = cs.writer(d, static_cast<int64_t>(data.size()));
        second_started = true;
        second_committed = w->committed();
    });
    // The second writer waits while the first lives; however long we look,
    // it must not have started (if it had, both would write one ingest).
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cr_assert(!second_started.load(), "a second writer of one digest started while the first was alive");
    first->write(data.data() + 1000, data.size() - 1000);
    first->commit();
    t.join();
    cr_assert(second_started.load());
    cr_assert(second_committed.load(), "the second writer finds the blob there");
    cr_assert_eq(cs.read(d), data);
}

Test(content_store, concurrent_writers_of_different_digests) {
    ContentStore cs(test_dir() + "/content");
    std::vector<std::thread> ts;
    std::atomic<int> ok{0};
    for (int i = 0; i < 8; ++i)
        ts.emplace_back([&, i] {
            std::string data = payload(50000 + i);
            cs.put(sha256_digest(data), data);
            ok++;
        });
    for (auto& t : ts) t.join();
    cr_assert_eq(ok.load(), 8);
    cr_assert_eq(cs.list().size(), 8u);
}

Test(content_store, stale_ingests_go_fresh_ones_stay) {
    ContentStore cs(test_dir() + "/content");
    std::string old_d = sha256_digest("old"), fresh_d = sha256_digest("fresh"), busy_d = sha256_digest("busy");
    { cs.writer(old_d, 10)->write("ol", 2); }
    { cs.writer(fresh_d, 10)->write("fr", 2); }
    auto busy = cs.writer(busy_d, 10);
    busy->write("bu", 2);
    struct timespec past[2] = {{1000000000, 0}, {1000000000, 0}};
    for (const auto& d : {old_d, busy_d})
        cr_assert_eq(::utimensat(AT_FDCWD, (test_dir() + "/content/ingest/" + d.substr(7)).c_str(), past, 0), 0);
    cs.remove_stale_ingests(std::chrono::hours(1));
    cr_assert(!exists(test_dir() + "/content/ingest/" + old_d.substr(7)));
    cr_assert(exists(test_dir() + "/content/ingest/" + fresh_d.substr(7)));
    cr_assert(exists(test_dir() + "/content/ingest/" + busy_d.substr(7)), "a writer is using it");
}
