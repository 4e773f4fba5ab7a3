// berth-shim's CRI log (shim/io/cri_log.hpp): the record format kubelet
// parses, line splitting at max_line (P pieces, then F), unterminated
// tails, the two streams in one file, and reopen after a rename; and the
// binary:// logger's argument list.
#include <criterion/criterion.h>

#include "binary_logger.hpp"
#include "cri_log.hpp"
#include "error.hpp"
#include "test_dir.hpp"
#include "file_util.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

using namespace berth;
using namespace berth::shim;

namespace {


// A fixed clock: every record at 2026-11-23T00:35:13.000000042Z.
CriLog::Clock fixed_clock() {
    return [] {
        timespec t{};
        t.tv_sec = 1795394113;
        t.tv_nsec = 42;
        return t;
    };
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        cr_assert_neq(nl, std::string::npos, "every record ends in a newline");
        out.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}

const std::string stamp = "2026-11-23T00:35:13.000000042Z ";

void expect_eq(const std::string& got, const std::string& want, const char* what = "") {
    cr_assert(got == want, "%s: got `%s`, want `%s`", what, got.c_str(), want.c_str());
}

} // namespace

TestSuite(cri_log, .init = make_test_dir, .fini = remove_test_dir);
TestSuite(binary_logger, .init = make_test_dir, .fini = remove_test_dir);

Test(cri_log, record_format) {
    timespec t{};
    t.tv_sec = 0;
    t.tv_nsec = 123456789;
    expect_eq(cri_record(t, Stream::stdout_, false, "hello"), "1970-01-01T00:00:00.123456789Z stdout F hello\n");
    expect_eq(cri_record(t, Stream::stderr_, true, ""), "1970-01-01T00:00:00.123456789Z stderr P \n");
}

Test(cri_log, lines_in_pieces_and_both_streams) {
    std::string path = test_dir() + "/0.log";
    CriLog log(path, fixed_clock());
    log.write(Stream::stdout_, "hel");
    log.write(Stream::stderr_, "oops\n");
    log.write(Stream::stdout_, "lo\nwor");
    log.write(Stream::stdout_, "ld\r\n\n");
    auto l = lines(read_file(path));
    cr_assert_eq(l.size(), 4u);
    expect_eq(l[0], stamp + "stderr F oops");
    expect_eq(l[1], stamp + "stdout F hello");
    expect_eq(l[2], stamp + "stdout F world", "a terminal's \\r\\n ending is dropped");
    expect_eq(l[3], stamp + "stdout F ", "an empty line is an empty F record");
}

Test(cri_log, long_line_split_into_partials) {
    std::string path = test_dir() + "/0.log";
    CriLog log(path, fixed_clock());
    std::string big;
    for (size_t i = 0; i < 40000; ++i) big.push_back(static_cast<char>('a' + i % 26));
    // Written in odd-sized pieces, as a pipe delivers it.
    for (size_t off = 0; off < big.size(); off += 7001) log.write(Stream::stdout_, std::string_view(big).substr(off, 7001));
    log.write(Stream::stdout_, "\n");
    auto l = lines(read_file(path));
    cr_assert_eq(l.size(), 3u, "40000 bytes: two 16 KiB pieces and the rest");
    std::string joined;
    for (size_t i = 0; i < l.size(); ++i) {
        std::string head = stamp + "stdout " + (i + 1 < l.size() ? "P " : "F ");
        cr_assert_eq(l[i].rfind(head, 0), 0u, "record %zu: %s", i, l[i].substr(0, 40).c_str());
        std::string content = l[i].substr(head.size());
        cr_assert_leq(content.size(), CriLog::max_line);
        joined += content;
    }
    cr_assert(joined == big, "the pieces join back to the line");
}

Test(cri_log, exactly_max_line_is_one_record) {
    std::string path = test_dir() + "/0.log";
    CriLog log(path, fixed_clock());
    std::string line(CriLog::max_line, 'x');
    log.write(Stream::stdout_, line);
    expect_eq(read_file(path), "", "held until we know whether more follows");
    log.write(Stream::stdout_, "\n");
    auto l = lines(read_file(path));
    cr_assert_eq(l.size(), 1u);
    expect_eq(l[0], stamp + "stdout F " + line);
}

