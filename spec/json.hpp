// A thin C++ layer over yajl: a read-only tree (yajl_tree) that tracks the
// JSON path of every node for error messages, and a streaming writer
// (yajl_gen). Parse errors name the path: "process.user.uid: expected
// unsigned integer".
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

typedef struct yajl_val_s* yajl_val;
typedef struct yajl_gen_t* yajl_gen;

namespace berth::json {

// Owns a parsed document. Throws berth::Error(EINVAL, "<what>: <yajl message>")
// on malformed input; `what` names the file or stream (empty: no prefix).
// Rejects what yajl_tree would silently get wrong: NUL bytes, "\u0000" in
// strings (yajl_tree truncates there) and nesting deeper than 512 (its free
// recurses).
class Document;

// A node of a parsed document plus its JSON path (e.g. "linux.namespaces[2].type").
// Cheap to copy; valid while its Document lives.
class Value {
public:
    Value(yajl_val v, std::string path) : v_(v), path_(std::move(path)) {}

    const std::string& path() const { return path_; }
    bool is_null() const;
    bool is_object() const;
    bool is_array() const;
    bool is_string() const;
    bool is_number() const;
    bool is_bool() const;

    // Typed accessors: throw Error(EINVAL, "<path>: expected <type>"), or
    // "<path>: missing" when the key is absent. Integers must be written as
    // integers (no fraction or exponent); out of range values are rejected.
    std::string as_string() const;
    bool as_bool() const;
    int64_t as_int64() const;
    uint64_t as_uint64() const;       // rejects negatives and fractions
    uint32_t as_uint32() const;       // rejects values out of range
    uint16_t as_uint16() const;
    int32_t as_int32() const;
    double as_double() const;
    std::vector<Value> as_array() const;
    std::vector<std::string> as_string_array() const;
    std::map<std::string, std::string> as_string_map() const;

    // Object access. get() returns a Value that is_null() when absent.
    // find() is get() for optional keys: nullopt when absent or null, and no
    // path is built for them. All three throw unless this is an object (or
    // null, which reads as an empty object).
    Value get(std::string_view key) const;
    std::optional<Value> find(std::string_view key) const;
    bool has(std::string_view key) const;   // present and not null
    std::vector<std::pair<std::string, Value>> members() const;   // throws unless object

    // Throw Error(EINVAL, "<path>: <msg>") for a bad value found by the caller.
    [[noreturn]] void fail(std::string_view msg) const;

private:
    friend class Writer;
    yajl_val v_;
    std::string path_;
};

class Document {
public:
    // Parse text; `what` names the source for errors (e.g. "config.json").
    Document(std::string_view text, std::string_view what);
    ~Document();
    Document(Document&&) noexcept;
    Document& operator=(Document&&) noexcept;
    Document(const Document&) = delete;
    Document& operator=(const Document&) = delete;

    Value root() const;

private:
    yajl_val root_ = nullptr;
};

// Streaming writer. Methods return *this so calls chain.
class Writer {
public:
    explicit Writer(bool pretty = false);
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    Writer& begin_object();
    Writer& end_object();
    Writer& begin_array();
    Writer& end_array();
    Writer& key(std::string_view k);
    Writer& string(std::string_view s);
    Writer& int64(int64_t n);
    Writer& uint64(uint64_t n);
    Writer& number(double d);
    Writer& boolean(bool b);
    Writer& null();
    // Convenience: key + value.
    Writer& kv(std::string_view k, std::string_view v) { return key(k).string(v); }
    Writer& kv(std::string_view k, const char* v) { return key(k).string(v); }
    Writer& kv(std::string_view k, int64_t v) { return key(k).int64(v); }
    Writer& kv(std::string_view k, uint64_t v) { return key(k).uint64(v); }
    Writer& kv(std::string_view k, int v) { return key(k).int64(v); }
    Writer& kv(std::string_view k, unsigned v) { return key(k).uint64(v); }
    Writer& kv(std::string_view k, bool v) { return key(k).boolean(v); }
    Writer& string_array(const std::vector<std::string>& v);
    Writer& string_map(const std::map<std::string, std::string>& m);
    // A parsed value, whole (numbers as their text, so nothing is rounded);
    // for documents passed on with keys added, as CNI configs are.
    Writer& value(const Value& v);

    // The text written so far (complete once the outermost value is closed;
    // pretty output then ends with a newline).
    std::string str() const;

private:
    yajl_gen g_;
};

} // namespace berth::json
