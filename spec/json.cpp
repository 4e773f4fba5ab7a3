#include "json.hpp"

#include "error.hpp"

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <type_traits>
#include <utility>

namespace berth::json {

namespace {

// yajl_tree_free recurses once per level; bound it well below the stack.
constexpr int kMaxDepth = 512;

std::string located(const std::string& path, std::string_view msg) {
    if (path.empty()) return std::string(msg);
    std::string s;
    s.reserve(path.size() + 2 + msg.size());
    s.append(path).append(": ").append(msg);
    return s;
}

bool is_identifier(std::string_view k) {
    if (k.empty() || (k[0] >= '0' && k[0] <= '9')) return false;
    for (char c : k)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    return true;
}

// "a.b" for identifier keys; a["net.ipv4.ip_forward"] for the rest, so a
// sysctl or annotation key with dots still reads as one key.
std::string key_path(const std::string& parent, std::string_view key) {
    std::string s;
    s.reserve(parent.size() + key.size() + 4);
    s.append(parent);
    if (is_identifier(key)) {
        if (!parent.empty()) s.push_back('.');
        s.append(key);
        return s;
    }
    s.append("[\"");
    for (char c : key) {
        if (c == '"' || c == '\\') s.push_back('\\');
        s.push_back(c);
    }
    s.append("\"]");
    return s;
}

std::string index_path(const std::string& parent, size_t i) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, i);
    std::string s;
    s.reserve(parent.size() + static_cast<size_t>(end - digits) + 2);
    s.append(parent).append("[").append(digits, end).append("]");
    return s;
}

