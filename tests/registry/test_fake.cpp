// The registry client against fake_registry.py: the bearer flow and its
// token cache, Basic auth, mirrors, and hostile registries (each must give
// a clear error with the right errno; the options' deadline bounds each
// case, so a hang shows as ETIMEDOUT, not as a slow pass).
#include "fixture.hpp"

#include "auth.hpp"
#include "error.hpp"
#include "reference.hpp"
#include "registry.hpp"

#include <criterion/criterion.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

using namespace berth::image;
using rtest::Fake;
using rtest::Image;
using rtest::MemSink;

TestSuite(fake, .fini = rtest::cleanup, .timeout = 120);

namespace {

RegistryOptions opts(std::chrono::seconds deadline = std::chrono::seconds(30)) {
    RegistryOptions o;
    o.deadline = std::chrono::steady_clock::now() + deadline;
    o.stall_timeout = std::chrono::seconds(2);
    return o;
}

Reference ref_for(const Fake& f, const std::string& tag = "latest") {
    return parse_reference(f.host() + "/test/bb:" + tag);
}

struct Setup {
    std::string layout;
    Image img;
    Fake f;
};

Setup setup(const std::string& config = "{}", std::vector<size_t> layers = {100000, 3 << 20}) {
    Setup s;
    s.layout = rtest::temp_dir();
    s.img = rtest::add_image(s.layout, "latest", layers);
    s.f = rtest::start_fake(s.layout, config);
    return s;
}

// The Error fn throws; fails the test when it throws none.
template <class Fn>
berth::Error error_of(Fn&& fn) {
    try {
        fn();
    } catch (const berth::Error& e) {
        return e;
    }
    cr_assert_fail("no error");
    return berth::Error("");
}

void expect_in(const std::string& m, const std::string& part) {
    cr_expect(m.find(part) != std::string::npos, "expected \"%s\" in: %s", part.c_str(), m.c_str());
}

void pull_all(RegistryClient& c, const Reference& ref, const Image& img) {
    auto m = c.get_manifest(ref, "latest");
    cr_expect_eq(m.body, img.manifest);
    cr_expect_eq(m.digest, img.manifest_digest);
    for (size_t i = 0; i < img.layers.size(); ++i) {
        MemSink s;
        c.get_blob(ref, img.layer_digests[i], static_cast<int64_t>(img.layers[i].size()), s);
        cr_expect(s.data == img.layers[i], "layer %zu differs", i);
    }
}

const char* kBearer = R"({"auth":{"scheme":"bearer","users":{"alice":"secret"},"refresh_tokens":{"rt-1":"alice"}}})";

} // namespace

RTEST(fake, plain_pull_by_tag_and_digest) {
    auto s = setup();
    RegistryClient c(opts());
    auto ref = ref_for(s.f);
    auto m = c.get_manifest(ref, "latest");
    cr_expect_eq(m.body, s.img.manifest);
    cr_expect_eq(m.digest, s.img.manifest_digest);
    cr_expect_eq(m.content_type, "application/vnd.oci.image.manifest.v1+json");
    auto byd = c.get_manifest(ref, s.img.manifest_digest);
    cr_expect_eq(byd.body, s.img.manifest);
    MemSink cfg;
    c.get_blob(ref, s.img.config_digest, static_cast<int64_t>(s.img.config.size()), cfg);
    cr_expect_eq(cfg.data, s.img.config);
    pull_all(c, ref, s.img);
    // The Accept header asks for OCI and Docker schema 2 types.
    expect_in(rtest::read_file(s.f.log), "/v2/test/bb/manifests/latest");

    auto e = error_of([&] { c.get_manifest(ref, "nosuchtag"); });
    cr_expect_eq(e.err(), ENOENT, "%s", e.what());
    expect_in(e.what(), ref.str());
    expect_in(e.what(), s.f.host());
    expect_in(e.what(), "MANIFEST_UNKNOWN");
    cr_expect_eq(rtest::count_requests(s.f, "nosuchtag"), 1, "a 404 from the server is not retried");
    MemSink none;
    e = error_of([&] { c.get_blob(ref, "sha256:" + std::string(64, '0'), 10, none); });
    cr_expect_eq(e.err(), ENOENT, "%s", e.what());
    e = error_of([&] { c.get_manifest(ref, "../../etc"); });
    cr_expect_eq(e.err(), EINVAL, "%s", e.what());
    e = error_of([&] { c.get_blob(ref, "sha256:xyz", 10, none); });
    cr_expect_eq(e.err(), EINVAL, "%s", e.what());
}

