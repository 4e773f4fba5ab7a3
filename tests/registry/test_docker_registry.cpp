// The registry client against Debian's docker-registry (distribution 2.8)
// on 127.0.0.1: plain HTTP, htpasswd (bcrypt) and TLS with a client CA.
// Images are built with umoci from busybox (several layers; a two-platform
// index made by hand) and pushed with skopeo. Skips without those tools.
#include "fixture.hpp"

#include "error.hpp"
#include "hosts.hpp"
#include "image.hpp"
#include "json.hpp"
#include "reference.hpp"
#include "registry.hpp"

#include <criterion/criterion.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

using namespace berth::image;
namespace si = berth::spec::image;
using rtest::MemSink;

TestSuite(docker_registry, .fini = rtest::cleanup, .timeout = 300);

namespace {

void need_tools(std::initializer_list<const char*> tools) {
    for (const char* t : tools)
        if (rtest::which(t).empty()) cr_skip_test("%s is not installed", t);
}

std::string run_ok(const std::vector<std::string>& argv) {
    auto r = rtest::run(argv);
    std::string cmd;
    for (auto& a : argv) cmd += a + " ";
    cr_assert_eq(r.status, 0, "%s: exit %d\n%s", cmd.c_str(), r.status, r.out.c_str());
    return r.out;
}

struct Registry {
    int port = 0;
    std::string dir;
    std::string host() const { return "127.0.0.1:" + std::to_string(port); }
};

// docker-registry with `tls` (server cert, key, client CA) and/or htpasswd
// from `dir` when asked.
Registry start_registry(const std::string& dir, bool tls, bool htpasswd) {
    Registry r;
    r.dir = dir;
    r.port = rtest::free_port();
    std::string cfg = "version: 0.1\n"
                      "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
                      "storage:\n  filesystem:\n    rootdirectory: " + dir + "/data\n" +
                      "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                      "http:\n  addr: " + r.host() + "\n  secret: berth-test\n";
    if (tls)
        cfg += "  tls:\n    certificate: " + dir + "/server.crt\n    key: " + dir + "/server.key\n" +
               "    clientcas:\n      - " + dir + "/client-ca.crt\n";
    if (htpasswd) cfg += "auth:\n  htpasswd:\n    realm: berth-test\n    path: " + dir + "/htpasswd\n";
    rtest::write_file(dir + "/config.yml", cfg);
    rtest::start({"docker-registry", "serve", dir + "/config.yml"}, dir + "/registry.log");
    if (!rtest::wait_port(r.port, 20000))
        cr_assert_fail("docker-registry did not listen on %s:\n%s", r.host().c_str(),
                       rtest::read_file(dir + "/registry.log").c_str());
    return r;
}

struct Built {
    std::string layout;
    std::string index_digest;   // of tag "multi"
};

// An OCI layout with "img" (busybox and `extra` layers of random data,
// amd64), "arm" (the same layers, arm64) and "multi" (an index of both).
Built build_images(const std::vector<size_t>& extra) {
    Built b;
    std::string work = rtest::temp_dir();
    b.layout = work + "/layout";
    std::string bundle = work + "/bundle";
    std::vector<std::string> unpack = {"umoci", "unpack", "--image", b.layout + ":img", bundle};
    if (::geteuid() != 0) unpack.insert(unpack.begin() + 2, "--rootless");
    run_ok({"umoci", "init", "--layout", b.layout});
    run_ok({"umoci", "new", "--image", b.layout + ":img"});
    run_ok(unpack);
    std::string rootfs = bundle + "/rootfs";
    std::filesystem::create_directories(rootfs + "/bin");
    std::string bb = rtest::which("busybox");
    if (bb.empty()) bb = "/bin/sh";
    std::filesystem::copy_file(bb, rootfs + "/bin/busybox");
    std::filesystem::create_symlink("busybox", rootfs + "/bin/sh");
    // --refresh-bundle: the next repack stacks a layer on this one.
    run_ok({"umoci", "repack", "--refresh-bundle", "--image", b.layout + ":img", bundle});
    for (size_t i = 0; i < extra.size(); ++i) {
        std::filesystem::create_directories(rootfs + "/data");
        rtest::write_file(rootfs + "/data/layer" + std::to_string(i), rtest::random_bytes(extra[i]));
        run_ok({"umoci", "repack", "--refresh-bundle", "--image", b.layout + ":img", bundle});
    }
    run_ok({"umoci", "config", "--image", b.layout + ":img", "--config.cmd", "/bin/sh"});
    run_ok({"umoci", "config", "--image", b.layout + ":img", "--architecture", "arm64", "--tag", "arm"});

    // The index, by hand: umoci makes no multi-platform images.
    berth::json::Document idx(rtest::read_file(b.layout + "/index.json"), "index.json");
    std::string entries;
    for (auto& m : idx.root().get("manifests").as_array()) {
        std::string tag = m.get("annotations").as_string_map()["org.opencontainers.image.ref.name"];
        std::string platform = tag == "img" ? R"({"architecture":"amd64","os":"linux"})"
                                            : R"({"architecture":"arm64","os":"linux","variant":"v8"})";
        if (tag != "img" && tag != "arm") continue;
        if (!entries.empty()) entries += ",";
        entries += R"({"mediaType":")" + m.get("mediaType").as_string() + R"(","digest":")" + m.get("digest").as_string() +
                   R"(","size":)" + std::to_string(m.get("size").as_int64()) + R"(,"platform":)" + platform + "}";
    }
    std::string index = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)" +
                        entries + "]}";
    b.index_digest = rtest::put_blob(b.layout, index);
    rtest::add_tag(b.layout, "multi", "application/vnd.oci.image.index.v1+json", b.index_digest, index.size());
    return b;
}