// "line L, column C" (from 1; columns count characters) of a byte offset.
std::string line_column(std::string_view t, size_t off) {
    off = std::min(off, t.size());
    size_t line = 1, col = 1;
    for (size_t i = 0; i < off; ++i) {
        if (t[i] == '\n') {
            ++line;
            col = 1;
        } else if ((static_cast<unsigned char>(t[i]) & 0xC0) != 0x80) {
            ++col;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// Where yajl's parser gives up on t: yajl_tree only quotes the text around
// it, so parse again with a bare handle, which counts the bytes it took.
size_t error_offset(std::string_view t) {
    yajl_handle h = yajl_alloc(nullptr, nullptr, nullptr);
    if (h == nullptr) return t.size();
    yajl_config(h, yajl_allow_comments, 1);   // as yajl_tree_parse
    size_t off = t.size();   // premature EOF: the error is at the end
    if (yajl_parse(h, reinterpret_cast<const unsigned char*>(t.data()), t.size()) == yajl_status_error) {
        // yajl stops inside or just after the token it could not take:
        // point at the token's start.
        off = std::min(yajl_get_bytes_consumed(h), t.size());
        if (off > 0) --off;
        auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+'; };
        if (off < t.size() && t[off] == '"' && off > 0) {
            // The closing quote of a string: back to its opening one.
            size_t j = off;
            while (j > 0 && !(t[j - 1] == '"' && (j < 2 || t[j - 2] != '\\'))) --j;
            off = j > 0 ? j - 1 : 0;
        } else if (off < t.size() && word(t[off])) {
            while (off > 0 && word(t[off - 1])) --off;
            if (off > 0 && t[off - 1] == '"') --off;
        }
    } else {
        yajl_complete_parse(h);
    }
    yajl_free(h);
    return off;
}

// yajl's message without the snippet it quotes ("parse error: premature EOF").
std::string first_line(const char* msg) {
    std::string_view s(msg);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    return std::string(s.substr(0, s.find('\n')));
}

// One pass over the text for the cases yajl_tree gets silently wrong. Tracks
// strings and comments (yajl_tree allows comments) so brackets and escapes
// are only counted where they mean something.
void precheck(std::string_view t, std::string_view what) {
    auto fail = [&](std::string msg, size_t off) {
        msg += " at " + line_column(t, off);
        throw Error(EINVAL, what.empty() ? msg : std::string(what) + ": " + msg);
    };
    int depth = 0;
    for (size_t i = 0; i < t.size(); ++i) {
        char c = t[i];
        if (c == '\0') fail("parse error: NUL byte", i);
        if (c == '"') {
            for (++i; i < t.size() && t[i] != '"'; ++i) {
                if (t[i] == '\0') fail("parse error: NUL byte", i);
                if (t[i] != '\\') continue;
                if (t.substr(i + 1, 5) == "u0000") fail("parse error: \\u0000 in a string is not supported", i);
                ++i;
            }
        } else if (c == '/' && i + 1 < t.size() && t[i + 1] == '/') {
            i = t.find('\n', i);
            if (i == std::string_view::npos) return;
        } else if (c == '/' && i + 1 < t.size() && t[i + 1] == '*') {
            i = t.find("*/", i + 2);
            if (i == std::string_view::npos) return;   // yajl reports it
            ++i;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxDepth) fail("parse error: nesting deeper than " + std::to_string(kMaxDepth), i);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
}

// Integer literal check: yajl accepts fractions and exponents in any number.
bool is_integer_text(const char* r) { return std::strpbrk(r, ".eE") == nullptr; }

// Integers come from the raw text: yajl's own long long would lose the top
// half of uint64, and its double would round.
template <class T>
T parse_int(const Value& v, yajl_val n, std::string_view expected, std::string_view type_name) {
    if (n == nullptr) v.fail("missing");
    std::string wrong_type = "expected " + std::string(expected);
    if (n->type != yajl_t_number || !is_integer_text(n->u.number.r)) v.fail(wrong_type);
    const char* r = n->u.number.r;
    if (std::is_unsigned_v<T> && *r == '-') v.fail(wrong_type);
    const char* end = r + std::strlen(r);
    T out{};
    auto [p, ec] = std::from_chars(r, end, out);
    if (ec == std::errc::result_out_of_range) v.fail(std::string(r) + " out of range for " + std::string(type_name));
    if (ec != std::errc() || p != end) v.fail(wrong_type);
    return out;
}

const char* gen_error(yajl_gen_status st) {
    switch (st) {
    case yajl_gen_status_ok: return "ok";
    case yajl_gen_keys_must_be_strings: return "keys must be strings";
    case yajl_max_depth_exceeded: return "maximum depth exceeded";
    case yajl_gen_in_error_state: return "in error state";
    case yajl_gen_generation_complete: return "generation complete";
    case yajl_gen_invalid_number: return "invalid number";
    case yajl_gen_no_buf: return "no buffer";
    case yajl_gen_invalid_string: return "invalid string";
    }
    return "unknown error";
}

// A writer misuse is a bug in the caller, but report it rather than abort.
void check(yajl_gen_status st) {
    if (st != yajl_gen_status_ok) throw Error(EINVAL, std::string("json writer: ") + gen_error(st));
}

// The value under key, or nullptr; the last duplicate wins, as in Go's decoder.
yajl_val lookup(const Value& self, yajl_val v, std::string_view key) {
    if (v == nullptr || v->type == yajl_t_null) return nullptr;
    if (v->type != yajl_t_object) self.fail("expected object");
    for (size_t i = v->u.object.len; i-- > 0;)
        if (key == v->u.object.keys[i]) return v->u.object.values[i];
    return nullptr;
}

} // namespace

// ---- Value --------------------------------------------------------------

bool Value::is_null() const { return v_ == nullptr || v_->type == yajl_t_null; }
bool Value::is_object() const { return YAJL_IS_OBJECT(v_); }
bool Value::is_array() const { return YAJL_IS_ARRAY(v_); }
bool Value::is_string() const { return YAJL_IS_STRING(v_); }
bool Value::is_number() const { return YAJL_IS_NUMBER(v_); }
bool Value::is_bool() const { return YAJL_IS_TRUE(v_) || YAJL_IS_FALSE(v_); }

void Value::fail(std::string_view msg) const { throw Error(EINVAL, located(path_, msg)); }

std::string Value::as_string() const {
    if (v_ == nullptr) fail("missing");
    if (v_->type != yajl_t_string) fail("expected string");
    return v_->u.string;
}

bool Value::as_bool() const {
    if (v_ == nullptr) fail("missing");
    if (v_->type == yajl_t_true) return true;
    if (v_->type == yajl_t_false) return false;
    fail("expected boolean");
}

int64_t Value::as_int64() const { return parse_int<int64_t>(*this, v_, "integer", "int64"); }
uint64_t Value::as_uint64() const { return parse_int<uint64_t>(*this, v_, "unsigned integer", "uint64"); }
uint32_t Value::as_uint32() const { return parse_int<uint32_t>(*this, v_, "unsigned integer", "uint32"); }
uint16_t Value::as_uint16() const { return parse_int<uint16_t>(*this, v_, "unsigned integer", "uint16"); }
int32_t Value::as_int32() const { return parse_int<int32_t>(*this, v_, "integer", "int32"); }

double Value::as_double() const {
    if (v_ == nullptr) fail("missing");
    if (v_->type != yajl_t_number) fail("expected number");
    if (!(v_->u.number.flags & YAJL_NUMBER_DOUBLE_VALID)) fail(std::string(v_->u.number.r) + " out of range for double");
    return v_->u.number.d;
}

std::vector<Value> Value::as_array() const {
    if (v_ == nullptr) fail("missing");
    if (v_->type != yajl_t_array) fail("expected array");
    std::vector<Value> out;
    out.reserve(v_->u.array.len);
    for (size_t i = 0; i < v_->u.array.len; ++i) out.emplace_back(v_->u.array.values[i], index_path(path_, i));
    return out;
}

std::vector<std::string> Value::as_string_array() const {
    if (v_ == nullptr) fail("missing");
    if (v_->type != yajl_t_array) fail("expected array");
    std::vector<std::string> out;
    out.reserve(v_->u.array.len);
    for (size_t i = 0; i < v_->u.array.len; ++i) {
        yajl_val e = v_->u.array.values[i];
        // Paths are built only on error: string arrays are the bulk of a config.
        if (!YAJL_IS_STRING(e)) Value(e, index_path(path_, i)).fail("expected string");
        out.emplace_back(e->u.string);
    }
    return out;
}

std::map<std::string, std::string> Value::as_string_map() const {
    if (v_ == nullptr) fail("missing");
    if (v_->type != yajl_t_object) fail("expected object");
    std::map<std::string, std::string> out;
    for (size_t i = 0; i < v_->u.object.len; ++i) {
        yajl_val e = v_->u.object.values[i];
        if (!YAJL_IS_STRING(e)) Value(e, key_path(path_, v_->u.object.keys[i])).fail("expected string");
        out.insert_or_assign(v_->u.object.keys[i], e->u.string);   // last duplicate wins, as in Go
    }
    return out;
}

Value Value::get(std::string_view key) const { return Value(lookup(*this, v_, key), key_path(path_, key)); }

std::optional<Value> Value::find(std::string_view key) const {
    yajl_val found = lookup(*this, v_, key);
    if (found == nullptr || found->type == yajl_t_null) return std::nullopt;
    return Value(found, key_path(path_, key));
}

bool Value::has(std::string_view key) const {
    yajl_val found = lookup(*this, v_, key);
    return found != nullptr && found->type != yajl_t_null;
}

std::vector<std::pair<std::string, Value>> Value::members() const {
    if (v_ == nullptr) fail("missing");
    if (v_->type != yajl_t_object) fail("expected object");
    std::vector<std::pair<std::string, Value>> out;
    out.reserve(v_->u.object.len);
    for (size_t i = 0; i < v_->u.object.len; ++i) {
        const char* k = v_->u.object.keys[i];
        out.emplace_back(k, Value(v_->u.object.values[i], key_path(path_, k)));
    }
    return out;
}

// ---- Document -----------------------------------------------------------

Document::Document(std::string_view text, std::string_view what) {
    precheck(text, what);
    std::string buf(text);   // yajl_tree_parse wants a NUL-terminated string
    char err[1024];
    err[0] = '\0';
    root_ = yajl_tree_parse(buf.c_str(), err, sizeof err);
    if (root_ == nullptr) {
        std::string msg = first_line(err[0] ? err : "parse error") + " at " + line_column(text, error_offset(text));
        throw Error(EINVAL, what.empty() ? msg : std::string(what) + ": " + msg);
    }
}

Document::~Document() {
    if (root_ != nullptr) yajl_tree_free(root_);
}

Document::Document(Document&& o) noexcept : root_(std::exchange(o.root_, nullptr)) {}

Document& Document::operator=(Document&& o) noexcept {
    if (this != &o) {
        if (root_ != nullptr) yajl_tree_free(root_);
        root_ = std::exchange(o.root_, nullptr);
    }
    return *this;
}

Value Document::root() const { return Value(root_, std::string()); }

// ---- Writer -------------------------------------------------------------

Writer::Writer(bool pretty) : g_(yajl_gen_alloc(nullptr)) {
    if (g_ == nullptr) throw Error(ENOMEM, "json writer");
    if (pretty) {
        yajl_gen_config(g_, yajl_gen_beautify, 1);
        yajl_gen_config(g_, yajl_gen_indent_string, "\t");   // as `runc spec` writes it
    }
}

Writer::~Writer() { yajl_gen_free(g_); }

Writer& Writer::begin_object() { check(yajl_gen_map_open(g_)); return *this; }
Writer& Writer::end_object() { check(yajl_gen_map_close(g_)); return *this; }
Writer& Writer::begin_array() { check(yajl_gen_array_open(g_)); return *this; }
Writer& Writer::end_array() { check(yajl_gen_array_close(g_)); return *this; }

Writer& Writer::key(std::string_view k) { return string(k); }

Writer& Writer::string(std::string_view s) {
    check(yajl_gen_string(g_, reinterpret_cast<const unsigned char*>(s.data()), s.size()));
    return *this;
}

Writer& Writer::int64(int64_t n) { check(yajl_gen_integer(g_, n)); return *this; }

Writer& Writer::uint64(uint64_t n) {
    // yajl_gen_integer takes long long; write the digits to keep the top half.
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    check(yajl_gen_number(g_, buf, static_cast<size_t>(end - buf)));
    return *this;
}

Writer& Writer::number(double d) { check(yajl_gen_double(g_, d)); return *this; }
Writer& Writer::boolean(bool b) { check(yajl_gen_bool(g_, b ? 1 : 0)); return *this; }
Writer& Writer::null() { check(yajl_gen_null(g_)); return *this; }

Writer& Writer::string_array(const std::vector<std::string>& v) {
    begin_array();
    for (auto& s : v) string(s);
    return end_array();
}

Writer& Writer::string_map(const std::map<std::string, std::string>& m) {
    begin_object();
    for (auto& [k, v] : m) key(k).string(v);
    return end_object();
}

Writer& Writer::value(const Value& v) {
    yajl_val n = v.v_;
    if (n == nullptr || YAJL_IS_NULL(n)) return null();
    switch (n->type) {
    case yajl_t_string: return string(n->u.string);
    case yajl_t_number: check(yajl_gen_number(g_, n->u.number.r, std::strlen(n->u.number.r))); return *this;
    case yajl_t_true: return boolean(true);
    case yajl_t_false: return boolean(false);
    case yajl_t_array:
        begin_array();
        for (auto& e : v.as_array()) value(e);
        return end_array();
    case yajl_t_object:
        begin_object();
        for (auto& [k, e] : v.members()) key(k).value(e);
        return end_object();
    default: return null();
    }
}

std::string Writer::str() const {
    const unsigned char* buf = nullptr;
    size_t len = 0;
    check(yajl_gen_get_buf(g_, &buf, &len));
    return std::string(reinterpret_cast<const char*>(buf), len);
}

} // namespace berth::json
