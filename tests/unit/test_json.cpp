// spec/json: typed access with JSON paths in errors, integer ranges,
// malformed input, and the writer.
#include "spec_test_util.hpp"

#include "json.hpp"

#include <cstdint>
#include <limits>
#include <string>

using berth::json::Document;
using berth::json::Value;
using berth::json::Writer;

namespace {

Value field(const Document& d, const char* key) { return d.root().get(key); }

} // namespace

Test(json, top_level_path_has_no_prefix) {
    Document d(R"({"ociVersion": 1})", "t");
    Value v = d.root().get("ociVersion");
    cr_expect_eq(v.path(), std::string("ociVersion"));
    expect_error([&] { v.as_string(); }, "ociVersion: expected string");
}

Test(json, nested_paths_name_the_field) {
    Document d(R"({"linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": 5}]}})", "t");
    auto nss = d.root().get("linux").get("namespaces").as_array();
    cr_assert_eq(nss.size(), 3u);
    cr_expect_eq(nss[0].get("type").as_string(), std::string("pid"));
    expect_error([&] { nss[2].get("type").as_string(); }, "linux.namespaces[2].type: expected string");
}

Test(json, type_errors) {
    Document d(R"({"s": "x", "n": 1, "b": true, "a": [], "o": {}, "z": null})", "t");
    expect_error([&] { field(d, "s").as_int64(); }, "s: expected integer");
    expect_error([&] { field(d, "n").as_string(); }, "n: expected string");
    expect_error([&] { field(d, "s").as_bool(); }, "s: expected boolean");
    expect_error([&] { field(d, "o").as_array(); }, "o: expected array");
    expect_error([&] { field(d, "a").members(); }, "a: expected object");
    expect_error([&] { field(d, "a").get("k"); }, "a: expected object");
    expect_error([&] { field(d, "b").as_double(); }, "b: expected number");
    expect_error([&] { field(d, "z").as_string(); }, "z: expected string");
    expect_error([&] { field(d, "absent").as_string(); }, "absent: missing");
    cr_expect(field(d, "b").as_bool());
    cr_expect(field(d, "z").is_null());
    cr_expect(field(d, "absent").is_null());
    cr_expect(!d.root().has("z"));
    cr_expect(d.root().has("o"));
    // get() through an absent object is absent, so lookups chain.
    cr_expect(field(d, "absent").get("deeper").is_null());
    cr_expect_eq(field(d, "absent").get("deeper").path(), std::string("absent.deeper"));
}

Test(json, errors_carry_einval) {
    Document d(R"({"n": "x"})", "t");
    try {
        field(d, "n").as_uint32();
        cr_expect(false, "no error");
    } catch (const berth::Error& e) {
        cr_expect_eq(e.err(), EINVAL);
        cr_expect_eq(e.context(), std::string("n: expected unsigned integer"));
    }
}

Test(json, uint64_full_range) {
    Document d(R"({"max": 18446744073709551615, "over": 18446744073709551616, "zero": 0})", "t");
    cr_expect_eq(field(d, "max").as_uint64(), std::numeric_limits<uint64_t>::max());
    cr_expect_eq(field(d, "zero").as_uint64(), 0u);
    expect_error([&] { field(d, "over").as_uint64(); }, "over: 18446744073709551616 out of range for uint64");
    expect_error([&] { field(d, "max").as_int64(); }, "max: 18446744073709551615 out of range for int64");
}

Test(json, int64_full_range) {
    Document d(R"({"min": -9223372036854775808, "max": 9223372036854775807, "under": -9223372036854775809})", "t");
    cr_expect_eq(field(d, "min").as_int64(), std::numeric_limits<int64_t>::min());
    cr_expect_eq(field(d, "max").as_int64(), std::numeric_limits<int64_t>::max());
    expect_error([&] { field(d, "under").as_int64(); }, "under: -9223372036854775809 out of range for int64");
}

Test(json, negative_rejected_for_unsigned) {
    Document d(R"({"a": {"uid": -1}, "z": -0})", "t");
    Value uid = field(d, "a").get("uid");
    expect_error([&] { uid.as_uint64(); }, "a.uid: expected unsigned integer");
    expect_error([&] { uid.as_uint32(); }, "a.uid: expected unsigned integer");
    expect_error([&] { uid.as_uint16(); }, "a.uid: expected unsigned integer");
    cr_expect_eq(uid.as_int64(), -1);
    cr_expect_eq(uid.as_int32(), -1);
}

