// Parsing of OCI image manifests, indexes and configs (spec/image.hpp).
#include "image.hpp"

#include "error.hpp"
#include "json.hpp"

#include <sys/utsname.h>

#include <cstring>

namespace berth::spec::image {

namespace {

bool valid_digest(const std::string& d) {
    if (d.size() != 71 || d.compare(0, 7, "sha256:") != 0) return false;
    for (size_t i = 7; i < d.size(); ++i) {
        char c = d[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string opt_string(const json::Value& o, std::string_view key) {
    auto v = o.find(key);
    return v ? v->as_string() : std::string();
}

std::vector<std::string> opt_strings(const json::Value& o, std::string_view key) {
    auto v = o.find(key);
    return v ? v->as_string_array() : std::vector<std::string>{};
}

std::map<std::string, std::string> opt_map(const json::Value& o, std::string_view key) {
    auto v = o.find(key);
    return v ? v->as_string_map() : std::map<std::string, std::string>{};
}

// The keys of an object whose values are (usually empty) objects: Volumes, ExposedPorts.
std::vector<std::string> opt_keys(const json::Value& o, std::string_view key) {
    std::vector<std::string> out;
    if (auto v = o.find(key))
        for (auto& [k, _] : v->members()) out.push_back(k);
    return out;
}

Platform parse_platform(const json::Value& v) {
    Platform p;
    p.os = v.get("os").as_string();
    p.architecture = v.get("architecture").as_string();
    p.variant = opt_string(v, "variant");
    p.os_version = opt_string(v, "os.version");
    p.os_features = opt_strings(v, "os.features");
    return p;
}

Descriptor parse_descriptor(const json::Value& v) {
    Descriptor d;
    d.media_type = opt_string(v, "mediaType");
    auto dg = v.get("digest");
    d.digest = dg.as_string();
    if (!valid_digest(d.digest)) dg.fail("invalid digest \"" + d.digest.substr(0, 80) + "\" (sha256:<64 hex> expected)");
    auto sz = v.get("size");
    d.size = sz.as_int64();
    if (d.size < 0) sz.fail("negative size");
    d.urls = opt_strings(v, "urls");
    d.annotations = opt_map(v, "annotations");
    if (auto p = v.find("platform")) d.platform = parse_platform(*p);
    return d;
}

int schema_version(const json::Value& root) {
    auto v = root.get("schemaVersion");
    int n = v.as_int32();
    if (n == 1) v.fail("schema 1 manifests are not supported (deprecated by Docker; push the image again with a current client)");
    if (n != 2) v.fail("unsupported schemaVersion " + std::to_string(n));
    return n;
}

} // namespace

DocKind classify(std::string_view content_type, std::string_view body) {
    auto kind_of = [](std::string_view mt) {
        if (mt == media::oci_manifest || mt == media::docker_manifest) return DocKind::manifest;
        if (mt == media::oci_index || mt == media::docker_list) return DocKind::index;
        if (mt == media::docker_schema1 || mt == media::docker_schema1_signed) return DocKind::schema1;
        return DocKind::unknown;
    };
    std::string_view ct = content_type.substr(0, content_type.find(';'));
    while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
    if (auto k = kind_of(ct); k != DocKind::unknown) return k;
    // Generic types (application/json, or none): the document says what it is.
    try {
        json::Document doc(body, "");
        auto root = doc.root();
        if (!root.is_object()) return DocKind::unknown;
        if (auto mt = root.find("mediaType"); mt && mt->is_string())
            if (auto k = kind_of(mt->as_string()); k != DocKind::unknown) return k;
        if (auto sv = root.find("schemaVersion"); sv && sv->is_number() && sv->as_int64() == 1) return DocKind::schema1;
        if (root.has("manifests")) return DocKind::index;
        if (root.has("config") && root.has("layers")) return DocKind::manifest;
    } catch (const Error&) {
    }
    return DocKind::unknown;
}

Manifest parse_manifest(std::string_view text, std::string_view what) {
    json::Document doc(text, what);
    auto root = doc.root();
    Manifest m;
    try {
        if (!root.is_object()) root.fail("expected an object");
        m.schema_version = schema_version(root);
        m.media_type = opt_string(root, "mediaType");
        m.config = parse_descriptor(root.get("config"));
        for (auto& l : root.get("layers").as_array()) m.layers.push_back(parse_descriptor(l));
        m.annotations = opt_map(root, "annotations");
    } catch (const Error& e) {
        throw Error(e.err(), std::string(what) + ": " + e.what());
    }
    return m;
}

Index parse_index(std::string_view text, std::string_view what) {
    json::Document doc(text, what);
    auto root = doc.root();
    Index x;
    try {
        if (!root.is_object()) root.fail("expected an object");
        x.schema_version = schema_version(root);
        x.media_type = opt_string(root, "mediaType");
        for (auto& d : root.get("manifests").as_array()) x.manifests.push_back(parse_descriptor(d));
        x.annotations = opt_map(root, "annotations");
    } catch (const Error& e) {
        throw Error(e.err(), std::string(what) + ": " + e.what());
    }
    return x;
}

ImageConfig parse_image_config(std::string_view text, std::string_view what) {
    json::Document doc(text, what);
    auto root = doc.root();
    ImageConfig c;
    try {
        if (!root.is_object()) root.fail("expected an object");
        c.created = opt_string(root, "created");
        c.author = opt_string(root, "author");
        c.architecture = opt_string(root, "architecture");
        c.os = opt_string(root, "os");
        c.variant = opt_string(root, "variant");
        if (auto cfg = root.find("config")) {
            auto& d = c.config;
            d.user = opt_string(*cfg, "User");
            d.env = opt_strings(*cfg, "Env");
            d.entrypoint = opt_strings(*cfg, "Entrypoint");
            d.cmd = opt_strings(*cfg, "Cmd");
            d.working_dir = opt_string(*cfg, "WorkingDir");
            d.stop_signal = opt_string(*cfg, "StopSignal");
            d.labels = opt_map(*cfg, "Labels");
            d.volumes = opt_keys(*cfg, "Volumes");
            d.exposed_ports = opt_keys(*cfg, "ExposedPorts");
        }
        auto rootfs = root.get("rootfs");
        auto type = rootfs.get("type");
        if (type.as_string() != "layers") type.fail("expected \"layers\"");
        auto ids = rootfs.get("diff_ids");
        c.diff_ids = ids.as_string_array();
        for (size_t i = 0; i < c.diff_ids.size(); ++i)
            if (!valid_digest(c.diff_ids[i]))
                ids.fail("[" + std::to_string(i) + "]: invalid digest \"" + c.diff_ids[i].substr(0, 80) + "\"");
    } catch (const Error& e) {
        throw Error(e.err(), std::string(what) + ": " + e.what());
    }
    return c;
}

Platform host_platform() {
    Platform p;
    p.os = "linux";
    struct utsname u {};
    ::uname(&u);
    std::string m = u.machine;
    if (m == "x86_64") p.architecture = "amd64";
    else if (m == "aarch64") p.architecture = "arm64", p.variant = "v8";
    else if (m.rfind("armv7", 0) == 0) p.architecture = "arm", p.variant = "v7";
    else if (m.rfind("armv6", 0) == 0) p.architecture = "arm", p.variant = "v6";
    else if (m == "i686" || m == "i386") p.architecture = "386";
    else if (m == "ppc64le" || m == "s390x" || m == "riscv64") p.architecture = m;
    else p.architecture = m;
    return p;
}

const Descriptor* select_platform(const Index& index, const Platform& want) {
    auto variant_ok = [&](const std::string& v) {
        if (v.empty() || want.variant.empty()) return true;
        if (v == want.variant) return true;
        return want.architecture == "arm64" && (v == "v8" || want.variant == "v8") && (v.empty() || want.variant.empty());
    };
    for (const auto& d : index.manifests) {
        if (d.media_type != media::oci_manifest && d.media_type != media::docker_manifest) continue;
        if (!d.platform) continue;
        if (d.platform->os == want.os && d.platform->architecture == want.architecture && variant_ok(d.platform->variant))
            return &d;
    }
    return nullptr;
}

} // namespace berth::spec::image