RTEST(fake, loopback_ignores_the_environments_proxy) {
    auto s = setup();
    std::string dead = "http://127.0.0.1:" + std::to_string(rtest::free_port());
    ::setenv("http_proxy", dead.c_str(), 1);   // this test's process only
    ::setenv("HTTP_PROXY", dead.c_str(), 1);
    RegistryClient c(opts());
    cr_expect_eq(c.get_manifest(ref_for(s.f), "latest").digest, s.img.manifest_digest);
}

RTEST(fake, bearer_flow_and_shared_token_cache) {
    auto s = setup(kBearer);
    auto ref = ref_for(s.f);
    auto cache = make_token_cache();
    auto o = opts();
    o.tokens = cache;
    o.credentials.username = "alice";
    o.credentials.password = "secret";
    {
        RegistryClient c(o);
        pull_all(c, ref, s.img);
    }
    cr_expect_eq(rtest::count_requests(s.f, "\"path\": \"/token\""), 1, "one token for the whole pull");
    auto log = rtest::read_file(s.f.log);
    expect_in(log, "scope=repository%3Atest%2Fbb%3Apull");
    expect_in(log, "service=fake-registry");
    expect_in(log, "\"authorization\": \"Basic " + base64_encode("alice:secret") + "\"");
    expect_in(log, "\"authorization\": \"Bearer ");
    int challenges = rtest::count_requests(s.f, "\"status\": 401");
    cr_expect_eq(challenges, 1, "after the first challenge the token goes up front");

    // A second pull sharing the cache asks for no token and meets no challenge.
    {
        RegistryClient c(o);
        pull_all(c, ref, s.img);
    }
    cr_expect_eq(rtest::count_requests(s.f, "\"path\": \"/token\""), 1, "the second pull reused the cached token");
    cr_expect_eq(rtest::count_requests(s.f, "\"status\": 401"), challenges);

    // Other credentials never get alice's token from the shared cache.
    auto anon = opts();
    anon.tokens = cache;
    RegistryClient c3(anon);
    auto e = error_of([&] { c3.get_manifest(ref, "latest"); });
    cr_expect_eq(e.err(), EKEYREJECTED, "%s", e.what());
    expect_in(e.what(), ref.str());
    expect_in(e.what(), "/token");
    cr_expect_eq(rtest::count_requests(s.f, "\"path\": \"/token\""), 2);
}

RTEST(fake, each_repository_gets_a_token_of_its_own_scope) {
    auto s = setup(kBearer);
    auto o = opts();
    o.credentials.username = "alice";
    o.credentials.password = "secret";
    RegistryClient c(o);
    c.get_manifest(ref_for(s.f), "latest");
    c.get_manifest(parse_reference(s.f.host() + "/test/other:latest"), "latest");
    std::vector<std::string> tokens;
    for (auto& l : rtest::requests(s.f))
        if (l.find("\"path\": \"/token\"") != std::string::npos) tokens.push_back(l);
    cr_assert_eq(tokens.size(), 2u);
    expect_in(tokens[1], "scope=repository%3Atest%2Fother%3Apull");
    cr_expect(tokens[1].find("test%2Fbb") == std::string::npos, "the first repository's scope leaked: %s",
              tokens[1].c_str());
}

RTEST(fake, revoked_cached_token_is_fetched_again) {
    auto s = setup(kBearer);
    auto o = opts();
    o.tokens = make_token_cache();
    o.credentials.username = "alice";
    o.credentials.password = "secret";
    RegistryClient(o).get_manifest(ref_for(s.f), "latest");
    rtest::set_config(s.f, kBearer);   // the same config, reloaded: tokens revoked
    RegistryClient c(o);
    pull_all(c, ref_for(s.f), s.img);
    cr_expect_eq(rtest::count_requests(s.f, "\"path\": \"/token\""), 2, "refused once, fetched once more");
}

