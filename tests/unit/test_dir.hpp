// A temp directory per test, made by the suite's .init and removed by its
// .fini: Criterion runs .fini even when a cr_assert aborts the test, which
// skips destructors (a RAII temp dir would be left behind).
//   TestSuite(name, .init = make_test_dir, .fini = remove_test_dir);
#pragma once

#include <criterion/criterion.h>

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

inline std::string& test_dir() {
    static std::string dir;
    return dir;
}

inline void make_test_dir() {
    char tmpl[] = "/tmp/berth-unit-XXXXXX";
    if (!::mkdtemp(tmpl)) cr_assert_fail("mkdtemp: %s", std::strerror(errno));
    test_dir() = tmpl;
}

inline void remove_test_dir() {
    std::error_code ec;
    if (!test_dir().empty()) std::filesystem::remove_all(test_dir(), ec);
}
