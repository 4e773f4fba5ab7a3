// Image references, by the grammar of distribution's reference package
// (reference.go, regexp.go) and the normalisation of normalize.go:
//
//   reference := name [":" tag] ["@" digest]
//   name      := [domain "/"] component ["/" component]*
//   domain    := (host-component ("." host-component)* | "[" ipv6 "]") [":" port]
//   component := [a-z0-9]+ (separator [a-z0-9]+)*   separator := "." | "_" | "__" | "-"+
//   tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//
// The first component is a domain when it is "localhost", holds a "." or a
// ":", or has an upper-case letter (which a path component cannot); else the
// domain is docker.io, where a one-component path gets "library/".
#include "reference.hpp"

#include "digest.hpp"
#include "error.hpp"

namespace berth::image {

namespace {

constexpr std::string_view kDockerDomain = "docker.io";
constexpr std::string_view kLegacyDockerDomain = "index.docker.io";
constexpr size_t kNameMax = 255;   // NameTotalLengthMax
constexpr size_t kTagMax = 128;

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool word(char c) { return alnum(c) || c == '_'; }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool has_upper(std::string_view s) {
    for (char c : s)
        if (c >= 'A' && c <= 'Z') return true;
    return false;
}

// [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool host_component(std::string_view s) {
    if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
    for (char c : s)
        if (!alnum(c) && c != '-') return false;
    return true;
}

// Why `d` is not a domain, or "" when it is one.
std::string domain_error(std::string_view d) {
    std::string_view host = d, port;
    if (d.starts_with('[')) {
        auto close = d.find(']');
        if (close == std::string_view::npos) return "unterminated IPv6 address in domain \"" + std::string(d) + "\"";
        std::string_view v6 = d.substr(1, close - 1);
        if (v6.empty()) return "empty IPv6 address in domain \"" + std::string(d) + "\"";
        for (char c : v6)
            if (!is_hex(c) && c != ':') return "invalid IPv6 address in domain \"" + std::string(d) + "\"";
        host = d.substr(0, close + 1);
        std::string_view rest = d.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return "invalid domain \"" + std::string(d) + "\"";
            port = rest.substr(1);
            if (port.empty()) return "empty port in domain \"" + std::string(d) + "\"";
        }
    } else {
        auto colon = d.find(':');
        if (colon != std::string_view::npos) {
            host = d.substr(0, colon);
            port = d.substr(colon + 1);
            if (port.empty()) return "empty port in domain \"" + std::string(d) + "\"";
        }
        size_t start = 0;
        while (true) {
            auto dot = host.find('.', start);
            if (!host_component(host.substr(start, dot == std::string_view::npos ? dot : dot - start)))
                return "invalid domain \"" + std::string(d) + "\"";
            if (dot == std::string_view::npos) break;
            start = dot + 1;
        }
    }
    for (char c : port)
        if (c < '0' || c > '9') return "invalid port in domain \"" + std::string(d) + "\"";
    return {};
}

// component := [a-z0-9]+ (separator [a-z0-9]+)*
bool path_component(std::string_view c) {
    if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
    for (size_t i = 0; i < c.size();) {
        if (lower_alnum(c[i])) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < c.size() && !lower_alnum(c[j])) ++j;
        std::string_view sep = c.substr(i, j - i);
        bool ok = sep == "." || sep == "_" || sep == "__" || sep.find_first_not_of('-') == std::string_view::npos;
        if (!ok) return false;
        i = j;
    }
    return true;
}

bool valid_tag(std::string_view t) {
    if (t.empty() || t.size() > kTagMax || !word(t.front())) return false;
    for (char c : t)
        if (!word(c) && c != '.' && c != '-') return false;
    return true;
}