void push(const Built& b, const std::string& tag, const std::string& dest, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"skopeo", "--insecure-policy", "copy", "--quiet", "--preserve-digests"};
    if (tag == "multi") argv.push_back("--all");
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("oci:" + b.layout + ":" + tag);
    argv.push_back("docker://" + dest);
    run_ok(argv);
}

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

RegistryOptions opts() {
    RegistryOptions o;
    o.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    o.stall_timeout = std::chrono::seconds(10);
    return o;
}

struct Pulled {
    si::Manifest manifest;
    si::ImageConfig config;
    uint64_t bytes = 0;
};

// Manifest, config and every layer, each checked against its digest.
Pulled pull(RegistryClient& c, const Reference& ref) {
    Pulled p;
    auto m = c.get_manifest(ref, ref.tag_or_digest());
    cr_assert_eq(si::classify(m.content_type, m.body), si::DocKind::manifest, "%s", m.content_type.c_str());
    p.manifest = si::parse_manifest(m.body, "manifest " + ref.str());
    MemSink cfg;
    c.get_blob(ref, p.manifest.config.digest, p.manifest.config.size, cfg);
    p.config = si::parse_image_config(cfg.data, "config");
    for (auto& l : p.manifest.layers) {
        MemSink s;
        c.get_blob(ref, l.digest, l.size, s);
        cr_expect_eq(s.data.size(), (size_t)l.size);
        cr_expect_eq(berth::image::sha256_digest(s.data), l.digest);
        p.bytes += s.data.size();
    }
    return p;
}

// Hashes as it goes and keeps nothing: what a content store costs, less the disk.
class HashSink : public BlobSink {
public:
    uint64_t offset() const override { return n_; }
    void write(const char* p, size_t n) override {
        h_.update(p, n);
        n_ += n;
    }
    void restart() override {
        h_ = Sha256();
        n_ = 0;
        done_.clear();
    }
    std::string digest() override {   // asked once all bytes are in
        if (done_.empty()) done_ = h_.finish();
        return done_;
    }

private:
    Sha256 h_;
    uint64_t n_ = 0;
    std::string done_;
};

} // namespace