RTEST(fake, bearer_wrong_password_and_private_cache) {
    auto s = setup(kBearer);
    auto ref = ref_for(s.f);
    auto o = opts();
    o.credentials.username = "alice";
    o.credentials.password = "wrong";
    RegistryClient bad(o);
    auto e = error_of([&] { bad.get_manifest(ref, "latest"); });
    cr_expect_eq(e.err(), EKEYREJECTED, "%s", e.what());
    expect_in(e.what(), "refused");

    // `auth` (base64 user:pass) works like username/password; clients with
    // caches of their own each fetch a token.
    o.credentials = {};
    o.credentials.auth = base64_encode("alice:secret");
    int before = rtest::count_requests(s.f, "\"path\": \"/token\"");
    RegistryClient(o).get_manifest(ref, "latest");
    RegistryClient(o).get_manifest(ref, "latest");
    cr_expect_eq(rtest::count_requests(s.f, "\"path\": \"/token\"") - before, 2);
}

RTEST(fake, identity_token_uses_the_oauth_form) {
    auto s = setup(kBearer);
    auto o = opts();
    o.credentials.identity_token = "rt-1";
    RegistryClient c(o);
    pull_all(c, ref_for(s.f), s.img);
    cr_expect_eq(rtest::count_requests(s.f, "\"method\": \"POST\", \"path\": \"/token\""), 1);
    cr_expect_eq(rtest::count_requests(s.f, "\"method\": \"GET\", \"path\": \"/token\""), 0);

    o.credentials.identity_token = "rt-unknown";
    RegistryClient bad(o);
    auto e = error_of([&] { bad.get_manifest(ref_for(s.f), "latest"); });
    cr_expect_eq(e.err(), EKEYREJECTED, "%s", e.what());
    // Refused as a form, it was tried once more as GET (as containerd does).
    cr_expect_eq(rtest::count_requests(s.f, "\"method\": \"GET\", \"path\": \"/token\""), 1);
}

RTEST(fake, registry_token_is_sent_as_is) {
    auto s = setup(kBearer);
    auto o = opts();
    o.credentials.registry_token = "handed-over";
    RegistryClient c(o);
    auto e = error_of([&] { c.get_manifest(ref_for(s.f), "latest"); });
    cr_expect_eq(e.err(), EKEYREJECTED, "%s", e.what());
    expect_in(rtest::read_file(s.f.log), "\"authorization\": \"Bearer handed-over\"");
    cr_expect_eq(rtest::count_requests(s.f, "\"path\": \"/token\""), 0, "a registry token is not exchanged");
}

RTEST(fake, garbage_token_response) {
    auto s = setup(R"({"auth":{"scheme":"bearer","anonymous":true,"token_response":"garbage"}})");
    RegistryClient c(opts());
    auto e = error_of([&] { c.get_manifest(ref_for(s.f), "latest"); });
    cr_expect_eq(e.err(), EBADMSG, "%s", e.what());
    expect_in(e.what(), "bad token response");
    expect_in(e.what(), ref_for(s.f).str());
}

RTEST(fake, anonymous_bearer) {
    auto s = setup(R"({"auth":{"scheme":"bearer","anonymous":true,"expires_in":1}})");
    RegistryClient c(opts());
    pull_all(c, ref_for(s.f), s.img);
    auto log = rtest::read_file(s.f.log);
    cr_expect(log.find("\"authorization\": \"Basic") == std::string::npos, "no credentials were sent");
}

RTEST(fake, basic_auth) {
    auto s = setup(R"({"auth":{"scheme":"basic","users":{"bob":"pw"}}})");
    auto ref = ref_for(s.f);
    RegistryClient none(opts());
    auto e = error_of([&] { none.get_manifest(ref, "latest"); });
    cr_expect_eq(e.err(), EKEYREJECTED, "%s", e.what());
    expect_in(e.what(), "username and password");

    auto o = opts();
    o.credentials.username = "bob";
    o.credentials.password = "nope";
    RegistryClient wrong(o);
    e = error_of([&] { wrong.get_manifest(ref, "latest"); });
    cr_expect_eq(e.err(), EKEYREJECTED, "%s", e.what());
    expect_in(e.what(), "401");

    o.credentials.password = "pw";
    RegistryClient c(o);
    pull_all(c, ref, s.img);
}