bool hex64(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

// Why `d` is not a digest we can use, or "".
std::string digest_error(std::string_view d) {
    auto colon = d.find(':');
    if (d.empty()) return "empty digest";
    if (colon == std::string_view::npos || colon == 0) return "invalid digest \"" + std::string(d) + "\" (algorithm:hex expected)";
    std::string_view algo = d.substr(0, colon);
    if (algo != "sha256") {
        // The grammar allows other algorithms; this client only verifies sha256.
        for (char c : algo)
            if (!alnum(c) && c != '+' && c != '.' && c != '-' && c != '_')
                return "invalid digest \"" + std::string(d) + "\"";
        return "unsupported digest algorithm \"" + std::string(algo) + "\" (only sha256 is supported)";
    }
    if (!valid_digest(d)) return "invalid digest \"" + std::string(d) + "\" (sha256:<64 lowercase hex digits> expected)";
    return {};
}

} // namespace

std::string Reference::name() const { return domain + "/" + path; }

std::string Reference::str() const {
    std::string s = name();
    if (!tag.empty()) s += ":" + tag;
    if (!digest.empty()) s += "@" + digest;
    return s;
}

std::string Reference::with_tag() const {
    if (tag.empty()) throw Error(EINVAL, "image reference " + str() + " has no tag");
    return name() + ":" + tag;
}

std::string Reference::with_digest(std::string_view d) const { return name() + "@" + std::string(d); }

Reference parse_reference(std::string_view s) {
    auto fail = [&](const std::string& why) -> Reference {
        std::string shown(s.substr(0, 300));
        if (s.size() > 300) shown += "...";
        throw Error(EINVAL, "invalid image reference \"" + shown + "\": " + why);
    };
    if (s.empty()) return fail("empty reference");
    for (unsigned char c : s)
        if (c <= ' ' || c >= 0x7f) return fail("it holds a space, a control or a non-ASCII character");
    if (hex64(s)) return fail("a 64-hex-digit image id is not a repository name");

    Reference r;
    std::string_view rest = s;
    if (auto at = s.find('@'); at != std::string_view::npos) {
        std::string_view d = s.substr(at + 1);
        if (auto why = digest_error(d); !why.empty()) return fail(why);
        r.digest = std::string(d);
        rest = s.substr(0, at);
    }
    if (rest.empty()) return fail("missing repository name");

    std::string_view remainder;
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
        r.domain = kDockerDomain;
        remainder = rest;
    } else {
        std::string_view first = rest.substr(0, slash);
        if (first == "localhost" || first.find_first_of(".:") != std::string_view::npos || has_upper(first)) {
            r.domain = first;
            remainder = rest.substr(slash + 1);
        } else {
            r.domain = kDockerDomain;
            remainder = rest;
        }
    }
    if (r.domain == kLegacyDockerDomain) r.domain = kDockerDomain;

    std::string_view path = remainder;
    if (auto colon = remainder.find(':'); colon != std::string_view::npos) {
        path = remainder.substr(0, colon);
        std::string_view tag = remainder.substr(colon + 1);
        if (tag.empty()) return fail("empty tag");
        if (!valid_tag(tag))
            return fail("invalid tag \"" + std::string(tag.substr(0, 200)) +
                        "\" (up to 128 of A-Z a-z 0-9 _ . -, not starting with . or -)");
        r.tag = std::string(tag);
    }

    if (auto why = domain_error(r.domain); !why.empty()) return fail(why);
    if (path.empty()) return fail("missing repository name");
    if (has_upper(path)) return fail("repository name \"" + std::string(path) + "\" must be lowercase");
    size_t start = 0;
    while (true) {
        auto end = path.find('/', start);
        std::string_view comp = path.substr(start, end == std::string_view::npos ? end : end - start);
        if (!path_component(comp))
            return fail(comp.empty() ? "empty path component in \"" + std::string(path) + "\""
                                     : "invalid path component \"" + std::string(comp) +
                                           "\" (a-z 0-9 joined by one . or _, two _, or any number of -)");
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    r.path = std::string(path);
    if (r.domain == kDockerDomain && r.path.find('/') == std::string::npos) r.path = "library/" + r.path;
    if (r.name().size() > kNameMax)
        return fail("repository name is " + std::to_string(r.name().size()) + " characters long (at most " +
                    std::to_string(kNameMax) + ")");
    if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
    return r;
}

bool looks_like_image_id(std::string_view s) {
    if (s.starts_with("sha256:")) s.remove_prefix(7);
    return hex64(s);
}

} // namespace berth::image
