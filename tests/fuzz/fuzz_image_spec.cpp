// libFuzzer target for the OCI image documents a registry or an archive
// hands berthd (spec/image.hpp): every input goes to parse_manifest,
// parse_index and parse_image_config, and to classify() under the content
// types registries send. For what parses:
//   - the invariants the parser promises hold (digests are sha256:<64 hex>,
//     sizes are not negative, diff ids are digests);
//   - written back as JSON (json::Writer, as the archive writer does), it
//     parses again to an equal value;
//   - classify() of the document under a generic content type agrees with
//     the mediaType it carries;
//   - select_platform() answers an entry of the index, or none.
// berth::Error is the expected way to reject an input; anything else is a
// finding.
#include "error.hpp"
#include "image.hpp"
#include "json.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace berth::spec::image;
namespace json = berth::json;

namespace {

[[noreturn]] void finding(const std::string& what, const std::string& a, const std::string& b = {}) {
    std::fprintf(stderr, "fuzz_image_spec: %s\n--- first:\n%s\n--- second:\n%s\n", what.c_str(), a.c_str(), b.c_str());
    __builtin_trap();
}

bool verbose() {
    static const bool v = std::getenv("FUZZ_VERBOSE") != nullptr;   // why a seed is refused
    return v;
}

bool valid_digest(const std::string& d) {
    if (d.size() != 71 || d.compare(0, 7, "sha256:") != 0) return false;
    for (size_t i = 7; i < d.size(); ++i)
        if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f'))) return false;
    return true;
}

// ---- equality, field by field (the spec types have no operator==)

bool eq(const Platform& a, const Platform& b) {
    return a.os == b.os && a.architecture == b.architecture && a.variant == b.variant &&
           a.os_version == b.os_version && a.os_features == b.os_features;
}

bool eq(const Descriptor& a, const Descriptor& b) {
    if (a.platform.has_value() != b.platform.has_value()) return false;
    if (a.platform && !eq(*a.platform, *b.platform)) return false;
    return a.media_type == b.media_type && a.digest == b.digest && a.size == b.size && a.urls == b.urls &&
           a.annotations == b.annotations;
}

bool eq(const std::vector<Descriptor>& a, const std::vector<Descriptor>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (!eq(a[i], b[i])) return false;
    return true;
}

bool eq(const Manifest& a, const Manifest& b) {
    return a.schema_version == b.schema_version && a.media_type == b.media_type && eq(a.config, b.config) &&
           eq(a.layers, b.layers) && a.annotations == b.annotations;
}

bool eq(const Index& a, const Index& b) {
    return a.schema_version == b.schema_version && a.media_type == b.media_type && eq(a.manifests, b.manifests) &&
           a.annotations == b.annotations;
}

bool eq(const ImageConfig& a, const ImageConfig& b) {
    const auto &x = a.config, &y = b.config;
    return a.created == b.created && a.author == b.author && a.architecture == b.architecture && a.os == b.os &&
           a.variant == b.variant && a.diff_ids == b.diff_ids && x.user == y.user && x.env == y.env &&
           x.entrypoint == y.entrypoint && x.cmd == y.cmd && x.working_dir == y.working_dir &&
           x.stop_signal == y.stop_signal && x.labels == y.labels && x.volumes == y.volumes &&
           x.exposed_ports == y.exposed_ports;
}

// ---- writing back

void opt(json::Writer& w, std::string_view k, const std::string& v) {
    if (!v.empty()) w.kv(k, v);
}

void opt_map(json::Writer& w, std::string_view k, const std::map<std::string, std::string>& m) {
    if (!m.empty()) w.key(k).string_map(m);
}

void opt_array(json::Writer& w, std::string_view k, const std::vector<std::string>& v) {
    if (!v.empty()) w.key(k).string_array(v);
}

void opt_keys(json::Writer& w, std::string_view k, const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    w.key(k).begin_object();
    for (const auto& key : keys) w.key(key).begin_object().end_object();
    w.end_object();
}

void write(json::Writer& w, const Descriptor& d) {
    w.begin_object();
    opt(w, "mediaType", d.media_type);
    w.kv("digest", d.digest).kv("size", d.size);
    opt_array(w, "urls", d.urls);
    opt_map(w, "annotations", d.annotations);
    if (d.platform) {
        const Platform& p = *d.platform;
        w.key("platform").begin_object().kv("os", p.os).kv("architecture", p.architecture);
        opt(w, "variant", p.variant);
        opt(w, "os.version", p.os_version);
        opt_array(w, "os.features", p.os_features);
        w.end_object();
    }
    w.end_object();
}

std::string to_json(const Manifest& m) {
    json::Writer w;
    w.begin_object().kv("schemaVersion", m.schema_version);
    opt(w, "mediaType", m.media_type);
    w.key("config");
    write(w, m.config);
    w.key("layers").begin_array();
    for (const auto& l : m.layers) write(w, l);
    w.end_array();
    opt_map(w, "annotations", m.annotations);
    w.end_object();
    return w.str();
}

std::string to_json(const Index& x) {
    json::Writer w;
    w.begin_object().kv("schemaVersion", x.schema_version);
    opt(w, "mediaType", x.media_type);
    w.key("manifests").begin_array();
    for (const auto& d : x.manifests) write(w, d);
    w.end_array();
    opt_map(w, "annotations", x.annotations);
    w.end_object();
    return w.str();
}

std::string to_json(const ImageConfig& c) {
    json::Writer w;
    w.begin_object();
    opt(w, "created", c.created);
    opt(w, "author", c.author);
    opt(w, "architecture", c.architecture);
    opt(w, "os", c.os);
    opt(w, "variant", c.variant);
    const auto& d = c.config;
    w.key("config").begin_object();
    opt(w, "User", d.user);
    opt_array(w, "Env", d.env);
    opt_array(w, "Entrypoint", d.entrypoint);
    opt_array(w, "Cmd", d.cmd);
    opt(w, "WorkingDir", d.working_dir);
    opt(w, "StopSignal", d.stop_signal);
    opt_map(w, "Labels", d.labels);
    opt_keys(w, "Volumes", d.volumes);
    opt_keys(w, "ExposedPorts", d.exposed_ports);
    w.end_object();
    w.key("rootfs").begin_object().kv("type", "layers").key("diff_ids").string_array(c.diff_ids).end_object();
    w.end_object();
    return w.str();
}

void check_descriptor(const Descriptor& d, const std::string& text) {
    if (!valid_digest(d.digest)) finding("accepted digest \"" + d.digest + "\"", text);
    if (d.size < 0) finding("accepted a negative size", text);
}

// The document says what it is; a generic content type defers to it.
void check_classify(std::string_view text, const std::string& media_type, DocKind want) {
    if (media_type.empty()) return;
    for (std::string_view ct : {"", "application/json", "application/json; charset=utf-8"})
        if (classify(ct, text) != want)
            finding("classify(\"" + std::string(ct) + "\") disagrees with mediaType " + media_type, std::string(text));
}

template <class T, class Parse>
void round_trip(const T& parsed, Parse parse, const std::string& input) {
    std::string text = to_json(parsed);
    T back;
    try {
        back = parse(text);
    } catch (const berth::Error& e) {
        finding(std::string("written back, it does not parse: ") + e.what(), input, text);
    }
    if (!eq(parsed, back)) finding("written back, it parses to another value", input, text);
    if (to_json(back) != text) finding("writing is not stable", text, to_json(back));
}

void manifest(std::string_view text) {
    std::string input(text);
    Manifest m;
    try {
        m = parse_manifest(text, "manifest");
    } catch (const berth::Error& e) {
        if (verbose()) std::fprintf(stderr, "manifest rejected: %s\n", e.what());
        return;
    }
    if (m.schema_version != 2) finding("accepted schemaVersion " + std::to_string(m.schema_version), input);
    check_descriptor(m.config, input);
    for (const auto& l : m.layers) check_descriptor(l, input);
    if (m.media_type == media::oci_manifest || m.media_type == media::docker_manifest)
        check_classify(text, m.media_type, DocKind::manifest);
    round_trip(m, [](const std::string& t) { return parse_manifest(t, "round trip"); }, input);
}

void index(std::string_view text) {
    std::string input(text);
    Index x;
    try {
        x = parse_index(text, "index");
    } catch (const berth::Error& e) {
        if (verbose()) std::fprintf(stderr, "index rejected: %s\n", e.what());
        return;
    }
    if (x.schema_version != 2) finding("accepted schemaVersion " + std::to_string(x.schema_version), input);
    for (const auto& d : x.manifests) check_descriptor(d, input);
    if (x.media_type == media::oci_index || x.media_type == media::docker_list)
        check_classify(text, x.media_type, DocKind::index);
    Platform want[4] = {host_platform(), {"linux", "arm64", "", "", {}}, {"linux", "arm", "v7", "", {}},
                        {"windows", "amd64", "", "10.0.17763.1234", {}}};
    for (const Platform& p : want) {
        const Descriptor* d = select_platform(x, p);
        if (d && (d < x.manifests.data() || d >= x.manifests.data() + x.manifests.size()))
            finding("select_platform answered a descriptor outside the index", input);
        if (d && (!d->platform || d->platform->os != p.os || d->platform->architecture != p.architecture))
            finding("select_platform answered another platform", input);
    }
    round_trip(x, [](const std::string& t) { return parse_index(t, "round trip"); }, input);
}

void image_config(std::string_view text) {
    std::string input(text);
    ImageConfig c;
    try {
        c = parse_image_config(text, "config");
    } catch (const berth::Error& e) {
        if (verbose()) std::fprintf(stderr, "config rejected: %s\n", e.what());
        return;
    }
    for (const auto& d : c.diff_ids)
        if (!valid_digest(d)) finding("accepted diff id \"" + d + "\"", input);
    round_trip(c, [](const std::string& t) { return parse_image_config(t, "round trip"); }, input);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    manifest(text);
    index(text);
    image_config(text);
    // Whatever the body, a content type that names the kind decides it.
    if (classify(media::oci_manifest, text) != DocKind::manifest ||
        classify(std::string(media::docker_list) + "; charset=utf-8 ", text) != DocKind::index)
        finding("classify ignored a content type that names the kind", std::string(text));
    (void)classify("application/octet-stream", text);
    return 0;
}
