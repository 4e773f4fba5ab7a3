// Image references: distribution's grammar and Docker's normalisation
// (cri/registry/reference.cpp).
#include "error.hpp"
#include "reference.hpp"

#include <criterion/criterion.h>

#include <string>

using berth::image::parse_reference;

namespace {

const std::string D = "sha256:" + std::string(64, 'a');

struct Good {
    const char* in;
    const char* domain;
    const char* path;
    const char* tag;
    std::string digest;
    std::string str;
};

struct Bad {
    std::string in;
    const char* why;   // a part of the message
};

} // namespace

Test(reference, normalises_good_references) {
    const Good cases[] = {
        {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
        {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "docker.io/library/busybox:1.36"},
        {"library/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
        {"docker.io/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
        {"index.docker.io/foo/bar", "docker.io", "foo/bar", "latest", "", "docker.io/foo/bar:latest"},
        {"foo/bar", "docker.io", "foo/bar", "latest", "", "docker.io/foo/bar:latest"},
        {"foo/bar/baz:v1", "docker.io", "foo/bar/baz", "v1", "", "docker.io/foo/bar/baz:v1"},
        {"quay.io/coreos/etcd:v3.5", "quay.io", "coreos/etcd", "v3.5", "", "quay.io/coreos/etcd:v3.5"},
        {"localhost/img", "localhost", "img", "latest", "", "localhost/img:latest"},
        {"localhost:5000/img:t", "localhost:5000", "img", "t", "", "localhost:5000/img:t"},
        {"127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", "latest", "", "127.0.0.1:5000/a/b:latest"},
        {"[::1]:5000/img", "[::1]:5000", "img", "latest", "", "[::1]:5000/img:latest"},
        {"registry:5000/img", "registry:5000", "img", "latest", "", "registry:5000/img:latest"},
        // An upper-case first component can only be a host.
        {"Example/img", "Example", "img", "latest", "", "Example/img:latest"},
        // Without a "/", "localhost:5000" is a name and a tag.
        {"localhost:5000", "docker.io", "library/localhost", "5000", "", "docker.io/library/localhost:5000"},
        {"reg.io/a.b-c__d---e_f/x.y", "reg.io", "a.b-c__d---e_f/x.y", "latest", "", "reg.io/a.b-c__d---e_f/x.y:latest"},
        {"docker.io/a__b/c---d", "docker.io", "a__b/c---d", "latest", "", "docker.io/a__b/c---d:latest"},
        {"busybox:_Tag.With-Dots_", "docker.io", "library/busybox", "_Tag.With-Dots_", "",
         "docker.io/library/busybox:_Tag.With-Dots_"},
    };
    for (const auto& c : cases) {
        auto r = parse_reference(c.in);
        cr_expect_eq(r.domain, c.domain, "%s: domain %s", c.in, r.domain.c_str());
        cr_expect_eq(r.path, c.path, "%s: path %s", c.in, r.path.c_str());
        cr_expect_eq(r.tag, c.tag, "%s: tag %s", c.in, r.tag.c_str());
        cr_expect_eq(r.digest, c.digest, "%s: digest %s", c.in, r.digest.c_str());
        cr_expect_eq(r.str(), c.str, "%s: str %s", c.in, r.str().c_str());
    }
}

Test(reference, digests_and_tags_with_digests) {
    auto r = parse_reference("busybox@" + D);
    cr_expect_eq(r.name(), "docker.io/library/busybox");
    cr_expect(r.tag.empty(), "a digest-only reference gets no tag");
    cr_expect_eq(r.digest, D);
    cr_expect_eq(r.tag_or_digest(), D);
    cr_expect_eq(r.str(), "docker.io/library/busybox@" + D);

    r = parse_reference("127.0.0.1:5000/a/b:v2@" + D);
    cr_expect_eq(r.domain, "127.0.0.1:5000");
    cr_expect_eq(r.tag, "v2");
    cr_expect_eq(r.digest, D);
    cr_expect_eq(r.tag_or_digest(), D, "the digest wins over the tag");
    cr_expect_eq(r.str(), "127.0.0.1:5000/a/b:v2@" + D);
    cr_expect_eq(r.with_tag(), "127.0.0.1:5000/a/b:v2");
    cr_expect_eq(r.with_digest("sha256:" + std::string(64, 'b')), "127.0.0.1:5000/a/b@sha256:" + std::string(64, 'b'));
}

Test(reference, length_limits) {
    // The name (domain/path) may have 255 characters, the tag 128.
    std::string path(255 - std::string("docker.io/x/").size(), 'a');
    auto r = parse_reference("x/" + path);
    cr_expect_eq(r.name().size(), 255u);
    try {
        parse_reference("x/" + path + "a");
        cr_assert_fail("a 256-character name was accepted");
    } catch (const berth::Error& e) {
        cr_expect(std::string(e.what()).find("at most 255") != std::string::npos, "%s", e.what());
    }
    cr_expect_eq(parse_reference("busybox:" + std::string(128, 't')).tag.size(), 128u);
    try {
        parse_reference("busybox:" + std::string(129, 't'));
        cr_assert_fail("a 129-character tag was accepted");
    } catch (const berth::Error& e) {
        cr_expect_eq(e.err(), EINVAL);
    }
}

Test(reference, rejects_bad_references_naming_them) {
    const Bad cases[] = {
        {"", "empty"},
        {"Busybox", "must be lowercase"},
        {"docker.io/Library/busybox", "must be lowercase"},
        {"busybox:", "empty tag"},
        {"busybox:-tag", "invalid tag"},
        {"busybox:.tag", "invalid tag"},
        {"busybox:ta/g", "invalid port in domain \"busybox:ta\""},
        {"a_b.io/x", "invalid domain"},
        {"busybox:a:b", "invalid tag"},
        {"bus box", "space"},
        {"busybox\n", "control"},
        {"busybox@sha256:abc", "invalid digest"},
        {"busybox@sha256:" + std::string(64, 'A'), "invalid digest"},
        {"busybox@sha512:" + std::string(128, 'a'), "unsupported digest algorithm"},
        {"busybox@", "empty digest"},
        {"@" + D, "missing repository name"},
        {"localhost/", "missing repository name"},
        {"foo//bar", "empty path component"},
        {"foo/", "empty path component"},
        {"/foo", "empty path component"},
        {"a/-b", "invalid path component"},
        {"a/b-", "invalid path component"},
        {"a/b...c", "invalid path component"},
        {"a/b___c", "invalid path component"},
        {"a/b._c", "invalid path component"},
        {"a/../b", "invalid path component"},
        {"-host.io/a", "invalid domain"},
        {"host-.io/a", "invalid domain"},
        {"ho_st.io/a", "invalid domain"},
        {"host.io:/a", "empty port"},
        {"host.io:50x0/a", "invalid port"},
        {"[::1/a", "IPv6"},
        {"[zz::1]:5000/a", "IPv6"},
        {std::string(64, 'e'), "image id"},
    };
    for (const auto& c : cases) {
        try {
            auto r = parse_reference(c.in);
            cr_expect_fail("\"%s\" was accepted as %s", c.in.c_str(), r.str().c_str());
        } catch (const berth::Error& e) {
            std::string m = e.what();
            cr_expect_eq(e.err(), EINVAL, "%s", m.c_str());
            cr_expect(m.find("invalid image reference \"") == 0, "%s: the message names the reference: %s", c.in.c_str(),
                      m.c_str());
            cr_expect(m.find(c.why) != std::string::npos, "\"%s\": expected \"%s\" in: %s", c.in.c_str(), c.why,
                      m.c_str());
        }
    }
}

Test(reference, image_ids) {
    using berth::image::looks_like_image_id;
    cr_expect(looks_like_image_id(std::string(64, 'a')));
    cr_expect(looks_like_image_id("sha256:" + std::string(64, '0')));
    cr_expect_not(looks_like_image_id(std::string(63, 'a')));
    cr_expect_not(looks_like_image_id(std::string(64, 'A')));
    cr_expect_not(looks_like_image_id("sha256:" + std::string(65, 'a')));
    cr_expect_not(looks_like_image_id("busybox"));
    cr_expect_not(looks_like_image_id("sha512:" + std::string(64, 'a')));
}
