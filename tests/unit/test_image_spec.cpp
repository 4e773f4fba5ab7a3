// OCI image manifests, indexes and configs (spec/image_parse.cpp).
#include "error.hpp"
#include "image.hpp"

#include <criterion/criterion.h>

#include <sys/utsname.h>

#include <string>

using namespace berth::spec::image;

namespace {

std::string dg(char c) { return "sha256:" + std::string(64, c); }

const std::string kManifest = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469, "digest": ")" + dg('c') + R"("},
  "layers": [
    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2591575, "digest": ")" + dg('1') + R"("},
    {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "size": 0, "digest": ")" + dg('2') + R"(",
     "urls": ["https://cdn/x"], "annotations": {"a": "b"}}
  ],
  "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
})";

std::string entry(const std::string& mt, char d, const std::string& platform) {
    return R"({"mediaType":")" + mt + R"(","size":527,"digest":")" + dg(d) + R"(")" +
           (platform.empty() ? "" : R"(,"platform":)" + platform) + "}";
}

const std::string kList = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
 "manifests":[)" +
    entry("application/vnd.docker.distribution.manifest.v2+json", '1', R"({"architecture":"amd64","os":"linux"})") + "," +
    entry("application/vnd.docker.distribution.manifest.v2+json", '2', R"({"architecture":"arm","os":"linux","variant":"v6"})") + "," +
    entry("application/vnd.docker.distribution.manifest.v2+json", '3', R"({"architecture":"arm","os":"linux","variant":"v7"})") + "," +
    entry("application/vnd.docker.distribution.manifest.v2+json", '4', R"({"architecture":"arm64","os":"linux"})") + "," +
    entry("application/vnd.oci.image.manifest.v1+json", '5',
          R"({"architecture":"amd64","os":"windows","os.version":"10.0.17763.1","os.features":["win32k"]})") + "," +
    entry("application/vnd.in-toto+json", '6', R"({"architecture":"s390x","os":"linux"})") + "," +
    entry("application/vnd.oci.image.manifest.v1+json", '7', "") + R"(]})";

template <class Fn>
std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const berth::Error& e) {
        cr_expect_eq(e.err(), EINVAL, "%s", e.what());
        return e.what();
    }
    cr_expect_fail("no error");
    return "";
}

void expect_has(const std::string& m, const std::string& part) {
    cr_expect(m.find(part) != std::string::npos, "expected \"%s\" in: %s", part.c_str(), m.c_str());
}

} // namespace

Test(image_spec, classify) {
    cr_expect_eq(classify("application/vnd.oci.image.manifest.v1+json", ""), DocKind::manifest);
    cr_expect_eq(classify("application/vnd.docker.distribution.manifest.v2+json; charset=utf-8", "{}"), DocKind::manifest);
    cr_expect_eq(classify("application/vnd.oci.image.index.v1+json", ""), DocKind::index);
    cr_expect_eq(classify("application/vnd.docker.distribution.manifest.list.v2+json", ""), DocKind::index);
    cr_expect_eq(classify("application/vnd.docker.distribution.manifest.v1+prettyjws", ""), DocKind::schema1);
    cr_expect_eq(classify("application/vnd.docker.distribution.manifest.v1+json", ""), DocKind::schema1);
    // Generic types: the document says.
    cr_expect_eq(classify("application/json", kManifest), DocKind::manifest);
    cr_expect_eq(classify("", kList), DocKind::index);
    cr_expect_eq(classify("text/plain", R"({"schemaVersion":1,"fsLayers":[]})"), DocKind::schema1);
    cr_expect_eq(classify("", R"({"schemaVersion":2,"manifests":[]})"), DocKind::index);
    cr_expect_eq(classify("", R"({"schemaVersion":2,"config":{},"layers":[]})"), DocKind::manifest);
    cr_expect_eq(classify("application/json", "not json"), DocKind::unknown);
    cr_expect_eq(classify("application/json", "[1]"), DocKind::unknown);
    cr_expect_eq(classify("application/octet-stream", R"({"a":1})"), DocKind::unknown);
}