RTEST(docker_registry, plain_http_tags_digests_and_an_index) {
    need_tools({"docker-registry", "skopeo", "umoci"});
    // busybox plus four layers of 16 MiB (random: gzip keeps their size).
    Built b = build_images({16 << 20, 16 << 20, 16 << 20, 16 << 20});
    Registry r = start_registry(rtest::temp_dir(), false, false);
    push(b, "img", r.host() + "/test/img:v1", {"--dest-tls-verify=false"});
    push(b, "multi", r.host() + "/test/multi:v1", {"--dest-tls-verify=false"});

    RegistryClient c(opts());
    auto ref = parse_reference(r.host() + "/test/img:v1");
    Pulled p = pull(c, ref);
    cr_expect_eq(p.manifest.layers.size(), 5u);
    cr_expect_eq(p.config.architecture, "amd64");
    cr_assert_eq(p.config.config.cmd.size(), 1u);
    cr_expect_eq(p.config.config.cmd[0], "/bin/sh");
    cr_expect_eq(p.config.diff_ids.size(), 5u);

    // By digest, and as name@digest.
    auto m = c.get_manifest(ref, "v1");
    auto again = c.get_manifest(ref, m.digest);
    cr_expect_eq(again.body, m.body);
    auto by_digest = parse_reference(r.host() + "/test/img@" + m.digest);
    cr_expect_eq(c.get_manifest(by_digest, by_digest.tag_or_digest()).digest, m.digest);

    // The index: this host's platform, and arm64/v8.
    auto mref = parse_reference(r.host() + "/test/multi:v1");
    auto ix = c.get_manifest(mref, "v1");
    cr_expect_eq(ix.digest, b.index_digest);
    cr_assert_eq(si::classify(ix.content_type, ix.body), si::DocKind::index);
    auto index = si::parse_index(ix.body, "index");
    cr_assert_eq(index.manifests.size(), 2u);
    si::Platform arm{"linux", "arm64", "v8", "", {}};
    const si::Descriptor* d = si::select_platform(index, arm);
    cr_assert_not_null(d);
    Pulled pa = pull(c, parse_reference(mref.with_digest(d->digest)));
    cr_expect_eq(pa.config.architecture, "arm64");
    if (si::host_platform().architecture == "amd64") {
        const si::Descriptor* h = si::select_platform(index, si::host_platform());
        cr_assert_not_null(h);
        cr_expect_eq(h->digest, m.digest, "the amd64 entry is the image pushed as test/img");
    }

    auto e = error_of([&] { c.get_manifest(ref, "nosuchtag"); });
    cr_expect_eq(e.err(), ENOENT, "%s", e.what());
    cr_expect(std::string(e.what()).find(ref.str()) != std::string::npos, "%s", e.what());
    cr_expect(std::string(e.what()).find(r.host()) != std::string::npos, "%s", e.what());
    auto nope = parse_reference(r.host() + "/test/nothing:v1");
    e = error_of([&] { c.get_manifest(nope, "v1"); });
    cr_expect_eq(e.err(), ENOENT, "%s", e.what());

    // Figures (printed, not asserted): cold clients, blobs hashed as they
    // stream (as the content store will), sequential then in parallel.
    double mt = 0, seq = 0, par = 0;
    uint64_t bytes = 0;
    auto fetch_all = [&](RegistryClient& cl, bool parallel) {
        auto mm = si::parse_manifest(cl.get_manifest(ref, "v1").body, "m");
        std::vector<si::Descriptor> blobs = mm.layers;
        blobs.push_back(mm.config);
        std::atomic<uint64_t> n{0};
        auto one = [&cl, &ref, &n](const si::Descriptor& l) {
            try {
                HashSink s;
                cl.get_blob(ref, l.digest, l.size, s);
                n += s.offset();
            } catch (const std::exception& ex) {
                std::fprintf(stderr, "pull: %s\n", ex.what());
            }
        };
        std::vector<std::thread> ts;
        for (auto& l : blobs) {
            if (parallel) ts.emplace_back(one, l);
            else one(l);
        }
        for (auto& t : ts) t.join();
        return n.load();
    };
    {
        RegistryClient cold(opts());
        mt = rtest::timed([&] { cold.get_manifest(ref, "v1"); });
    }
    {
        RegistryClient cold(opts());
        seq = rtest::timed([&] { bytes = fetch_all(cold, false); });
    }
    {
        RegistryClient cold(opts());
        uint64_t pbytes = 0;
        par = rtest::timed([&] { pbytes = fetch_all(cold, true); });
        cr_expect_eq(pbytes, bytes);
    }
    double mb = static_cast<double>(bytes) / (1 << 20);
    std::fprintf(stderr,
                 "registry pull figures: %zu layers, %.1f MiB; manifest alone %.1f ms; manifest+config+layers, "
                 "sha256 while streaming: sequential %.3f s (%.0f MiB/s), in parallel %.3f s (%.0f MiB/s)\n",
                 p.manifest.layers.size(), mb, mt * 1000, seq, mb / seq, par, mb / par);
}

RTEST(docker_registry, htpasswd_basic_auth) {
    need_tools({"docker-registry", "skopeo", "umoci", "htpasswd"});
    std::string dir = rtest::temp_dir();
    run_ok({"htpasswd", "-Bbc", dir + "/htpasswd", "alice", "s3cret"});
    Registry r = start_registry(dir, false, true);
    Built b = build_images({});
    push(b, "img", r.host() + "/test/img:v1", {"--dest-tls-verify=false", "--dest-creds", "alice:s3cret"});
    auto ref = parse_reference(r.host() + "/test/img:v1");

    RegistryClient anon(opts());
    auto e = error_of([&] { anon.get_manifest(ref, "v1"); });
    cr_expect_eq(e.err(), EKEYREJECTED, "%s", e.what());
    cr_expect(std::string(e.what()).find(ref.str()) != std::string::npos, "%s", e.what());

    auto o = opts();
    o.credentials.username = "alice";
    o.credentials.password = "wrong";
    RegistryClient wrong(o);
    e = error_of([&] { wrong.get_manifest(ref, "v1"); });
    cr_expect_eq(e.err(), EKEYREJECTED, "%s", e.what());

    o.credentials.password = "s3cret";
    RegistryClient right(o);
    cr_expect_eq(pull(right, ref).manifest.layers.size(), 1u);

    auto o2 = opts();
    o2.credentials.auth = "YWxpY2U6czNjcmV0";   // alice:s3cret
    RegistryClient by_auth(o2);
    cr_expect_eq(pull(by_auth, ref).manifest.layers.size(), 1u);
}

