// libFuzzer target for spec/json alone: parse a Document, walk every node
// with every typed accessor (each may throw berth::Error, nothing else), check
// the accessors agree with each other, then write the tree back with Writer,
// parse that and require the same tree.
#include "error.hpp"
#include "json.hpp"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

using berth::json::Document;
using berth::json::Value;
using berth::json::Writer;

namespace {

[[noreturn]] void finding(const Value& v, const char* what) {
    std::fprintf(stderr, "fuzz_json: %s: %s\n", v.path().empty() ? "(root)" : v.path().c_str(), what);
    __builtin_trap();
}

template <class Fn>
auto attempt(Fn&& fn) -> std::optional<decltype(fn())> {
    try {
        return fn();
    } catch (const berth::Error&) {
        return std::nullopt;
    }
}

// Call every accessor on v and recurse into children.
void walk(const Value& v) {
    int kinds = v.is_null() + v.is_object() + v.is_array() + v.is_string() + v.is_number() + v.is_bool();
    if (kinds != 1) finding(v, "not exactly one type");

    auto s = attempt([&] { return v.as_string(); });
    if (s.has_value() != v.is_string()) finding(v, "as_string disagrees with is_string");
    auto b = attempt([&] { return v.as_bool(); });
    if (b.has_value() != v.is_bool()) finding(v, "as_bool disagrees with is_bool");

    auto i64 = attempt([&] { return v.as_int64(); });
    auto u64 = attempt([&] { return v.as_uint64(); });
    auto u32 = attempt([&] { return v.as_uint32(); });
    auto u16 = attempt([&] { return v.as_uint16(); });
    auto i32 = attempt([&] { return v.as_int32(); });
    auto d = attempt([&] { return v.as_double(); });
    if ((i64 || u64 || u32 || u16 || i32 || d) && !v.is_number()) finding(v, "number accessor on a non-number");
    // A narrower type that accepts a value implies the wider ones do, with the same value.
    if (u16 && (!u32 || *u32 != *u16)) finding(v, "as_uint16 without as_uint32");
    if (u32 && (!u64 || *u64 != *u32)) finding(v, "as_uint32 without as_uint64");
    if (i32 && (!i64 || *i64 != *i32)) finding(v, "as_int32 without as_int64");
    if (u64 && i64 && static_cast<uint64_t>(*i64) != *u64) finding(v, "as_int64 and as_uint64 differ");
    // ("-0" is an int64 but not a uint64, as with Go's ParseUint.)
    if (i64 && *i64 > 0 && !u64) finding(v, "positive int64 rejected by as_uint64");

    auto arr = attempt([&] { return v.as_array(); });
    if (arr.has_value() != v.is_array()) finding(v, "as_array disagrees with is_array");
    auto sarr = attempt([&] { return v.as_string_array(); });
    if (sarr && !arr) finding(v, "as_string_array on a non-array");
    auto smap = attempt([&] { return v.as_string_map(); });
    if (smap && !v.is_object()) finding(v, "as_string_map on a non-object");
    auto mem = attempt([&] { return v.members(); });
    if (mem.has_value() != v.is_object()) finding(v, "members disagrees with is_object");

    // Object lookups accept objects and null, and throw for anything else.
    bool lookups_ok = v.is_object() || v.is_null();
    auto got = attempt([&] { return v.get("type"); });
    auto found = attempt([&] { return v.find("type"); });
    auto has = attempt([&] { return v.has("type"); });
    if (got.has_value() != lookups_ok || found.has_value() != lookups_ok || has.has_value() != lookups_ok)
        finding(v, "get/find/has disagree with the node type");
    if (has && (*has != found->has_value() || *has != !got->is_null())) finding(v, "get/find/has disagree");

    if (arr) {
        if (sarr && sarr->size() != arr->size()) finding(v, "as_string_array size");
        for (auto& e : *arr) walk(e);
    }
    if (mem) {
        for (auto& m : *mem) {
            const std::string& k = m.first;   // clang 14 cannot capture a structured binding
            if (!attempt([&] { return v.get(k); })) finding(m.second, "get() of a member key throws");
            walk(m.second);
        }
    }
}

struct Skip {};

// Write v back. Numbers keep their kind: integer text as integers, the rest
// as doubles (yajl writes enough digits to read back the same double).
void emit(Writer& w, const Value& v) {
    if (v.is_null()) w.null();
    else if (v.is_bool()) w.boolean(v.as_bool());
    else if (v.is_string()) w.string(v.as_string());
    else if (v.is_number()) {
        if (auto i = attempt([&] { return v.as_int64(); })) w.int64(*i);
        else if (auto u = attempt([&] { return v.as_uint64(); })) w.uint64(*u);
        else if (auto d = attempt([&] { return v.as_double(); })) w.number(*d);
        else throw Skip{};   // out of range for everything: nothing to compare
    } else if (v.is_array()) {
        w.begin_array();
        for (auto& e : v.as_array()) emit(w, e);
        w.end_array();
    } else {
        w.begin_object();
        for (auto& [k, e] : v.members()) {
            w.key(k);
            emit(w, e);
        }
        w.end_object();
    }
}

bool same_number(const Value& a, const Value& b) {
    auto ai = attempt([&] { return a.as_int64(); });
    auto au = attempt([&] { return a.as_uint64(); });
    if (ai) return attempt([&] { return b.as_int64(); }) == ai;
    if (au) return attempt([&] { return b.as_uint64(); }) == au;
    return attempt([&] { return b.as_double(); }) == attempt([&] { return a.as_double(); });
}

bool same(const Value& a, const Value& b) {
    if (a.is_null() || a.is_bool() || a.is_string()) {
        if (a.is_null()) return b.is_null();
        if (a.is_bool()) return b.is_bool() && a.as_bool() == b.as_bool();
        return b.is_string() && a.as_string() == b.as_string();
    }
    if (a.is_number()) return b.is_number() && same_number(a, b);
    if (a.is_array()) {
        if (!b.is_array()) return false;
        auto x = a.as_array(), y = b.as_array();
        if (x.size() != y.size()) return false;
        for (size_t i = 0; i < x.size(); ++i)
            if (!same(x[i], y[i])) return false;
        return true;
    }
    if (!b.is_object()) return false;
    auto x = a.members(), y = b.members();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
        if (x[i].first != y[i].first || !same(x[i].second, y[i].second)) return false;
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::optional<Document> doc;
    try {
        doc.emplace(text, "fuzz");
    } catch (const berth::Error&) {
        return 0;
    }
    Value root = doc->root();
    walk(root);

    std::string out;
    try {
        Writer w;
        emit(w, root);
        out = w.str();
    } catch (const Skip&) {
        return 0;
    } catch (const berth::Error&) {
        return 0;   // yajl_gen refuses nesting deeper than 128; the reader allows 512
    }
    try {
        Document again(out, "rewritten");
        if (!same(root, again.root())) {
            std::fprintf(stderr, "fuzz_json: rewritten document differs:\n%s\n", out.c_str());
            __builtin_trap();
        }
    } catch (const berth::Error& e) {
        std::fprintf(stderr, "fuzz_json: rewritten document does not parse: %s\n%s\n", e.what(), out.c_str());
        __builtin_trap();
    }
    return 0;
}