Test(cri_log, unterminated_tail_is_written_at_the_end) {
    std::string path = test_dir() + "/0.log";
    CriLog log(path, fixed_clock());
    log.write(Stream::stderr_, "no newline");
    expect_eq(read_file(path), "");
    log.finish(Stream::stderr_);
    expect_eq(read_file(path), stamp + "stderr F no newline\n");
    log.finish(Stream::stderr_);
    expect_eq(read_file(path), stamp + "stderr F no newline\n", "nothing twice");
}

Test(cri_log, reopen_after_rename) {
    std::string path = test_dir() + "/0.log";
    CriLog log(path, fixed_clock());
    log.write(Stream::stdout_, "before\n");
    cr_assert_eq(::rename(path.c_str(), (path + ".1").c_str()), 0);
    log.write(Stream::stdout_, "still old\n");
    log.reopen();
    log.write(Stream::stdout_, "after\n");
    expect_eq(read_file(path + ".1"), stamp + "stdout F before\n" + stamp + "stdout F still old\n");
    expect_eq(read_file(path), stamp + "stdout F after\n");
}

Test(cri_log, unopenable_path_names_it) {
    try {
        CriLog log("/nonexistent-berth-dir/0.log");
        cr_assert_fail("opened a log in a missing directory");
    } catch (const Error& e) {
        cr_assert(std::string(e.what()).find("/nonexistent-berth-dir/0.log") != std::string::npos, "%s", e.what());
    }
}

Test(binary_logger, argv_from_uri) {
    auto a = binary_logger_argv("binary:///usr/bin/logger?--tag=my%20app&-v&--out=%2Ftmp%2Fx");
    std::vector<std::string> want{"/usr/bin/logger", "--tag", "my app", "-v", "--out", "/tmp/x"};
    cr_assert_eq(a.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) cr_assert_str_eq(a[i].c_str(), want[i].c_str());
    cr_assert_eq(binary_logger_argv("binary:///bin/log").size(), 1u);
}

Test(binary_logger, bad_uris) {
    for (const char* u : {"binary://relative/log", "binary://", "file:///x", "binary:///bin/log?a=%zz"}) {
        try {
            binary_logger_argv(u);
            cr_assert_fail("accepted %s", u);
        } catch (const Error& e) {
            cr_assert_eq(e.err(), EINVAL, "%s", u);
        }
    }
}

// A logger that is not there fails at once with exec's errno, naming it
// (however fast or slow the failed child dies).
Test(binary_logger, missing_binary_fails_naming_it) {
    for (int i = 0; i < 20; ++i) {
        try {
            start_binary_logger("binary:///nonexistent/berth-logger", "c1", "ns");
            cr_assert_fail("started a logger that does not exist");
        } catch (const Error& e) {
            cr_assert_eq(e.err(), ENOENT, "%s", e.what());
            cr_assert(std::string(e.what()).find("/nonexistent/berth-logger") != std::string::npos, "%s", e.what());
        }
    }
}

// A real logger: fds 3 and 4 carry the process's output, CONTAINER_ID and
// CONTAINER_NAMESPACE its identity, the query its arguments; start returns
// once it closed fd 5.
Test(binary_logger, logger_gets_streams_env_and_args) {
    std::string script = test_dir() + "/logger.sh";
    write_file_atomic(script,
               "#!/bin/sh\n"
               "echo \"$CONTAINER_ID $CONTAINER_NAMESPACE $*\" >\"$2/env\"\n"
               "exec 5>&-\n"
               "cat <&3 >\"$2/out\" & cat <&4 >\"$2/err\" & wait\n"
               "echo done >\"$2/done\"\n");
    cr_assert_eq(::chmod(script.c_str(), 0755), 0);
    auto bl = start_binary_logger("binary://" + script + "?--dir=" + test_dir(), "c1", "ns1");
    cr_assert_gt(bl.pid, 0);
    cr_assert_eq(::write(bl.out.get(), "to out\n", 7), 7);
    cr_assert_eq(::write(bl.err.get(), "to err\n", 7), 7);
    bl.out.reset();
    bl.err.reset();
    int st = 0;
    cr_assert_eq(::waitpid(bl.pid, &st, 0), bl.pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    expect_eq(read_file(test_dir() + "/env"), "c1 ns1 --dir " + test_dir() + "\n");
    expect_eq(read_file(test_dir() + "/out"), "to out\n");
    expect_eq(read_file(test_dir() + "/err"), "to err\n");
}
