// crictl's config files (runp, create, run): a PodSandboxConfig or
// ContainerConfig as JSON or YAML, in protobuf's JSON mapping (the proto
// field names, log_directory, or their lowerCamel JSON names). An unknown
// field is an error naming its path and the file, not silently dropped.
#pragma once

#include "api.pb.h"

#include <string>
#include <string_view>

namespace berth::ctl {

// YAML (a block or flow document, JSON included) as JSON text. Plain
// scalars that read as null, booleans or numbers become those; quoted ones
// stay strings. `what` names the source in errors.
std::string yaml_to_json(std::string_view text, const std::string& what);

// JSON or YAML text into m: unknown fields and wrong types are errors
// naming the field path and `what`.
void parse_config(std::string_view text, const std::string& what, google::protobuf::Message& m);

// The file at path, with crictl's checks: a pod needs metadata with name and
// namespace (a missing uid gets a random one); a container metadata.name.
runtime::v1::PodSandboxConfig load_pod_config(const std::string& path);
runtime::v1::ContainerConfig load_container_config(const std::string& path);

} // namespace berth::ctl