RTEST(fake, manifest_digest_mismatch) {
    auto s = setup(R"({"rules":[{"path":"/manifests/sha256:","action":"corrupt"}]})");
    RegistryClient c(opts());
    auto e = error_of([&] { c.get_manifest(ref_for(s.f), s.img.manifest_digest); });
    cr_expect_eq(e.err(), EBADMSG, "%s", e.what());
    expect_in(e.what(), s.img.manifest_digest);
    expect_in(e.what(), s.f.host());
}

RTEST(fake, blob_digest_mismatch) {
    auto s = setup(R"({"rules":[{"path":"/blobs/","action":"corrupt"}]})");
    RegistryClient c(opts());
    MemSink sink;
    auto e = error_of([&] {
        c.get_blob(ref_for(s.f), s.img.layer_digests[0], static_cast<int64_t>(s.img.layers[0].size()), sink);
    });
    cr_expect_eq(e.err(), EBADMSG, "%s", e.what());
    expect_in(e.what(), s.img.layer_digests[0]);
    cr_expect(sink.data.empty(), "the bad bytes were dropped");
}

RTEST(fake, oversized_manifest) {
    auto s = setup(R"({"rules":[{"path":"/manifests/","action":"oversize","size":6000000}]})");
    RegistryClient c(opts());
    auto e = error_of([&] { c.get_manifest(ref_for(s.f), "latest"); });
    cr_expect_eq(e.err(), EFBIG, "%s", e.what());
    expect_in(e.what(), "larger than 4194304 bytes");
    // Without a Content-Length the cap holds while it streams.
    rtest::set_config(s.f, R"({"rules":[{"path":"/manifests/","action":"oversize","size":6000000,"chunked":true}]})");
    e = error_of([&] { c.get_manifest(ref_for(s.f), "latest"); });
    cr_expect_eq(e.err(), EFBIG, "%s", e.what());
}

RTEST(fake, blob_that_never_ends) {
    auto s = setup(R"({"rules":[{"path":"/blobs/","action":"endless"}]})");
    RegistryClient c(opts());
    MemSink sink;
    auto e = error_of([&] { c.get_blob(ref_for(s.f), s.img.layer_digests[1], 1 << 20, sink); });
    cr_expect_eq(e.err(), EFBIG, "%s", e.what());
    expect_in(e.what(), "more than its size");
    cr_expect(sink.data.empty());
}

RTEST(fake, cut_mid_blob_resumes_with_range) {
    auto s = setup(R"({"rules":[{"path":"/blobs/","action":"cut","after":1000000,"times":1}]})");
    RegistryClient c(opts());
    MemSink sink;
    const auto& layer = s.img.layers[1];
    c.get_blob(ref_for(s.f), s.img.layer_digests[1], static_cast<int64_t>(layer.size()), sink);
    cr_expect(sink.data == layer);
    cr_expect_eq(sink.restarts, 0, "resumed, not started over");
    expect_in(rtest::read_file(s.f.log), "\"range\": \"bytes=1000000-\", \"status\": 206");
}

RTEST(fake, server_ignoring_range_restarts_the_sink) {
    auto s = setup(R"({"rules":[{"path":"/blobs/","action":"cut","after":500000,"times":1},
                                 {"path":"/blobs/","action":"no_range","times":1}]})");
    RegistryClient c(opts());
    MemSink sink;
    const auto& layer = s.img.layers[1];
    c.get_blob(ref_for(s.f), s.img.layer_digests[1], static_cast<int64_t>(layer.size()), sink);
    cr_expect(sink.data == layer);
    cr_expect_eq(sink.restarts, 1);
}

RTEST(fake, retries_are_bounded) {
    // Cut every time, before 1 MiB: each round counts, so it gives up.
    auto s = setup(R"({"rules":[{"path":"/blobs/","action":"cut","after":1000}]})");
    auto o = opts();
    o.retries = 2;
    RegistryClient c(o);
    MemSink sink;
    auto e = error_of([&] { c.get_blob(ref_for(s.f), s.img.layer_digests[1], (int64_t)s.img.layers[1].size(), sink); });
    cr_expect_eq(e.err(), EIO, "%s", e.what());
    cr_expect_eq(rtest::count_requests(s.f, "/blobs/"), 3, "one try and two retries");
}