Test(json, narrow_ranges) {
    Document d(R"({"u32": 4294967295, "u32over": 4294967296, "u16over": 65536,
                   "i32min": -2147483648, "i32under": -2147483649, "i32over": 2147483648})", "t");
    cr_expect_eq(field(d, "u32").as_uint32(), 4294967295u);
    expect_error([&] { field(d, "u32over").as_uint32(); }, "u32over: 4294967296 out of range for uint32");
    expect_error([&] { field(d, "u16over").as_uint16(); }, "u16over: 65536 out of range for uint16");
    cr_expect_eq(field(d, "i32min").as_int32(), std::numeric_limits<int32_t>::min());
    expect_error([&] { field(d, "i32under").as_int32(); }, "i32under: -2147483649 out of range for int32");
    expect_error([&] { field(d, "i32over").as_int32(); }, "i32over: 2147483648 out of range for int32");
}

Test(json, integers_reject_fractions_and_exponents) {
    Document d(R"({"f": 1.5, "whole": 1.0, "e": 1e3, "E": 2E1})", "t");
    expect_error([&] { field(d, "f").as_int64(); }, "f: expected integer");
    expect_error([&] { field(d, "whole").as_uint64(); }, "whole: expected unsigned integer");
    expect_error([&] { field(d, "e").as_int32(); }, "e: expected integer");
    expect_error([&] { field(d, "E").as_uint32(); }, "E: expected unsigned integer");
    cr_expect_eq(field(d, "f").as_double(), 1.5);
    cr_expect_eq(field(d, "e").as_double(), 1000.0);
}

Test(json, string_array_and_map) {
    Document d(R"({"a": ["x", "y"], "bad": ["x", 2], "m": {"k": "v", "net.ipv4.ip_forward": "1"},
                   "badm": {"net.core.somaxconn": 1}, "badk": {"ok": "v", "bad": []}})", "t");
    auto a = field(d, "a").as_string_array();
    cr_assert_eq(a.size(), 2u);
    cr_expect_eq(a[1], std::string("y"));
    expect_error([&] { field(d, "bad").as_string_array(); }, "bad[1]: expected string");
    auto m = field(d, "m").as_string_map();
    cr_expect_eq(m.at("net.ipv4.ip_forward"), std::string("1"));
    // Keys that are not identifiers are quoted so their dots don't read as nesting.
    expect_error([&] { field(d, "badm").as_string_map(); }, R"(badm["net.core.somaxconn"]: expected string)");
    expect_error([&] { field(d, "badk").as_string_map(); }, "badk.bad: expected string");
}

Test(json, find_skips_absent_and_null) {
    Document d(R"({"o": {"k": "v", "z": null}, "s": "x"})", "t");
    Value o = field(d, "o");
    std::optional<Value> k = o.find("k");
    cr_assert(k.has_value());
    cr_expect_eq(k->path(), std::string("o.k"));
    cr_expect(!o.find("z").has_value());
    cr_expect(!o.find("absent").has_value());
    cr_expect(!field(d, "absent").find("k").has_value());
    expect_error([&] { field(d, "s").find("k"); }, "s: expected object");
    expect_error([&] { field(d, "s").has("k"); }, "s: expected object");
}

Test(json, members_keep_order_and_paths) {
    Document d(R"({"o": {"b": 1, "a": 2}})", "t");
    auto ms = field(d, "o").members();
    cr_assert_eq(ms.size(), 2u);
    cr_expect_eq(ms[0].first, std::string("b"));
    cr_expect_eq(ms[1].second.path(), std::string("o.a"));
    cr_expect_eq(ms[1].second.as_int64(), 2);
}

Test(json, duplicate_key_last_wins) {
    Document d(R"({"k": 1, "k": 2})", "t");
    cr_expect_eq(field(d, "k").as_int64(), 2);
}

Test(json, fail_names_path) {
    Document d(R"({"x": {"y": "z"}})", "t");
    expect_error([&] { field(d, "x").get("y").fail("bad value"); }, "x.y: bad value");
}

Test(json, malformed_input_names_source_on_one_line) {
    const char* bad[] = {R"({"a":1,x})", "", "   ", R"({"a":)", "1 2", R"({"a" 1})", "[1,]"};
    for (const char* text : bad) {
        try {
            Document d(text, "config.json");
            cr_expect(false, "parsed malformed input '%s'", text);
        } catch (const berth::Error& e) {
            cr_expect_eq(e.err(), EINVAL);
            cr_expect(std::string(e.what()).starts_with("config.json: "), "got: %s", e.what());
            cr_expect(std::strstr(e.what(), "error") != nullptr, "got: %s", e.what());
            cr_expect(std::strchr(e.what(), '\n') == nullptr, "multi-line: %s", e.what());
        }
    }
    expect_error([] { Document d("", "config.json"); }, "config.json: parse error: premature EOF");
    expect_error([] { Document d("1 2", "x.json"); }, "x.json: parse error: trailing garbage");
}

