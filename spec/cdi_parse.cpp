// CDI spec files -> spec::cdi types. JSON (through the yajl wrapper) and
// YAML (libyaml) are first turned into one small tree whose scalars keep
// their text, so both formats share the readers below and their errors
// ("devices[0].name: expected string"). As in the CDI library, a scalar
// may fill a string field whatever it looks like (YAML `name: 0`), and
// unknown keys are errors.
#include "cdi.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "json.hpp"

#include <yaml.h>

#include <charconv>
#include <memory>

namespace berth::spec::cdi {

namespace {

struct Node {
    enum class Kind { null, scalar, map, seq };
    Kind kind = Kind::null;
    std::string text;     // scalar
    bool quoted = false;  // a string for sure (JSON string, quoted or block YAML scalar)
    bool yaml = false;    // integers and booleans in YAML 1.1 spellings
    // A mapping's keys and values (pairs of a recursive type are not allowed).
    std::vector<std::string> keys;
    std::vector<Node> values;
    std::vector<Node> seq;
};

// ---- JSON -> Node -----------------------------------------------------------

Node from_json(const json::Value& v) {
    Node n;
    if (v.is_null()) return n;
    if (v.is_object()) {
        n.kind = Node::Kind::map;
        for (auto& [k, child] : v.members()) {
            n.keys.push_back(k);
            n.values.push_back(from_json(child));
        }
    } else if (v.is_array()) {
        n.kind = Node::Kind::seq;
        for (auto& child : v.as_array()) n.seq.push_back(from_json(child));
    } else if (v.is_string()) {
        n.kind = Node::Kind::scalar;
        n.text = v.as_string();
        n.quoted = true;
    } else if (v.is_bool()) {
        n.kind = Node::Kind::scalar;
        n.text = v.as_bool() ? "true" : "false";
    } else {
        n.kind = Node::Kind::scalar;
        try {
            n.text = std::to_string(v.as_int64());
        } catch (const Error&) {
            n.text = std::to_string(v.as_double());
        }
    }
    return n;
}

// ---- YAML -> Node -----------------------------------------------------------

// Aliases can repeat a subtree many times over ("billion laughs") or refer
// to an enclosing node; bound both.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxNodes = 1'000'000;

struct YamlDoc {
    yaml_parser_t parser;
    yaml_document_t doc;
    bool parser_ok = false, doc_ok = false;
    ~YamlDoc() {
        if (doc_ok) yaml_document_delete(&doc);
        if (parser_ok) yaml_parser_delete(&parser);
    }
};

Node from_yaml(yaml_document_t* doc, yaml_node_t* y, int depth, size_t& count, std::string_view what) {
    if (depth > kMaxDepth || ++count > kMaxNodes)
        throw Error(EINVAL, std::string(what) + ": YAML nested or aliased too deeply");
    Node n;
    n.yaml = true;
    switch (y->type) {
    case YAML_SCALAR_NODE: {
        std::string_view t(reinterpret_cast<const char*>(y->data.scalar.value), y->data.scalar.length);
        bool plain = y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE || y->data.scalar.style == YAML_ANY_SCALAR_STYLE;
        if (plain && (t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL")) return n;
        // YAML's "\0" escape: refused as the JSON reader refuses "\u0000",
        // so a spec reads the same in both forms (and no C string cuts it).
        if (t.find('\0') != std::string_view::npos)
            throw Error(EINVAL, std::string(what) + ": a NUL character in a string is not supported (line " +
                                    std::to_string(y->start_mark.line + 1) + ")");
        n.kind = Node::Kind::scalar;
        n.text = std::string(t);
        n.quoted = !plain;
        break;
    }
    case YAML_SEQUENCE_NODE:
        n.kind = Node::Kind::seq;
        for (auto* i = y->data.sequence.items.start; i < y->data.sequence.items.top; ++i)
            n.seq.push_back(from_yaml(doc, yaml_document_get_node(doc, *i), depth + 1, count, what));
        break;
    case YAML_MAPPING_NODE:
        n.kind = Node::Kind::map;
        for (auto* p = y->data.mapping.pairs.start; p < y->data.mapping.pairs.top; ++p) {
            Node k = from_yaml(doc, yaml_document_get_node(doc, p->key), depth + 1, count, what);
            if (k.kind != Node::Kind::scalar) throw Error(EINVAL, std::string(what) + ": a mapping key is not a scalar");
            n.keys.push_back(k.text);
            n.values.push_back(from_yaml(doc, yaml_document_get_node(doc, p->value), depth + 1, count, what));
        }
        break;
    default:
        break;
    }
    return n;
}

Node parse_yaml(std::string_view text, std::string_view what) {
    YamlDoc d;
    if (!yaml_parser_initialize(&d.parser)) throw Error(ENOMEM, std::string(what) + ": YAML parser");
    d.parser_ok = true;
    yaml_parser_set_input_string(&d.parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    if (!yaml_parser_load(&d.parser, &d.doc)) {
        std::string msg = std::string(what) + ": YAML: " + (d.parser.problem ? d.parser.problem : "syntax error");
        if (d.parser.problem) {
            msg += " at line " + std::to_string(d.parser.problem_mark.line + 1) + " column " +
                   std::to_string(d.parser.problem_mark.column + 1);
            if (d.parser.context) msg += std::string(" (") + d.parser.context + ")";
        }
        throw Error(EINVAL, msg);
    }
    d.doc_ok = true;
    yaml_node_t* root = yaml_document_get_root_node(&d.doc);
    if (!root) throw Error(EINVAL, std::string(what) + ": empty document");
    size_t count = 0;
    return from_yaml(&d.doc, root, 0, count, what);
}

// ---- typed reading with paths -------------------------------------------------

class Reader {
public:
    Reader(const Node& n, std::string path) : n_(n), path_(std::move(path)) {}
    const Node& node() const { return n_; }
    const std::string& path() const { return path_; }

    [[noreturn]] void fail(std::string_view msg) const {
        throw Error(EINVAL, path_.empty() ? std::string(msg) : path_ + ": " + std::string(msg));
    }
    bool is_null() const { return n_.kind == Node::Kind::null; }

    std::string str() const {
        if (n_.kind != Node::Kind::scalar) fail("expected string");
        return n_.text;
    }
    int64_t int64() const {
        if (n_.kind != Node::Kind::scalar || n_.quoted) fail("expected integer");
        std::string_view t = n_.text;
        bool neg = false;
        if (!t.empty() && (t[0] == '-' || t[0] == '+')) {
            neg = t[0] == '-';
            t.remove_prefix(1);
        }
        int base = 10;
        std::string digits;
        if (n_.yaml) {
            // YAML 1.1 (what the CDI library's YAML decoder reads): 0x1f,
            // 0o17 or 017 octal, underscores as separators.
            if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) base = 16, t.remove_prefix(2);
            else if (t.size() > 2 && t[0] == '0' && t[1] == 'o') base = 8, t.remove_prefix(2);
            else if (t.size() > 1 && t[0] == '0') base = 8, t.remove_prefix(1);
            for (char c : t)
                if (c != '_') digits.push_back(c);
            t = digits;
        }
        uint64_t v = 0;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v, base);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size()) fail("expected integer, got \"" + n_.text + "\"");
        if (v > (neg ? uint64_t(INT64_MAX) + 1 : uint64_t(INT64_MAX))) fail("integer out of range");
        return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
    }
    uint32_t uint32() const {
        int64_t v = int64();
        if (v < 0 || v > UINT32_MAX) fail("expected unsigned 32-bit integer, got " + n_.text);
        return static_cast<uint32_t>(v);
    }
    int32_t int32() const {
        int64_t v = int64();
        if (v < INT32_MIN || v > INT32_MAX) fail("expected 32-bit integer, got " + n_.text);
        return static_cast<int32_t>(v);
    }
    bool boolean() const {
        if (n_.kind == Node::Kind::scalar && !n_.quoted) {
            const std::string& t = n_.text;
            if (t == "true" || (n_.yaml && (t == "True" || t == "TRUE" || t == "yes" || t == "on"))) return true;
            if (t == "false" || (n_.yaml && (t == "False" || t == "FALSE" || t == "no" || t == "off"))) return false;
        }
        fail("expected boolean");
    }
    std::vector<Reader> items() const {
        std::vector<Reader> out;
        if (is_null()) return out;
        if (n_.kind != Node::Kind::seq) fail("expected array");
        for (size_t i = 0; i < n_.seq.size(); ++i) out.emplace_back(n_.seq[i], path_ + "[" + std::to_string(i) + "]");
        return out;
    }
    std::vector<std::string> strings() const {
        std::vector<std::string> out;
        for (auto& r : items()) out.push_back(r.str());
        return out;
    }
    std::map<std::string, std::string> string_map() const {
        std::map<std::string, std::string> out;
        if (is_null()) return out;
        if (n_.kind != Node::Kind::map) fail("expected object");
        for (size_t i = 0; i < n_.keys.size(); ++i) {
            const auto& k = n_.keys[i];
            if (out.count(k)) fail("duplicate key \"" + k + "\"");
            out[k] = Reader(n_.values[i], child_path(k)).str();
        }
        return out;
    }
    // An object whose keys must all be in `known`; calls fn(key, reader) for each.
    template <class Fn>
    void object(std::initializer_list<std::string_view> known, Fn&& fn) const {
        if (is_null()) return;
        if (n_.kind != Node::Kind::map) fail("expected object");
        std::vector<std::string_view> seen;
        for (size_t i = 0; i < n_.keys.size(); ++i) {
            const auto& k = n_.keys[i];
            const auto& v = n_.values[i];
            bool ok = false;
            for (auto kk : known) ok = ok || kk == k;
            if (!ok) fail("unknown field \"" + k + "\"");
            for (auto s : seen)
                if (s == k) fail("duplicate key \"" + k + "\"");
            seen.push_back(k);
            Reader r(v, child_path(k));
            if (!r.is_null()) fn(std::string_view(k), r);
        }
    }

private:
    std::string child_path(const std::string& k) const { return path_.empty() ? k : path_ + "." + k; }
    const Node& n_;
    std::string path_;
};

DeviceNode read_device_node(const Reader& r) {
    DeviceNode d;
    r.object({"path", "hostPath", "type", "major", "minor", "fileMode", "permissions", "uid", "gid"},
             [&](std::string_view k, const Reader& v) {
                 if (k == "path") d.path = v.str();
                 else if (k == "hostPath") d.hostPath = v.str();
                 else if (k == "type") d.type = v.str();
                 else if (k == "major") d.major = v.int64();
                 else if (k == "minor") d.minor = v.int64();
                 else if (k == "fileMode") d.fileMode = v.uint32();
                 else if (k == "permissions") d.permissions = v.str();
                 else if (k == "uid") d.uid = v.uint32();
                 else if (k == "gid") d.gid = v.uint32();
             });
    return d;
}

Mount read_mount(const Reader& r) {
    Mount m;
    r.object({"hostPath", "containerPath", "options", "type"}, [&](std::string_view k, const Reader& v) {
        if (k == "hostPath") m.hostPath = v.str();
        else if (k == "containerPath") m.containerPath = v.str();
        else if (k == "options") m.options = v.strings();
        else if (k == "type") m.type = v.str();
    });
    return m;
}

Hook read_hook(const Reader& r) {
    Hook h;
    r.object({"hookName", "path", "args", "env", "timeout"}, [&](std::string_view k, const Reader& v) {
        if (k == "hookName") h.hookName = v.str();
        else if (k == "path") h.path = v.str();
        else if (k == "args") h.args = v.strings();
        else if (k == "env") h.env = v.strings();
        else if (k == "timeout") h.timeout = v.int32();
    });
    return h;
}

IntelRdt read_intel_rdt(const Reader& r) {
    IntelRdt i;
    // enableCMT/enableMBM: 0.7.0's monitoring switches, read as enableMonitoring.
    r.object({"closID", "l3CacheSchema", "memBwSchema", "schemata", "enableMonitoring", "enableCMT", "enableMBM"},
             [&](std::string_view k, const Reader& v) {
                 if (k == "closID") i.closID = v.str();
                 else if (k == "l3CacheSchema") i.l3CacheSchema = v.str();
                 else if (k == "memBwSchema") i.memBwSchema = v.str();
                 else if (k == "schemata") i.schemata = v.strings();
                 else i.enableMonitoring = i.enableMonitoring || v.boolean();
             });
    return i;
}

ContainerEdits read_edits(const Reader& r) {
    ContainerEdits e;
    r.object({"env", "deviceNodes", "mounts", "hooks", "additionalGids", "intelRdt", "netDevices"},
             [&](std::string_view k, const Reader& v) {
                 if (k == "env") e.env = v.strings();
                 else if (k == "deviceNodes")
                     for (auto& x : v.items()) e.deviceNodes.push_back(read_device_node(x));
                 else if (k == "mounts")
                     for (auto& x : v.items()) e.mounts.push_back(read_mount(x));
                 else if (k == "hooks")
                     for (auto& x : v.items()) e.hooks.push_back(read_hook(x));
                 else if (k == "additionalGids")
                     for (auto& x : v.items()) e.additionalGids.push_back(x.uint32());
                 else if (k == "intelRdt") e.intelRdt = read_intel_rdt(v);
                 else if (k == "netDevices")
                     for (auto& x : v.items()) {
                         NetDevice nd;
                         x.object({"hostInterfaceName", "name"}, [&](std::string_view kk, const Reader& vv) {
                             (kk == "name" ? nd.name : nd.hostInterfaceName) = vv.str();
                         });
                         e.netDevices.push_back(nd);
                     }
             });
    return e;
}

Device read_device(const Reader& r) {
    Device d;
    r.object({"name", "annotations", "containerEdits"}, [&](std::string_view k, const Reader& v) {
        if (k == "name") d.name = v.str();
        else if (k == "annotations") d.annotations = v.string_map();
        else d.containerEdits = read_edits(v);
    });
    return d;
}

Spec read_spec(const Reader& r) {
    Spec s;
    if (r.node().kind != Node::Kind::map) r.fail("expected an object");
    r.object({"cdiVersion", "kind", "annotations", "devices", "containerEdits"},
             [&](std::string_view k, const Reader& v) {
                 if (k == "cdiVersion") s.cdiVersion = v.str();
                 else if (k == "kind") s.kind = v.str();
                 else if (k == "annotations") s.annotations = v.string_map();
                 else if (k == "devices")
                     for (auto& x : v.items()) s.devices.push_back(read_device(x));
                 else s.containerEdits = read_edits(v);
             });
    return s;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

} // namespace

Spec parse_spec(std::string_view text, std::string_view what, bool yaml) {
    Node root;
    if (yaml) {
        root = parse_yaml(text, what);
    } else {
        json::Document doc(text, what);
        root = from_json(doc.root());
    }
    return with_context(what, [&] { return read_spec(Reader(root, "")); });
}

Spec read_spec_file(const std::string& path) {
    return parse_spec(read_file(path), path, !ends_with(path, ".json"));
}

} // namespace berth::spec::cdi
