// cri/image/archive: format detection, OCI layout and docker-archive
// parsing (hostile ones included), storing, and writing archives back.
#include <criterion/criterion.h>

#include "archive.hpp"
#include "digest.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "layer_tar.hpp"
#include "test_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

using namespace berth;
using namespace berth::image;
namespace lt = layer_tar;

TestSuite(image_archive, .init = make_test_dir, .fini = remove_test_dir);

namespace {

const std::string kLayerPlain = lt::plain({lt::dir("etc"), lt::file("etc/hello", "hi\n")});
const std::string kLayerGzip = lt::make({lt::file("second", "2\n")}, lt::Compression::gzip);
const std::string kLayerGzipPlain = lt::plain({lt::file("second", "2\n")});

std::string config_json(const std::vector<std::string>& diff_ids) {
    std::string s = R"({"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[)";
    for (size_t i = 0; i < diff_ids.size(); ++i) s += (i ? ",\"" : "\"") + diff_ids[i] + "\"";
    return s + "]}}";
}

std::string desc(const std::string& mt, const std::string& data, const std::string& extra = "") {
    return "{\"mediaType\":\"" + mt + "\",\"digest\":\"" + sha256_digest(data) + "\",\"size\":" +
           std::to_string(data.size()) + extra + "}";
}

lt::Entry blob(const std::string& data) { return lt::file("blobs/sha256/" + digest_hex(sha256_digest(data)), data); }

// A one-image OCI layout: a plain and a gzip layer.
struct Oci {
    std::string config = config_json({sha256_digest(kLayerPlain), sha256_digest(kLayerGzipPlain)});
    std::string manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":" +
                           desc("application/vnd.oci.image.config.v1+json", config) + ",\"layers\":[" +
                           desc("application/vnd.oci.image.layer.v1.tar", kLayerPlain) + "," +
                           desc("application/vnd.oci.image.layer.v1.tar+gzip", kLayerGzip) + "]}";
    std::string index(const std::string& annotations = R"(,"annotations":{"org.opencontainers.image.ref.name":"docker.io/library/x:1"})") const {
        return "{\"schemaVersion\":2,\"manifests\":[" +
               desc("application/vnd.oci.image.manifest.v1+json", manifest, annotations) + "]}";
    }
    std::vector<lt::Entry> entries() const {
        return {lt::file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"), lt::file("index.json", index()),
                lt::dir("blobs"), lt::dir("blobs/sha256"), blob(manifest), blob(config), blob(kLayerPlain),
                blob(kLayerGzip)};
    }
};

// A one-image docker-archive, as docker save writes it (an uncompressed layer).
struct Docker {
    std::string config = config_json({sha256_digest(kLayerPlain)});
    std::string cfg_name = digest_hex(sha256_digest(config)) + ".json";
    std::string manifest(const std::string& config_path, const std::string& layer_path,
                         const std::string& tags = R"(["x:1","localhost/y:2"])") const {
        return "[{\"Config\":\"" + config_path + "\",\"RepoTags\":" + tags + ",\"Layers\":[\"" + layer_path + "\"]}]";
    }
    std::vector<lt::Entry> entries() const {
        return {lt::file(cfg_name, config), lt::dir("abc"), lt::file("abc/layer.tar", kLayerPlain),
                lt::file("manifest.json", manifest(cfg_name, "abc/layer.tar")),
                lt::file("repositories", R"({"x":{"1":"abc"}})")};
    }
};

std::string write(const std::string& name, const std::string& data) {
    std::string p = test_dir() + "/" + name;
    lt::write_file(p, data);
    return p;
}

ArchiveOptions opts() {
    ArchiveOptions o;
    o.platform.os = "linux";
    o.platform.architecture = "amd64";
    return o;
}

ArchivePlan plan_of(const std::string& data, const ArchiveOptions& o = opts()) {
    UniqueFd fd(::open(write("in.tar", data).c_str(), O_RDONLY | O_CLOEXEC));
    cr_assert(fd);
    return read_archive(fd.get(), o);
}

// The message of the EINVAL read_archive throws ("" if it succeeds).
std::string refusal(const std::string& data, const ArchiveOptions& o = opts()) {
    try {
        plan_of(data, o);
    } catch (const Error& e) {
        cr_assert_eq(e.err(), EINVAL, "%s", e.what());
        return e.what();
    }
    return "";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

} // namespace

Test(image_archive, oci_layout_detected_and_read) {
    Oci x;
    auto p = plan_of(lt::plain(x.entries()));
    cr_assert(p.format == ArchiveFormat::oci);
    cr_assert_eq(p.images.size(), 1u);
    const auto& i = p.images[0];
    cr_assert_eq(i.tags, std::vector<std::string>{"docker.io/library/x:1"});
    cr_assert_eq(i.config_digest, sha256_digest(x.config));
    cr_assert_eq(i.manifest_digest, sha256_digest(x.manifest));
    cr_assert_eq(i.layer_digests, (std::vector<std::string>{sha256_digest(kLayerPlain), sha256_digest(kLayerGzip)}));
    cr_assert_eq(i.config.diff_ids[1], sha256_digest(kLayerGzipPlain));
    cr_assert_eq(p.blobs.size(), 4u);   // manifest, config, two layers
    cr_assert(p.documents.empty());
}

Test(image_archive, oci_layout_with_dot_slash_names_and_whole_archive_gzip) {
    Oci x;
    auto entries = x.entries();
    for (auto& e : entries) e.name = "./" + e.name;
    auto p = plan_of(lt::make(entries, lt::Compression::gzip));
    cr_assert(p.format == ArchiveFormat::oci);
    cr_assert_eq(p.images.size(), 1u);
}

Test(image_archive, docker_archive_detected_and_read) {
    Docker x;
    auto p = plan_of(lt::plain(x.entries()));
    cr_assert(p.format == ArchiveFormat::docker);
    cr_assert_eq(p.images.size(), 1u);
    const auto& i = p.images[0];
    cr_assert_eq(i.tags, (std::vector<std::string>{"docker.io/library/x:1", "localhost/y:2"}));
    cr_assert_eq(i.config_digest, sha256_digest(x.config));
    cr_assert_eq(i.layer_digests, std::vector<std::string>{sha256_digest(kLayerPlain)});
    // berth writes the manifest: Docker schema 2, the layer as an uncompressed tar.
    cr_assert_eq(p.documents.size(), 1u);
    const auto& [digest, text] = *p.documents.begin();
    cr_assert_eq(digest, i.manifest_digest);
    cr_assert_eq(sha256_digest(text), digest);
    auto m = spec::image::parse_manifest(text, "synthesised");
    cr_assert_eq(m.media_type, std::string(spec::image::media::docker_manifest));
    cr_assert_eq(m.layers[0].media_type, "application/vnd.docker.image.rootfs.diff.tar");
    cr_assert_eq(m.config.digest, i.config_digest);
}

Test(image_archive, docker_archive_gzip_layer_and_symlinked_duplicate) {
    // Older docker save links a layer that two images share; a gzip layer
    // (docker save | re-compressed by a tool) is taken as is.
    std::string cfg2 = config_json({sha256_digest(kLayerPlain), sha256_digest(kLayerGzipPlain)});
    Docker x;
    std::string c2 = digest_hex(sha256_digest(cfg2)) + ".json";
    std::string manifest = "[{\"Config\":\"" + x.cfg_name + "\",\"RepoTags\":[\"a:1\"],\"Layers\":[\"abc/layer.tar\"]}," +
                           "{\"Config\":\"" + c2 + "\",\"RepoTags\":[\"b:1\"],\"Layers\":[\"def/layer.tar\",\"g/layer.tar.gz\"]}]";
    auto p = plan_of(lt::plain({lt::file(x.cfg_name, x.config), lt::file(c2, cfg2), lt::file("abc/layer.tar", kLayerPlain),
                                lt::symlink("def/layer.tar", "../abc/layer.tar"), lt::file("g/layer.tar.gz", kLayerGzip),
                                lt::file("manifest.json", manifest)}));
    cr_assert_eq(p.images.size(), 2u);
    cr_assert_eq(p.images[1].layer_digests[0], sha256_digest(kLayerPlain));
    cr_assert_eq(p.images[1].layer_digests[1], sha256_digest(kLayerGzip));
    auto m = spec::image::parse_manifest(p.documents.at(p.images[1].manifest_digest), "synthesised");
    cr_assert_eq(m.layers[1].media_type, std::string(spec::image::media::docker_layer_gzip));
    cr_assert_eq(p.blobs.size(), 4u);   // two configs, the shared layer once, the gzip layer
}

Test(image_archive, neither_format) {
    auto why = refusal(lt::plain({lt::file("hello.txt", "hi")}));
    cr_assert(has(why, "neither manifest.json") && has(why, "index.json"), "%s", why.c_str());
}

Test(image_archive, not_a_tar) {
    std::string junk(4096, '\0');
    for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>(i * 131 + 7);
    auto why = refusal(junk);
    cr_assert(has(why, "not a readable tar"), "%s", why.c_str());
}

Test(image_archive, truncated_tar) {
    Docker x;
    std::string t = lt::plain(x.entries());
    auto at = t.find(kLayerPlain);   // cut inside abc/layer.tar's data
    cr_assert(at != std::string::npos);
    auto why = refusal(t.substr(0, at + 100));
    cr_assert(has(why, "not a readable tar (at member 3 \"abc/layer.tar\")"), "%s", why.c_str());
}

Test(image_archive, docker_paths_outside_the_archive) {
    Docker x;
    for (const std::string bad : {"../../etc/passwd", "/etc/passwd", "abc/../../x"}) {
        auto why = refusal(lt::plain({lt::file(x.cfg_name, x.config), lt::file("abc/layer.tar", kLayerPlain),
                                      lt::file("manifest.json", x.manifest(bad, "abc/layer.tar"))}));
        cr_assert(has(why, "manifest.json: [0].Config") && has(why, "outside the archive"), "%s: %s", bad.c_str(),
                  why.c_str());
        why = refusal(lt::plain({lt::file(x.cfg_name, x.config), lt::file("abc/layer.tar", kLayerPlain),
                                 lt::file("manifest.json", x.manifest(x.cfg_name, bad))}));
        cr_assert(has(why, "[0].Layers[0]") && has(why, "outside the archive"), "%s: %s", bad.c_str(), why.c_str());
    }
    // A symlink member that leads out.
    auto why = refusal(lt::plain({lt::file(x.cfg_name, x.config), lt::symlink("abc/layer.tar", "../../../etc/passwd"),
                                  lt::file("manifest.json", x.manifest(x.cfg_name, "abc/layer.tar"))}));
    cr_assert(has(why, "outside the archive"), "%s", why.c_str());
    why = refusal(lt::plain({lt::file(x.cfg_name, x.config), lt::symlink("abc/layer.tar", "/etc/passwd"),
                             lt::file("manifest.json", x.manifest(x.cfg_name, "abc/layer.tar"))}));
    cr_assert(has(why, "outside the archive"), "%s", why.c_str());
}

// Every name in the archive is hostile: members named out of it, members
// reached through a link, links leading out, devices. Each refuses the
// whole archive, naming the member, even when nothing refers to it.
Test(image_archive, hostile_member_names_refuse_the_archive) {
    Docker x;
    auto with = [&](std::vector<lt::Entry> extra) {
        auto e = x.entries();
        for (auto& m : extra) e.push_back(std::move(m));
        return lt::plain(e);
    };
    auto why = refusal(with({lt::file("../escape", "x")}));
    cr_assert(has(why, "member \"../escape\": a path with \"..\""), "%s", why.c_str());
    why = refusal(with({lt::file("abc/../../escape", "x")}));
    cr_assert(has(why, "member \"abc/../../escape\"") && has(why, "\"..\""), "%s", why.c_str());
    why = refusal(with({lt::file("/etc/cron.d/x", "x")}));
    cr_assert(has(why, "member \"/etc/cron.d/x\": an absolute path"), "%s", why.c_str());
    // A symlinked path: tar -x would write "evil/passwd" through the link.
    why = refusal(with({lt::symlink("evil", "abc"), lt::file("evil/passwd", "x")}));
    cr_assert(has(why, "member \"evil/passwd\": its parent \"evil\" is a symlink"), "%s", why.c_str());
    // The same with the link after the file.
    why = refusal(with({lt::file("evil/passwd", "x"), lt::symlink("evil", "abc")}));
    cr_assert(has(why, "its parent \"evil\" is a symlink"), "%s", why.c_str());
    why = refusal(with({lt::file("f", "x"), lt::file("f/g", "y")}));
    cr_assert(has(why, "its parent \"f\" is a file"), "%s", why.c_str());
    // Links leading out, though nothing names them.
    why = refusal(with({lt::symlink("up", "../../etc")}));
    cr_assert(has(why, "member \"up\": a symlink to \"../../etc\", outside the archive"), "%s", why.c_str());
    why = refusal(with({lt::symlink("abs", "/etc/shadow")}));
    cr_assert(has(why, "member \"abs\": a symlink to \"/etc/shadow\""), "%s", why.c_str());
    why = refusal(with({lt::hardlink("hl", "../etc/shadow")}));
    cr_assert(has(why, "member \"hl\": hard link target \"../etc/shadow\": a path with"), "%s", why.c_str());
    why = refusal(with({lt::hardlink("hl", "/etc/shadow")}));
    cr_assert(has(why, "hard link target \"/etc/shadow\": an absolute path"), "%s", why.c_str());
    auto dev = lt::dir("null");
    dev.type = AE_IFCHR;
    dev.dev_major = 1;
    dev.dev_minor = 3;
    why = refusal(with({dev}));
    cr_assert(has(why, "member \"null\": a character device"), "%s", why.c_str());
}

Test(image_archive, docker_layer_through_a_hard_link) {
    Docker x;
    auto p = plan_of(lt::plain({lt::file(x.cfg_name, x.config), lt::file("abc/layer.tar", kLayerPlain),
                                lt::hardlink("def/layer.tar", "abc/layer.tar"),
                                lt::file("manifest.json", x.manifest(x.cfg_name, "def/layer.tar"))}));
    cr_assert_eq(p.images[0].layer_digests, std::vector<std::string>{sha256_digest(kLayerPlain)});
    cr_assert_eq(p.blobs.size(), 2u);
}

Test(image_archive, docker_missing_files_and_wrong_diff_id) {
    Docker x;
    auto why = refusal(lt::plain({lt::file(x.cfg_name, x.config), lt::file("manifest.json", x.manifest(x.cfg_name, "abc/layer.tar"))}));
    cr_assert(has(why, "\"abc/layer.tar\" is not in the archive"), "%s", why.c_str());
    why = refusal(lt::plain({lt::file("abc/layer.tar", kLayerPlain), lt::file("manifest.json", x.manifest(x.cfg_name, "abc/layer.tar"))}));
    cr_assert(has(why, "[0].Config") && has(why, "not in the archive"), "%s", why.c_str());
    // A layer whose bytes are not the diff id the config names.
    why = refusal(lt::plain({lt::file(x.cfg_name, x.config), lt::file("abc/layer.tar", kLayerGzipPlain),
                             lt::file("manifest.json", x.manifest(x.cfg_name, "abc/layer.tar"))}));
    cr_assert(has(why, "is not the config's diff id " + sha256_digest(kLayerPlain)), "%s", why.c_str());
    // Layers and diff ids that do not pair up.
    why = refusal(lt::plain({lt::file(x.cfg_name, x.config), lt::file("abc/layer.tar", kLayerPlain),
                             lt::file("manifest.json", "[{\"Config\":\"" + x.cfg_name + "\",\"Layers\":[]}]")}));
    cr_assert(has(why, "0 Layers, but its config has 1 diff ids"), "%s", why.c_str());
    // A bad tag names its field.
    why = refusal(lt::plain({lt::file(x.cfg_name, x.config), lt::file("abc/layer.tar", kLayerPlain),
                             lt::file("manifest.json", x.manifest(x.cfg_name, "abc/layer.tar", R"(["Bad Name"])"))}));
    cr_assert(has(why, "RepoTags[0]"), "%s", why.c_str());
    why = refusal(lt::plain({lt::file(x.cfg_name, x.config), lt::file("manifest.json", "{}")}));
    cr_assert(has(why, "manifest.json: expected an array"), "%s", why.c_str());
}

Test(image_archive, oci_missing_blob_wrong_digest_wrong_size) {
    Oci x;
    auto drop = [&](const std::string& data) {
        std::vector<lt::Entry> out;
        for (auto& e : x.entries())
            if (e.name != "blobs/sha256/" + digest_hex(sha256_digest(data))) out.push_back(e);
        return out;
    };
    auto why = refusal(lt::plain(drop(kLayerGzip)));
    cr_assert(has(why, "layers[1]") && has(why, "not in the archive"), "%s", why.c_str());
    why = refusal(lt::plain(drop(x.config)));
    cr_assert(has(why, "config") && has(why, "not in the archive"), "%s", why.c_str());

    // The layer blob's bytes are not its name's digest.
    auto e = drop(kLayerPlain);
    e.push_back(lt::file("blobs/sha256/" + digest_hex(sha256_digest(kLayerPlain)), kLayerGzipPlain));
    why = refusal(lt::plain(e));
    cr_assert(has(why, "layers[0]") && has(why, "has the digest " + sha256_digest(kLayerGzipPlain)), "%s", why.c_str());

    // The descriptor's size is not the blob's.
    Oci y;
    std::string d = desc("application/vnd.oci.image.layer.v1.tar", kLayerPlain);
    auto at = y.manifest.find(d);
    cr_assert(at != std::string::npos);
    y.manifest.replace(at, d.size(), "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" +
                                         sha256_digest(kLayerPlain) + "\",\"size\":3}");
    why = refusal(lt::plain(y.entries()));
    cr_assert(has(why, "the descriptor says 3"), "%s", why.c_str());

    // An index entry naming a manifest that is not there.
    Oci z;
    auto ze = z.entries();
    ze[1] = lt::file("index.json", "{\"schemaVersion\":2,\"manifests\":[" +
                                       desc("application/vnd.oci.image.manifest.v1+json", "{}") + "]}");
    why = refusal(lt::plain(ze));
    cr_assert(has(why, "index.json: manifests[0]") && has(why, "not in the archive"), "%s", why.c_str());
}

Test(image_archive, oci_names_base_name_and_tag) {
    Oci x;
    auto with_index = [&](const std::string& annotations) {
        auto e = x.entries();
        e[1] = lt::file("index.json", x.index(annotations));
        return lt::plain(e);
    };
    // umoci's bare tag: unnamed without a base name, base:tag with one.
    std::string bare = with_index(R"(,"annotations":{"org.opencontainers.image.ref.name":"bb"})");
    cr_assert(plan_of(bare).images[0].tags.empty());
    auto o = opts();
    o.base_name = "localhost/bb";
    cr_assert_eq(plan_of(bare, o).images[0].tags, std::vector<std::string>{"localhost/bb:bb"});
    o.base_name = "localhost/bb:1";
    cr_assert(has(refusal(bare, o), "base name"));
    // containerd's annotation wins.
    auto p = plan_of(with_index(
        R"(,"annotations":{"org.opencontainers.image.ref.name":"bb","io.containerd.image.name":"example.com/a/b:c"})"));
    cr_assert_eq(p.images[0].tags, std::vector<std::string>{"example.com/a/b:c"});
    // The tag option names the one unnamed image.
    o = opts();
    o.tag = "localhost/named:v1";
    cr_assert_eq(plan_of(with_index(""), o).images[0].tags, std::vector<std::string>{"localhost/named:v1"});
}

Test(image_archive, oci_two_names_one_image_and_two_unnamed) {
    Oci x;
    auto two = [&](const std::string& a1, const std::string& a2) {
        std::string idx = "{\"schemaVersion\":2,\"manifests\":[" +
                          desc("application/vnd.oci.image.manifest.v1+json", x.manifest, a1) + "," +
                          desc("application/vnd.oci.image.manifest.v1+json", x.manifest, a2) + "]}";
        auto e = x.entries();
        e[1] = lt::file("index.json", idx);
        return lt::plain(e);
    };
    auto p = plan_of(two(R"(,"annotations":{"org.opencontainers.image.ref.name":"a.io/x:1"})",
                         R"(,"annotations":{"org.opencontainers.image.ref.name":"a.io/x:2"})"));
    cr_assert_eq(p.images.size(), 1u);
    cr_assert_eq(p.images[0].tags, (std::vector<std::string>{"a.io/x:1", "a.io/x:2"}));

    // Two distinct unnamed images and one tag: which one? Refused.
    Docker d;
    std::string cfg2 = config_json({sha256_digest(kLayerPlain)}) + " ";
    std::string c2 = digest_hex(sha256_digest(cfg2)) + ".json";
    std::string manifest = "[{\"Config\":\"" + d.cfg_name + "\",\"Layers\":[\"abc/layer.tar\"]}," + "{\"Config\":\"" +
                           c2 + "\",\"Layers\":[\"abc/layer.tar\"]}]";
    auto o = opts();
    o.tag = "t:1";
    auto why = refusal(lt::plain({lt::file(d.cfg_name, d.config), lt::file(c2, cfg2), lt::file("abc/layer.tar", kLayerPlain),
                                  lt::file("manifest.json", manifest)}),
                       o);
    cr_assert(has(why, "2 images without a name"), "%s", why.c_str());
}

Test(image_archive, oci_nested_index_picks_the_platform) {
    Oci x;
    std::string other = x.manifest + " ";   // another manifest, for arm64 (absent from the archive)
    std::string nested = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[" +
                         desc("application/vnd.oci.image.manifest.v1+json", other,
                              R"(,"platform":{"os":"linux","architecture":"arm64"})") +
                         "," +
                         desc("application/vnd.oci.image.manifest.v1+json", x.manifest,
                              R"(,"platform":{"os":"linux","architecture":"amd64"})") +
                         "]}";
    auto e = x.entries();
    e[1] = lt::file("index.json", "{\"schemaVersion\":2,\"manifests\":[" +
                                      desc("application/vnd.oci.image.index.v1+json", nested,
                                           R"(,"annotations":{"org.opencontainers.image.ref.name":"a.io/m:1"})") +
                                      "]}");
    e.push_back(blob(nested));
    auto p = plan_of(lt::plain(e));
    cr_assert_eq(p.images.size(), 1u);
    cr_assert_eq(p.images[0].index_digest, sha256_digest(nested));
    cr_assert_eq(p.images[0].manifest_digest, sha256_digest(x.manifest));
    auto o = opts();
    o.platform.architecture = "s390x";
    auto why = refusal(lt::plain(e), o);
    cr_assert(has(why, "no image for linux/s390x"), "%s", why.c_str());
}

Test(image_archive, documents_are_bounded) {
    Oci x;
    auto o = opts();
    o.max_documents_bytes = 100;
    auto why = refusal(lt::plain(x.entries()), o);
    cr_assert(has(why, "JSON documents take more than"), "%s", why.c_str());
    o = opts();
    o.max_members = 3;
    why = refusal(lt::plain(x.entries()), o);
    cr_assert(has(why, "more than 3 members"), "%s", why.c_str());
}

namespace {

ImageRecord record_of(const ArchiveImage& i) {
    ImageRecord r;
    r.id = r.config_digest = i.config_digest;
    r.manifest_digest = i.manifest_digest;
    r.layer_digests = i.layer_digests;
    r.diff_ids = i.config.diff_ids;
    r.config = i.config;
    return r;
}

std::string save(ArchiveFormat f, const ArchivePlan& p, const ContentStore& cs) {
    std::vector<ArchiveExport> ex;
    for (const auto& i : p.images) ex.push_back({record_of(i), i.tags});
    std::string out;
    write_archive(f, ex, cs, [&](const char* d, size_t n) { out.append(d, n); });
    return out;
}

} // namespace

Test(image_archive, store_then_save_both_formats_round_trip) {
    Oci x;
    std::string in = lt::plain(x.entries());
    auto p = plan_of(in);
    ContentStore cs(test_dir() + "/content");
    {
        UniqueFd fd(::open((test_dir() + "/in.tar").c_str(), O_RDONLY | O_CLOEXEC));
        store_archive(fd.get(), p, cs);
    }
    for (const auto& b : p.blobs) cr_assert(cs.has(b.digest), "%s", b.digest.c_str());

    // OCI out and in again: the same image, name and blobs.
    auto back = plan_of(save(ArchiveFormat::oci, p, cs));
    cr_assert(back.format == ArchiveFormat::oci);
    cr_assert_eq(back.images[0].config_digest, p.images[0].config_digest);
    cr_assert_eq(back.images[0].manifest_digest, p.images[0].manifest_digest);
    cr_assert_eq(back.images[0].tags, p.images[0].tags);

    // docker-archive out: the gzip layer is written uncompressed (planning
    // it again checks every uncompressed layer against its diff id).
    auto d = plan_of(save(ArchiveFormat::docker, p, cs));
    cr_assert(d.format == ArchiveFormat::docker);
    cr_assert_eq(d.images[0].config_digest, p.images[0].config_digest);
    cr_assert_eq(d.images[0].tags, p.images[0].tags);
    cr_assert_eq(d.images[0].layer_digests,
                 (std::vector<std::string>{sha256_digest(kLayerPlain), sha256_digest(kLayerGzipPlain)}));

    // Saving is deterministic.
    cr_assert_eq(save(ArchiveFormat::docker, p, cs), save(ArchiveFormat::docker, p, cs));
}

Test(image_archive, store_skips_present_blobs_and_stores_documents) {
    Docker x;
    auto p = plan_of(lt::plain(x.entries()));
    ContentStore cs(test_dir() + "/content");
    cs.put(sha256_digest(x.config), x.config);
    UniqueFd fd(::open((test_dir() + "/in.tar").c_str(), O_RDONLY | O_CLOEXEC));
    store_archive(fd.get(), p, cs);
    cr_assert(cs.has(p.images[0].manifest_digest));
    cr_assert(cs.has(sha256_digest(kLayerPlain)));
    cr_assert_eq(cs.read(sha256_digest(kLayerPlain)), kLayerPlain);
}

Test(image_archive, save_a_missing_blob_fails) {
    Docker x;
    auto p = plan_of(lt::plain(x.entries()));
    ContentStore cs(test_dir() + "/content");   // empty
    try {
        save(ArchiveFormat::oci, p, cs);
        cr_assert_fail("saved an image whose blobs are absent");
    } catch (const Error& e) {
        cr_assert_eq(e.err(), ENOENT, "%s", e.what());
    }
}

Test(image_archive, format_names) {
    cr_assert(parse_archive_format("oci-archive") == ArchiveFormat::oci);
    cr_assert(parse_archive_format("") == ArchiveFormat::docker);
    cr_assert(parse_archive_format("docker-archive") == ArchiveFormat::docker);
    cr_assert_eq(archive_format_name(ArchiveFormat::docker), "docker-archive");
    try {
        parse_archive_format("zip");
        cr_assert_fail("zip accepted");
    } catch (const Error& e) {
        cr_assert_eq(e.err(), EINVAL);
    }
}

// skopeo and podman find only OCI manifests in an OCI layout's index: a
// docker-archive's image saved as an OCI archive gets an OCI manifest for
// the same config and layers (the same image id).
Test(image_archive, docker_manifest_saved_as_oci) {
    Docker x;
    auto p = plan_of(lt::plain(x.entries()));
    ContentStore cs(test_dir() + "/content");
    {
        UniqueFd fd(::open((test_dir() + "/in.tar").c_str(), O_RDONLY | O_CLOEXEC));
        store_archive(fd.get(), p, cs);
    }
    auto back = plan_of(save(ArchiveFormat::oci, p, cs));
    cr_assert(back.format == ArchiveFormat::oci);
    const auto& i = back.images[0];
    cr_assert_eq(i.config_digest, p.images[0].config_digest);
    cr_assert_eq(i.layer_digests, p.images[0].layer_digests);
    cr_assert_neq(i.manifest_digest, p.images[0].manifest_digest);
    cr_assert_eq(i.tags, p.images[0].tags);
    for (const auto& b : back.blobs) {
        if (b.digest != i.manifest_digest) continue;
        // Read the manifest back out of the saved archive's plan: stored as is.
        ContentStore cs2(test_dir() + "/content2");
        UniqueFd fd(::open((test_dir() + "/in.tar").c_str(), O_RDONLY | O_CLOEXEC));
        store_archive(fd.get(), back, cs2);
        auto m = spec::image::parse_manifest(cs2.read(b.digest), "saved");
        cr_assert_eq(m.media_type, std::string(spec::image::media::oci_manifest));
        cr_assert_eq(m.config.media_type, std::string(spec::image::media::oci_config));
        cr_assert_eq(m.layers[0].media_type, std::string(spec::image::media::oci_layer));
        return;
    }
    cr_assert_fail("the saved archive has no manifest blob");
}