Test(json, empty_what_has_no_prefix) {
    try {
        Document d("{", "");
        cr_expect(false, "no error");
    } catch (const berth::Error& e) {
        cr_expect(std::string(e.context()).starts_with("parse error"), "got: %s", e.what());
    }
}

Test(json, rejects_what_yajl_tree_would_truncate) {
    using namespace std::string_literals;
    expect_error([] { Document d("{\"a\": \"x\0y\"}"s, "t"); }, "t: parse error: NUL byte at line 1, column 9");
    expect_error([] { Document d(R"({"a": "x\u0000y"})", "t"); }, "t: parse error: \\u0000 in a string is not supported");
    // An escaped backslash followed by "u0000" is plain text.
    Document ok(R"({"a": "x\\u0000y"})", "t");
    cr_expect_eq(field(ok, "a").as_string(), std::string("x\\u0000y"));
}

Test(json, deep_nesting_rejected) {
    std::string deep(100000, '[');
    expect_error([&] { Document d(deep, "t"); }, "t: parse error: nesting deeper than 512");
    std::string fine = std::string(100, '[') + std::string(100, ']');
    expect_ok([&] { Document d(fine, "t"); });
    // Brackets inside strings and comments do not count.
    std::string quoted = "[\"" + std::string(1000, '[') + "\"] /* " + std::string(1000, '{') + " */";
    expect_ok([&] { Document d(quoted, "t"); });
}

Test(json, document_moves) {
    Document a(R"({"k": "v"})", "t");
    Document b(std::move(a));
    cr_expect_eq(b.root().get("k").as_string(), std::string("v"));
    Document c("[]", "t");
    c = std::move(b);
    cr_expect_eq(c.root().get("k").as_string(), std::string("v"));
}

Test(json, writer_compact) {
    Writer w;
    w.begin_object()
        .kv("s", "a\"b\\c\n")
        .kv("i", int64_t{-5})
        .kv("u", std::numeric_limits<uint64_t>::max())
        .kv("b", false)
        .key("n").null()
        .key("arr").string_array({"x", "y"})
        .key("map").string_map({{"k", "v"}})
        .key("d").number(0.5)
        .end_object();
    cr_expect_eq(w.str(), std::string(R"({"s":"a\"b\\c\n","i":-5,"u":18446744073709551615,"b":false,"n":null,)"
                                      R"("arr":["x","y"],"map":{"k":"v"},"d":0.5})"));
}

Test(json, writer_output_parses_back) {
    Writer w(true);
    w.begin_object().kv("path", "/a/b").kv("max", std::numeric_limits<uint64_t>::max()).end_object();
    std::string s = w.str();
    cr_expect(s.find('\n') != std::string::npos, "pretty output on one line: %s", s.c_str());
    cr_expect(s.find("\"/a/b\"") != std::string::npos, "solidus escaped: %s", s.c_str());
    Document d(s, "t");
    cr_expect_eq(field(d, "max").as_uint64(), std::numeric_limits<uint64_t>::max());
    cr_expect_eq(field(d, "path").as_string(), std::string("/a/b"));
}

Test(json, writer_misuse_throws) {
    Writer w;
    w.begin_object();
    expect_error([&] { w.int64(1); }, "json writer: keys must be strings");
    Writer w2;
    expect_error([&] { w2.number(std::numeric_limits<double>::infinity()); }, "json writer: invalid number");
}

// A syntax error names the line and column of the token yajl stopped at,
// not the file's first bytes (which yajl_tree quotes).
Test(json, syntax_errors_name_line_and_column) {
    const char* config = "{\n  \"ociVersion\": \"1.2.0\",\n  \"process\": {\n    \"args\": [\"sh\"]\n    \"cwd\": \"/\"\n  }\n}\n";
    expect_error([&] { Document d(config, "config.json"); },
                 "config.json: parse error: after key and value, inside map, I expect ',' or '}' at line 5, column 5");
    expect_error([] { Document d("{\"a\": 1,\n \"b\" 2}", "t"); }, "at line 2, column 6");
    expect_error([] { Document d("{\"a\":\n  tru}", "t"); }, "t: lexical error: invalid string in json text. at line 2, column 3");
    expect_error([] { Document d("{\"a\": [1, 2,\n", "t"); }, "t: parse error: premature EOF at line 2, column 1");
    expect_error([] { Document d("{\"a\": 1}\n\n}", "t"); }, "t: parse error: trailing garbage at line 3, column 1");
    // Columns count characters, not bytes.
    expect_error([] { Document d("{\"é\": ]}", "t"); }, "at line 1, column 7");
}
