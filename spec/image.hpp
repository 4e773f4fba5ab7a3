// OCI image spec types (and the Docker schema 2 equivalents, which share
// their shape): descriptors, manifests, indexes / manifest lists, and the
// image config. Parsing follows spec/json.hpp: errors name the JSON path
// and the source ("manifest docker.io/library/busybox@sha256:...:
// layers[2].digest: expected string").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::spec::image {

namespace media {
inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view oci_layer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view oci_layer_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view oci_layer_zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view docker_layer_gzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view docker_schema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view docker_schema1_signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
} // namespace media

struct Platform {
    std::string os, architecture, variant, os_version;
    std::vector<std::string> os_features;
};

struct Descriptor {
    std::string media_type;
    std::string digest;   // "sha256:<64 hex>", validated
    int64_t size = 0;     // >= 0
    std::vector<std::string> urls;
    std::map<std::string, std::string> annotations;
    std::optional<Platform> platform;
};

struct Manifest {
    int schema_version = 2;
    std::string media_type;   // may be empty in OCI manifests
    Descriptor config;
    std::vector<Descriptor> layers;
    std::map<std::string, std::string> annotations;
};

struct Index {   // an OCI index or a Docker manifest list
    int schema_version = 2;
    std::string media_type;
    std::vector<Descriptor> manifests;
    std::map<std::string, std::string> annotations;
};

// The runtime defaults an image gives a container (the config's "config").
struct ContainerDefaults {
    std::string user;
    std::vector<std::string> env, entrypoint, cmd;
    std::string working_dir;
    std::string stop_signal;
    std::map<std::string, std::string> labels;
    std::vector<std::string> volumes;         // the keys of "Volumes"
    std::vector<std::string> exposed_ports;   // the keys of "ExposedPorts" ("80/tcp")
};

struct ImageConfig {
    std::string created, author, architecture, os, variant;
    ContainerDefaults config;
    std::vector<std::string> diff_ids;   // rootfs.diff_ids; rootfs.type must be "layers"
};

// What a manifest-or-index document is, from the registry's Content-Type
// (or the document's own mediaType when that is empty or generic).
enum class DocKind { manifest, index, schema1, unknown };
DocKind classify(std::string_view content_type, std::string_view body);

Manifest parse_manifest(std::string_view text, std::string_view what);
Index parse_index(std::string_view text, std::string_view what);
ImageConfig parse_image_config(std::string_view text, std::string_view what);

// The host's platform (linux, GOARCH-style architecture, variant for arm).
Platform host_platform();
// The entry of an index for `want` (os and architecture equal; variant
// equal when both give one, "v8" matching an empty arm64 variant), or
// nullptr. Entries with an unknown media type are skipped.
const Descriptor* select_platform(const Index& index, const Platform& want);

} // namespace berth::spec::image