RTEST(fake, transient_5xx_then_success) {
    auto s = setup(R"({"rules":[{"path":"/manifests/latest","action":"status","status":503,"times":2}]})");
    RegistryClient c(opts());
    auto m = c.get_manifest(ref_for(s.f), "latest");
    cr_expect_eq(m.digest, s.img.manifest_digest);
    cr_expect_eq(rtest::count_requests(s.f, "/manifests/latest"), 3);
    rtest::set_config(s.f, R"({"rules":[{"path":"/manifests/latest","action":"status","status":502}]})");
    auto o = opts();
    o.retries = 1;
    RegistryClient c1(o);
    auto e = error_of([&] { c1.get_manifest(ref_for(s.f), "latest"); });
    cr_expect_eq(e.err(), EIO, "%s", e.what());
    expect_in(e.what(), "502");
}

RTEST(fake, redirect_loop) {
    auto s = setup(R"({"rules":[{"path":"/blobs/","action":"redirect","loop":true}]})");
    RegistryClient c(opts());
    MemSink sink;
    auto e = error_of([&] { c.get_blob(ref_for(s.f), s.img.layer_digests[0], 100000, sink); });
    cr_expect_eq(e.err(), ELOOP, "%s", e.what());
    expect_in(e.what(), "redirects");
    cr_expect_eq(rtest::count_requests(s.f, "/blobs/"), 11, "the first request and ten redirects");
}

RTEST(fake, redirect_elsewhere_drops_authorization) {
    std::string cfg = R"({"auth":{"scheme":"bearer","anonymous":true},"rules":[
        {"path":"^/v2/.*/blobs/","action":"redirect","to":"http://localhost:{port}/_redirected{path}"},
        {"path":"^/v2/.*/manifests/","action":"redirect","to":"{base}/_redirected{path}"}]})";
    auto s = setup(cfg);
    RegistryClient c(opts());
    pull_all(c, ref_for(s.f), s.img);
    int elsewhere = 0, home = 0;
    for (auto& l : rtest::requests(s.f)) {
        if (l.find("/_redirected/v2/test/bb/blobs/") != std::string::npos) {
            ++elsewhere;
            expect_in(l, "\"host\": \"localhost:");
            expect_in(l, "\"authorization\": null");
        }
        if (l.find("/_redirected/v2/test/bb/manifests/") != std::string::npos) {
            ++home;
            expect_in(l, "\"authorization\": \"Bearer ");   // same origin: kept
        }
        if (l.find("\"path\": \"/v2/test/bb/blobs/") != std::string::npos) expect_in(l, "\"authorization\": \"Bearer ");
    }
    cr_expect_eq(elsewhere, 2);
    cr_expect_eq(home, 1);
}

RTEST(fake, slowloris_body_and_headers) {
    auto s = setup(R"({"rules":[{"path":"/blobs/","action":"slowloris","interval":0.5}]})");
    auto o = opts();
    o.retries = 1;
    RegistryClient c(o);
    MemSink sink;
    auto e = error_of([&] { c.get_blob(ref_for(s.f), s.img.layer_digests[1], (int64_t)s.img.layers[1].size(), sink); });
    cr_expect_eq(e.err(), EIO, "%s", e.what());
    expect_in(e.what(), "no progress for 2 s");
    rtest::set_config(s.f, R"({"rules":[{"path":"/manifests/","action":"slowloris","interval":0.5,"phase":"headers"}]})");
    e = error_of([&] { c.get_manifest(ref_for(s.f), "latest"); });
    cr_expect_eq(e.err(), EIO, "%s", e.what());
    expect_in(e.what(), "no progress");
}

RTEST(fake, deadline_and_cancel) {
    auto s = setup(R"({"rules":[{"path":"/manifests/","action":"hang"}]})");
    auto o = opts(std::chrono::seconds(1));
    o.stall_timeout = std::chrono::seconds(60);
    RegistryClient c(o);
    auto e = error_of([&] { c.get_manifest(ref_for(s.f), "latest"); });
    cr_expect_eq(e.err(), ETIMEDOUT, "%s", e.what());
    expect_in(e.what(), ref_for(s.f).str());

    auto o2 = opts();
    o2.stall_timeout = std::chrono::seconds(60);
    auto t0 = std::chrono::steady_clock::now();
    o2.cancelled = [t0] { return std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(300); };
    RegistryClient c2(o2);
    e = error_of([&] { c2.get_manifest(ref_for(s.f), "latest"); });
    cr_expect_eq(e.err(), ECANCELED, "%s", e.what());
}