Test(image_spec, manifest) {
    auto m = parse_manifest(kManifest, "manifest r@x");
    cr_expect_eq(m.schema_version, 2);
    cr_expect_eq(m.media_type, media::docker_manifest);
    cr_expect_eq(m.config.digest, dg('c'));
    cr_expect_eq(m.config.size, 1469);
    cr_assert_eq(m.layers.size(), 2u);
    cr_expect_eq(m.layers[0].media_type, media::docker_layer_gzip);
    cr_expect_eq(m.layers[0].size, 2591575);
    cr_expect_eq(m.layers[1].media_type, media::oci_layer_zstd);
    cr_assert_eq(m.layers[1].urls.size(), 1u);
    cr_expect_eq(m.layers[1].annotations.at("a"), "b");
    cr_expect_eq(m.annotations.at("org.opencontainers.image.created"), "2024-01-01T00:00:00Z");
}

Test(image_spec, manifest_errors_name_the_path) {
    auto m = error_of([] { parse_manifest(R"({"schemaVersion":2,"layers":[]})", "manifest M"); });
    expect_has(m, "manifest M");
    expect_has(m, "config");
    m = error_of([] {
        parse_manifest(R"({"schemaVersion":2,"config":{"digest":")" + dg('a') +
                           R"(","size":1},"layers":[{"digest":"sha256:abc","size":1}]})",
                       "manifest M");
    });
    expect_has(m, "layers[0].digest");
    expect_has(m, "invalid digest");
    m = error_of([] {
        parse_manifest(R"({"schemaVersion":2,"config":{"digest":")" + dg('a') + R"(","size":-1},"layers":[]})", "manifest M");
    });
    expect_has(m, "config.size");
    expect_has(m, "negative");
    m = error_of([] { parse_manifest(R"({"schemaVersion":3,"config":{},"layers":[]})", "manifest M"); });
    expect_has(m, "unsupported schemaVersion 3");
    m = error_of([] { parse_manifest("[]", "manifest M"); });
    expect_has(m, "expected an object");
    m = error_of([] { parse_manifest("{", "manifest M"); });
    expect_has(m, "manifest M");
}

Test(image_spec, schema1_is_refused_clearly) {
    const char* s1 = R"({"schemaVersion":1,"name":"x","tag":"latest","fsLayers":[{"blobSum":"sha256:a"}],"history":[]})";
    auto m = error_of([&] { parse_manifest(s1, "manifest docker.io/library/old:latest"); });
    expect_has(m, "manifest docker.io/library/old:latest");
    expect_has(m, "schema 1 manifests are not supported");
    m = error_of([&] { parse_index(s1, "index I"); });
    expect_has(m, "schema 1");
}

Test(image_spec, index_and_platforms) {
    auto x = parse_index(kList, "index I");
    cr_expect_eq(x.media_type, media::docker_list);
    cr_assert_eq(x.manifests.size(), 7u);
    cr_assert(x.manifests[4].platform.has_value());
    cr_expect_eq(x.manifests[4].platform->os_version, "10.0.17763.1");
    cr_assert_eq(x.manifests[4].platform->os_features.size(), 1u);
    cr_expect_not(x.manifests[6].platform.has_value());

    auto pick = [&](const char* os, const char* arch, const char* variant) -> char {
        Platform p;
        p.os = os;
        p.architecture = arch;
        p.variant = variant;
        const Descriptor* d = select_platform(x, p);
        return d ? d->digest.back() : '-';
    };
    cr_expect_eq(pick("linux", "amd64", ""), '1');
    cr_expect_eq(pick("linux", "arm", "v6"), '2');
    cr_expect_eq(pick("linux", "arm", "v7"), '3');
    cr_expect_eq(pick("linux", "arm64", "v8"), '4', "arm64/v8 takes an arm64 entry without a variant");
    cr_expect_eq(pick("windows", "amd64", ""), '5');
    cr_expect_eq(pick("linux", "s390x", ""), '-', "entries of unknown media types are skipped");
    cr_expect_eq(pick("linux", "riscv64", ""), '-');

    // The other way round: an arm64/v8 entry for a host without a variant.
    std::string idx = R"({"schemaVersion":2,"manifests":[)" +
                      entry("application/vnd.oci.image.manifest.v1+json", '8',
                            R"({"architecture":"arm64","os":"linux","variant":"v8"})") + "," +
                      entry("application/vnd.oci.image.manifest.v1+json", '9', R"({"architecture":"arm","os":"linux","variant":"v7"})") +
                      "]}";
    auto y = parse_index(idx, "index J");
    Platform p{"linux", "arm64", "", "", {}};
    cr_assert_not_null(select_platform(y, p));
    cr_expect_eq(select_platform(y, p)->digest, dg('8'));
    p = {"linux", "arm", "v6", "", {}};
    cr_expect_null(select_platform(y, p), "arm/v6 does not run arm/v7");
}

