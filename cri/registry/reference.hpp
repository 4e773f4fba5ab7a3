// Image references as Docker and containerd read them: "busybox" is
// docker.io/library/busybox:latest, "name:tag@digest" keeps both, a first
// component with a "." or ":" or equal to "localhost" is a registry host.
#pragma once

#include <string>
#include <string_view>

namespace berth::image {

struct Reference {
    std::string domain;   // "docker.io", "127.0.0.1:5000", "localhost"
    std::string path;     // "library/busybox"
    std::string tag;      // "latest"; empty when the reference is by digest only
    std::string digest;   // "sha256:..."; empty when by tag only

    std::string name() const;     // domain/path
    std::string str() const;      // domain/path[:tag][@digest]
    std::string with_tag() const;     // domain/path:tag (tag must be set)
    std::string with_digest(std::string_view digest) const;   // domain/path@digest
    // What to ask the registry for: the digest if any, else the tag.
    std::string tag_or_digest() const { return digest.empty() ? tag : digest; }
};

// Parse and normalise; throws Error(EINVAL, "invalid image reference \"S\": WHY").
Reference parse_reference(std::string_view s);

// True if s is a bare image id (64 hex digits, or "sha256:" + 64 hex).
bool looks_like_image_id(std::string_view s);

} // namespace berth::image
