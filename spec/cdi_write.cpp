// spec::cdi types -> JSON and YAML text. Both go through one small value
// model so the field order and omission rules are written once.
#include "cdi.hpp"

#include "json.hpp"

#include <cstdio>
#include <variant>

namespace berth::spec::cdi {

namespace {

// A JSON-like value: string, integer, bool, list or ordered object.
struct V {
    enum class K { str, num, boolean, list, obj } k = K::obj;
    std::string s;
    int64_t n = 0;
    bool b = false;
    std::vector<V> items;
    std::vector<std::string> keys;   // obj: keys[i] names members[i]
    std::vector<V> members;

    static V str(std::string x) { V v; v.k = K::str; v.s = std::move(x); return v; }
    static V num(int64_t x) { V v; v.k = K::num; v.n = x; return v; }
    static V boolean(bool x) { V v; v.k = K::boolean; v.b = x; return v; }
    static V list() { V v; v.k = K::list; return v; }
    V& add(std::string key, V v) {
        keys.push_back(std::move(key));
        members.push_back(std::move(v));
        return *this;
    }
    V& add_str(std::string key, const std::string& x) { if (!x.empty()) add(std::move(key), str(x)); return *this; }
    V& add_strs(std::string key, const std::vector<std::string>& xs) {
        if (xs.empty()) return *this;
        V l = list();
        for (auto& x : xs) l.items.push_back(str(x));
        return add(std::move(key), std::move(l));
    }
    V& add_map(std::string key, const std::map<std::string, std::string>& m) {
        if (m.empty()) return *this;
        V o;
        for (auto& [k, x] : m) o.add(k, str(x));
        return add(std::move(key), std::move(o));
    }
};

V edits_value(const ContainerEdits& e) {
    V o;
    o.add_strs("env", e.env);
    if (!e.deviceNodes.empty()) {
        V l = V::list();
        for (auto& d : e.deviceNodes) {
            V x;
            x.add_str("path", d.path).add_str("hostPath", d.hostPath).add_str("type", d.type);
            if (d.major) x.add("major", V::num(d.major));
            if (d.minor) x.add("minor", V::num(d.minor));
            if (d.fileMode) x.add("fileMode", V::num(*d.fileMode));
            x.add_str("permissions", d.permissions);
            if (d.uid) x.add("uid", V::num(*d.uid));
            if (d.gid) x.add("gid", V::num(*d.gid));
            l.items.push_back(std::move(x));
        }
        o.add("deviceNodes", std::move(l));
    }
    if (!e.mounts.empty()) {
        V l = V::list();
        for (auto& m : e.mounts) {
            V x;
            x.add_str("hostPath", m.hostPath).add_str("containerPath", m.containerPath).add_strs("options", m.options);
            x.add_str("type", m.type);
            l.items.push_back(std::move(x));
        }
        o.add("mounts", std::move(l));
    }
    if (!e.hooks.empty()) {
        V l = V::list();
        for (auto& h : e.hooks) {
            V x;
            x.add_str("hookName", h.hookName).add_str("path", h.path).add_strs("args", h.args).add_strs("env", h.env);
            if (h.timeout) x.add("timeout", V::num(*h.timeout));
            l.items.push_back(std::move(x));
        }
        o.add("hooks", std::move(l));
    }
    if (!e.additionalGids.empty()) {
        V l = V::list();
        for (auto g : e.additionalGids) l.items.push_back(V::num(g));
        o.add("additionalGids", std::move(l));
    }
    if (e.intelRdt) {
        V x;
        x.add_str("closID", e.intelRdt->closID).add_str("l3CacheSchema", e.intelRdt->l3CacheSchema);
        x.add_str("memBwSchema", e.intelRdt->memBwSchema);
        if (e.intelRdt->schemata) {
            V l = V::list();
            for (auto& s : *e.intelRdt->schemata) l.items.push_back(V::str(s));
            x.add("schemata", std::move(l));
        }
        if (e.intelRdt->enableMonitoring) x.add("enableMonitoring", V::boolean(true));
        o.add("intelRdt", std::move(x));
    }
    if (!e.netDevices.empty()) {
        V l = V::list();
        for (auto& n : e.netDevices) {
            V x;
            x.add_str("hostInterfaceName", n.hostInterfaceName).add_str("name", n.name);
            l.items.push_back(std::move(x));
        }
        o.add("netDevices", std::move(l));
    }
    return o;
}

V spec_value(const Spec& s) {
    V o;
    o.add("cdiVersion", V::str(s.cdiVersion)).add("kind", V::str(s.kind)).add_map("annotations", s.annotations);
    V devs = V::list();
    for (auto& d : s.devices) {
        V x;
        x.add("name", V::str(d.name)).add_map("annotations", d.annotations);
        x.add("containerEdits", edits_value(d.containerEdits));
        devs.items.push_back(std::move(x));
    }
    o.add("devices", std::move(devs));
    if (!s.containerEdits.empty()) o.add("containerEdits", edits_value(s.containerEdits));
    return o;
}

void write_json(json::Writer& w, const V& v) {
    switch (v.k) {
    case V::K::str: w.string(v.s); break;
    case V::K::num: w.int64(v.n); break;
    case V::K::boolean: w.boolean(v.b); break;
    case V::K::list:
        w.begin_array();
        for (auto& x : v.items) write_json(w, x);
        w.end_array();
        break;
    case V::K::obj:
        w.begin_object();
        for (size_t i = 0; i < v.keys.size(); ++i) {
            w.key(v.keys[i]);
            write_json(w, v.members[i]);
        }
        w.end_object();
        break;
    }
}

// A double-quoted YAML scalar: JSON's escapes are valid YAML escapes.
std::string yaml_quote(const std::string& s) {
    std::string out = "\"";
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        // NEL, LS and PS are line breaks to YAML, folded inside quotes.
        if (s.compare(i, 2, "\xc2\x85") == 0 || s.compare(i, 3, "\xe2\x80\xa8") == 0 ||
            s.compare(i, 3, "\xe2\x80\xa9") == 0) {
            out += c == 0xc2 ? "\\N" : (s[i + 2] == '\xa8' ? "\\L" : "\\P");
            i += c == 0xc2 ? 1 : 2;
            continue;
        }
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    return out + "\"";
}

std::string yaml_scalar(const V& v) {
    if (v.k == V::K::str) return yaml_quote(v.s);
    if (v.k == V::K::num) return std::to_string(v.n);
    return v.b ? "true" : "false";
}

// Keys as plain scalars when they obviously are strings.
std::string yaml_key(const std::string& k) {
    bool plain = !k.empty() && ((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z'));
    for (char c : k)
        plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                          c == '-' || c == '.' || c == '/');
    return plain ? k : yaml_quote(k);
}

bool is_empty_container(const V& v) {
    return (v.k == V::K::list && v.items.empty()) || (v.k == V::K::obj && v.members.empty());
}

void write_yaml(std::string& out, const V& v, int indent);

// A value after "key:" or "- ": scalars and empty containers inline, the rest on new lines.
void write_yaml_child(std::string& out, const V& v, int indent) {
    if (v.k != V::K::list && v.k != V::K::obj) {
        out += " " + yaml_scalar(v) + "\n";
    } else if (is_empty_container(v)) {
        out += v.k == V::K::list ? " []\n" : " {}\n";
    } else {
        out += "\n";
        write_yaml(out, v, indent);
    }
}

void write_yaml(std::string& out, const V& v, int indent) {
    std::string pad(static_cast<size_t>(indent), ' ');
    if (v.k == V::K::obj) {
        for (size_t i = 0; i < v.keys.size(); ++i) {
            out += pad + yaml_key(v.keys[i]) + ":";
            write_yaml_child(out, v.members[i], indent + 2);
        }
    } else if (v.k == V::K::list) {
        for (auto& x : v.items) {
            if (x.k == V::K::obj && !x.members.empty()) {
                // "- key: value" then the other keys aligned under the first.
                std::string sub;
                write_yaml(sub, x, indent + 2);
                out += pad + "-" + sub.substr(static_cast<size_t>(indent) + 1);
            } else {
                out += pad + "-";
                write_yaml_child(out, x, indent + 2);
            }
        }
    }
}

} // namespace

std::string to_json(const Spec& s, bool pretty) {
    json::Writer w(pretty);
    write_json(w, spec_value(s));
    return w.str();
}

std::string to_yaml(const Spec& s) {
    std::string out = "---\n";
    write_yaml(out, spec_value(s), 0);
    return out;
}

} // namespace berth::spec::cdi