RTEST(fake, schema1_is_refused) {
    auto s = setup(R"({"rules":[{"path":"/manifests/","action":"schema1"}]})");
    RegistryClient c(opts());
    auto e = error_of([&] { c.get_manifest(ref_for(s.f), "latest"); });
    cr_expect_eq(e.err(), EINVAL, "%s", e.what());
    expect_in(e.what(), "Docker schema 1");
    expect_in(e.what(), ref_for(s.f).str());
}

RTEST(fake, mirrors_fall_through) {
    auto s = setup();
    std::string empty = rtest::temp_dir();
    Fake m404 = rtest::start_fake(empty);
    Fake m503 = rtest::start_fake(s.layout, R"({"rules":[{"path":"/v2/","action":"status","status":503}]})");
    Fake pull_only = rtest::start_fake(s.layout);
    int dead = rtest::free_port();
    std::string dir = rtest::temp_dir();
    auto ref = ref_for(s.f);
    std::string hosts = "server = \"http://" + s.f.host() + "\"\n" +
                        "[host.\"http://127.0.0.1:" + std::to_string(dead) + "\"]\n" +
                        "[host.\"http://" + m404.host() + "\"]\n" +
                        "[host.\"http://" + m503.host() + "\"]\n" +
                        "[host.\"http://" + pull_only.host() + "\"]\n  capabilities = [\"pull\"]\n";
    std::filesystem::create_directories(dir + "/" + s.f.host());
    rtest::write_file(dir + "/" + s.f.host() + "/hosts.toml", hosts);
    auto o = opts();
    o.config_dir = dir;
    o.retries = 0;
    RegistryClient c(o);
    auto m = c.get_manifest(ref, "latest");   // dead, 404, 503 mirrors, then the server
    cr_expect_eq(m.digest, s.img.manifest_digest);
    cr_expect_eq(rtest::count_requests(s.f, "/manifests/latest"), 1);
    cr_expect_eq(rtest::count_requests(m404, "/manifests/latest"), 1);
    expect_in(rtest::read_file(m404.log), "\"query\": \"ns=127.0.0.1%3A");
    cr_expect_eq(rtest::count_requests(pull_only, "/manifests/"), 0, "a pull-only mirror resolves no tag");
    // By digest, the pull-only mirror serves it.
    MemSink sink;
    c.get_blob(ref, s.img.layer_digests[0], (int64_t)s.img.layers[0].size(), sink);
    cr_expect(sink.data == s.img.layers[0]);
    cr_expect_eq(rtest::count_requests(pull_only, "/blobs/"), 1);
    cr_expect_eq(rtest::count_requests(s.f, "/blobs/"), 0);

    // The server does not connect, no mirror has it: EHOSTUNREACH, naming each.
    rtest::write_file(dir + "/" + s.f.host() + "/hosts.toml",
                      "server = \"http://127.0.0.1:" + std::to_string(dead) + "\"\n[host.\"http://" + m503.host() + "\"]\n" +
                          "[host.\"http://127.0.0.1:" + std::to_string(rtest::free_port()) + "\"]\n");
    auto e = error_of([&] { c.get_manifest(ref, "latest"); });
    cr_expect_eq(e.err(), EHOSTUNREACH, "%s", e.what());
    expect_in(e.what(), "127.0.0.1:" + std::to_string(dead));
    expect_in(e.what(), "503");
}

RTEST(fake, concurrent_blobs_share_one_client) {
    auto s = setup(R"({"auth":{"scheme":"bearer","anonymous":true}})", {300000, 300000, 300000, 300000, 300000, 300000});
    RegistryClient c(opts());
    auto ref = ref_for(s.f);
    std::vector<std::thread> ts;
    std::atomic<int> ok{0};
    for (size_t i = 0; i < s.img.layers.size(); ++i)
        ts.emplace_back([&, i] {
            try {
                MemSink sink;
                c.get_blob(ref, s.img.layer_digests[i], (int64_t)s.img.layers[i].size(), sink);
                if (sink.data == s.img.layers[i]) ++ok;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "layer %zu: %s\n", i, e.what());
            }
        });
    for (auto& t : ts) t.join();
    cr_expect_eq(ok.load(), (int)s.img.layers.size());
    cr_expect_eq(rtest::count_requests(s.f, "\"path\": \"/token\""), 1, "concurrent requests waited for one token");
}