RTEST(docker_registry, tls_with_ca_and_client_certificate) {
    need_tools({"docker-registry", "skopeo", "umoci", "openssl"});
    std::string dir = rtest::temp_dir();
    auto ossl = [&](std::vector<std::string> args) {
        args.insert(args.begin(), "openssl");
        run_ok(args);
    };
    const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
    auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    ossl(with({"req", "-x509", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
               "-keyout", dir + "/server.key", "-out", dir + "/server.crt"}, ec));
    ossl(with({"req", "-x509", "-days", "2", "-subj", "/CN=berth test client CA", "-keyout", dir + "/client-ca.key",
               "-out", dir + "/client-ca.crt"}, ec));
    ossl(with({"req", "-subj", "/CN=berth test client", "-keyout", dir + "/client.key", "-out", dir + "/client.csr"}, ec));
    ossl({"x509", "-req", "-days", "2", "-in", dir + "/client.csr", "-CA", dir + "/client-ca.crt", "-CAkey",
          dir + "/client-ca.key", "-CAcreateserial", "-out", dir + "/client.cert"});
    Registry r = start_registry(dir, true, false);

    // skopeo's cert dir: *.crt CAs, *.cert with its *.key.
    std::string skopeo_certs = dir + "/skopeo-certs";
    std::filesystem::create_directories(skopeo_certs);
    std::filesystem::copy_file(dir + "/server.crt", skopeo_certs + "/ca.crt");
    std::filesystem::copy_file(dir + "/client.cert", skopeo_certs + "/client.cert");
    std::filesystem::copy_file(dir + "/client.key", skopeo_certs + "/client.key");
    Built b = build_images({});
    push(b, "img", r.host() + "/test/img:v1", {"--dest-cert-dir", skopeo_certs});

    auto ref = parse_reference(r.host() + "/test/img:v1");
    std::string conf = dir + "/certs.d";
    std::string hosts_toml = conf + "/" + r.host() + "/hosts.toml";
    std::filesystem::create_directories(conf + "/" + r.host());
    auto client_with = [&](const std::string& toml) {
        rtest::write_file(hosts_toml, toml);
        auto o = opts();
        o.config_dir = conf;
        return std::make_unique<RegistryClient>(o);
    };
    const std::string server = "server = \"https://" + r.host() + "\"\n";
    const std::string client = "client = [[\"" + dir + "/client.cert\", \"" + dir + "/client.key\"]]\n";

    // CA (relative to the hosts.toml's dir works too) and client certificate.
    std::filesystem::copy_file(dir + "/server.crt", conf + "/" + r.host() + "/registry-ca.pem");
    auto ok = client_with(server + "ca = \"registry-ca.pem\"\n" + client);
    cr_expect_eq(pull(*ok, ref).manifest.layers.size(), 1u);

    // The system CAs alone do not know this one.
    auto no_ca = client_with(server + client);
    auto e = error_of([&] { no_ca->get_manifest(ref, "v1"); });
    cr_expect_eq(e.err(), EHOSTUNREACH, "%s", e.what());
    cr_expect(std::string(e.what()).find("certificate") != std::string::npos, "%s", e.what());

    // skip_verify trusts it anyway.
    auto skip = client_with(server + "skip_verify = true\n" + client);
    cr_expect_eq(pull(*skip, ref).manifest.layers.size(), 1u);

    // Without the client certificate the server ends the handshake.
    auto no_client = client_with(server + "ca = \"" + dir + "/server.crt\"\n");
    e = error_of([&] { no_client->get_manifest(ref, "v1"); });
    cr_expect_eq(e.err(), EHOSTUNREACH, "%s", e.what());
    cr_expect(std::string(e.what()).find("certificate") != std::string::npos, "%s", e.what());

    // Loopback without configuration speaks plain HTTP, which a TLS port refuses.
    RegistryClient plain(opts());
    e = error_of([&] { plain.get_manifest(ref, "v1"); });
    cr_expect_neq(e.err(), 0, "%s", e.what());
}
