// berthctl's CRI log reader (cri/ctl/cri_log_reader.hpp): the record
// format, partial records joined into one line per stream, --tail and
// --since on joined lines, bytes fed mid-line, malformed lines skipped; and
// a file written by berth-shim's own CRI log writer read back whole.
#include <criterion/criterion.h>

#include "cri_log.hpp"
#include "cri_log_reader.hpp"
#include "test_dir.hpp"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace berth;
using namespace berth::ctl;

namespace {

std::vector<LogLine> read_all(const std::string& text) {
    LogParser p;
    std::vector<LogLine> out;
    p.feed(text, out);
    p.finish(out);
    return out;
}

} // namespace

TestSuite(berthctl_cri_log, .init = make_test_dir, .fini = remove_test_dir);

Test(berthctl_cri_log, record_format) {
    auto e = parse_cri_log_line("2016-10-06T00:17:09.669794202Z stdout F log content 1");
    cr_assert(e.has_value());
    cr_expect_eq(e->time_ns, 1475713029669794202LL);
    cr_expect(!e->is_stderr);
    cr_expect(!e->partial);
    cr_expect_eq(e->content, "log content 1");
    e = parse_cri_log_line("2016-10-06T00:17:09.669794203Z stderr P ");
    cr_assert(e.has_value());
    cr_expect(e->is_stderr && e->partial && e->content.empty());
    // Offsets and no fraction.
    cr_expect_eq(*parse_rfc3339("2016-10-06T02:17:09+02:00"), 1475713029000000000LL);
    cr_expect(!parse_cri_log_line("garbage").has_value());
    cr_expect(!parse_cri_log_line("2016-10-06T00:17:09Z stdin F x").has_value());
    cr_expect(!parse_cri_log_line("2016-10-06T00:17:09Z stdout X x").has_value());
}

Test(berthctl_cri_log, partial_records_join_per_stream) {
    auto lines = read_all("2024-01-01T00:00:01Z stdout P hel\n"
                          "2024-01-01T00:00:02Z stderr F err line\n"
                          "2024-01-01T00:00:03Z stdout P lo \n"
                          "2024-01-01T00:00:04Z stdout F world\n"
                          "not a record\n"
                          "2024-01-01T00:00:05Z stdout F \n");
    cr_assert_eq(lines.size(), 3u);
    cr_expect_eq(lines[0].text, "err line");
    cr_expect(lines[0].is_stderr);
    cr_expect_eq(lines[1].text, "hello world");
    cr_expect_eq(lines[1].time, "2024-01-01T00:00:01Z");   // the first piece's time
    cr_expect_eq(lines[2].text, "");
    cr_expect_eq(format_line(lines[1], true), "2024-01-01T00:00:01Z hello world\n");
    cr_expect_eq(format_line(lines[1], false), "hello world\n");
}

Test(berthctl_cri_log, bytes_fed_mid_record) {
    std::string text = "2024-01-01T00:00:01Z stdout P ab\n2024-01-01T00:00:02Z stdout F cd\n"
                       "2024-01-01T00:00:03Z stdout F ef\n";
    LogParser p;
    std::vector<LogLine> out;
    for (char c : text) p.feed(std::string_view(&c, 1), out);
    cr_assert_eq(out.size(), 2u);
    cr_expect_eq(out[0].text, "abcd");
    cr_expect_eq(out[1].text, "ef");
    cr_expect_eq(p.malformed(), 0u);
}

Test(berthctl_cri_log, unfinished_partial_at_the_end) {
    auto lines = read_all("2024-01-01T00:00:01Z stdout F a\n2024-01-01T00:00:02Z stdout P tail\n");
    cr_assert_eq(lines.size(), 2u);
    cr_expect(!lines[1].complete);
    cr_expect_eq(format_line(lines[1], false), "tail");
}

Test(berthctl_cri_log, tail_and_since_count_joined_lines) {
    auto lines = read_all("2024-01-01T00:00:01Z stdout F one\n"
                          "2024-01-01T00:00:02Z stdout P tw\n"
                          "2024-01-01T00:00:03Z stdout F o\n"
                          "2024-01-01T00:00:04Z stderr F three\n"
                          "2024-01-01T00:00:05Z stdout F four\n");
    LogOptions o;
    o.tail = 2;
    auto t = select_lines(lines, o);
    cr_assert_eq(t.size(), 2u);
    cr_expect_eq(t[0].text, "three");
    cr_expect_eq(t[1].text, "four");
    o.tail = 3;
    t = select_lines(lines, o);
    cr_expect_eq(t[0].text, "two");
    o.tail = 0;
    cr_expect_eq(select_lines(lines, o).size(), 0u);
    o.tail = -1;
    o.since_ns = *parse_rfc3339("2024-01-01T00:00:02Z");
    t = select_lines(lines, o);
    cr_assert_eq(t.size(), 3u);
    cr_expect_eq(t[0].text, "two");
    // Relative --since.
    int64_t now = *parse_rfc3339("2024-01-01T01:00:00Z");
    cr_expect_eq(parse_since("1h", now), *parse_rfc3339("2024-01-01T00:00:00Z"));
    cr_expect_eq(parse_since("1m30s", now), *parse_rfc3339("2024-01-01T00:58:30Z"));
    cr_expect_eq(parse_since("2024-01-01T00:00:03Z", now), *parse_rfc3339("2024-01-01T00:00:03Z"));
    bool threw = false;
    try {
        parse_since("yesterday", now);
    } catch (const std::exception&) {
        threw = true;
    }
    cr_expect(threw);
}

// berth-shim writes a 40 KiB line as P pieces of 16 KiB and an F; an
// interleaved stderr line stays apart. Read back: the same two lines.
Test(berthctl_cri_log, reads_what_berth_shim_writes) {
    std::string path = test_dir() + "/0.log";
    std::string big(40 * 1024, 'x');
    big[100] = 'y';
    {
        shim::CriLog log(path);
        log.write(shim::Stream::stdout_, big.substr(0, 20000));
        log.write(shim::Stream::stderr_, "oops\n");
        log.write(shim::Stream::stdout_, big.substr(20000) + "\n");
    }
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    cr_assert(ss.str().find(" stdout P ") != std::string::npos, "the writer split the line");
    auto lines = read_all(ss.str());
    cr_assert_eq(lines.size(), 2u);
    cr_expect_eq(lines[0].text, "oops");
    cr_expect(lines[0].is_stderr);
    cr_expect(lines[1].text == big, "the 40 KiB line comes back whole (%zu bytes)", lines[1].text.size());
}