Test(image_spec, index_errors) {
    auto m = error_of([] { parse_index(R"({"schemaVersion":2})", "index I"); });
    expect_has(m, "manifests");
    m = error_of([] {
        parse_index(R"({"schemaVersion":2,"manifests":[{"digest":")" + dg('a') + R"(","size":1,"platform":{"os":"linux"}}]})",
                    "index I");
    });
    expect_has(m, "manifests[0].platform.architecture");
}

Test(image_spec, config) {
    auto c = parse_image_config(R"({
      "created": "2024-01-02T03:04:05Z", "author": "me", "architecture": "arm64", "os": "linux", "variant": "v8",
      "config": {"User": "1000:1000", "Env": ["PATH=/bin", "A=b"], "Entrypoint": ["/init"], "Cmd": ["-v"],
                 "WorkingDir": "/srv", "StopSignal": "SIGQUIT", "Labels": {"k": "v"},
                 "Volumes": {"/data": {}, "/logs": {}}, "ExposedPorts": {"80/tcp": {}, "53/udp": {}}},
      "rootfs": {"type": "layers", "diff_ids": [")" + dg('d') + R"(", ")" + dg('e') + R"("]},
      "history": [{"created_by": "x"}]
    })", "config C");
    cr_expect_eq(c.architecture, "arm64");
    cr_expect_eq(c.variant, "v8");
    cr_expect_eq(c.author, "me");
    cr_expect_eq(c.config.user, "1000:1000");
    cr_expect_eq(c.config.env.size(), 2u);
    cr_expect_eq(c.config.entrypoint[0], "/init");
    cr_expect_eq(c.config.cmd[0], "-v");
    cr_expect_eq(c.config.working_dir, "/srv");
    cr_expect_eq(c.config.stop_signal, "SIGQUIT");
    cr_expect_eq(c.config.labels.at("k"), "v");
    cr_assert_eq(c.config.volumes.size(), 2u);
    cr_expect_eq(c.config.volumes[0], "/data");
    cr_assert_eq(c.config.exposed_ports.size(), 2u);
    cr_expect_eq(c.config.exposed_ports[0], "80/tcp", "in the document's order");
    cr_assert_eq(c.diff_ids.size(), 2u);
    cr_expect_eq(c.diff_ids[1], dg('e'));

    // A config without "config" is fine (scratch images).
    auto bare = parse_image_config(R"({"rootfs":{"type":"layers","diff_ids":[]}})", "config B");
    cr_expect(bare.config.cmd.empty());

    auto m = error_of([] { parse_image_config(R"({"rootfs":{"type":"tarball","diff_ids":[]}})", "config C"); });
    expect_has(m, "rootfs.type");
    m = error_of([] { parse_image_config(R"({"rootfs":{"type":"layers","diff_ids":["sha256:1"]}})", "config C"); });
    expect_has(m, "rootfs.diff_ids");
    expect_has(m, "[0]");
    m = error_of([] { parse_image_config(R"({"config":{"Env":"A=b"},"rootfs":{"type":"layers","diff_ids":[]}})", "config C"); });
    expect_has(m, "config.Env");
    m = error_of([] { parse_image_config(R"({})", "config C"); });
    expect_has(m, "rootfs");
}

Test(image_spec, host_platform) {
    struct utsname u {};
    ::uname(&u);
    Platform p = host_platform();
    cr_expect_eq(p.os, "linux");
    if (std::string(u.machine) == "x86_64") cr_expect_eq(p.architecture, "amd64");
    if (std::string(u.machine) == "aarch64") {
        cr_expect_eq(p.architecture, "arm64");
        cr_expect_eq(p.variant, "v8");
    }
}
