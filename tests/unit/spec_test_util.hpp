// Helpers shared by the spec unit tests.
#pragma once

#include <criterion/criterion.h>

#include "error.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

// Expect fn to throw a berth::Error whose message contains `want`. Uses
// cr_expect, not cr_assert, so a failure does not longjmp past destructors
// (temp bundles still get removed).
template <class Fn>
void expect_error(Fn&& fn, const char* want) {
    try {
        fn();
    } catch (const berth::Error& e) {
        cr_expect(std::strstr(e.what(), want) != nullptr, "error \"%s\" does not contain \"%s\"", e.what(), want);
        return;
    }
    cr_expect(false, "no error thrown, wanted one containing \"%s\"", want);
}

// Expect fn not to throw; report the message if it does.
template <class Fn>
void expect_ok(Fn&& fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        cr_expect(false, "unexpected error: %s", e.what());
    }
}

// A bundle directory under /tmp with an empty rootfs/, removed on destruction.
class TempBundle {
public:
    TempBundle() {
        char tmpl[] = "/tmp/berth-unit-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) cr_assert_fail("mkdtemp: %s", std::strerror(errno));
        path_ = tmpl;
        if (::mkdir((path_ + "/rootfs").c_str(), 0755) < 0) cr_assert_fail("mkdir rootfs: %s", std::strerror(errno));
    }
    ~TempBundle() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempBundle(const TempBundle&) = delete;
    TempBundle& operator=(const TempBundle&) = delete;

    const std::string& path() const { return path_; }

private:
    std::string path_;
};
