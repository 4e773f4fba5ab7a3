// crictl's config files as protobuf messages (see config_file.hpp).
#include "config_file.hpp"

#include "error.hpp"
#include "json.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

namespace berth::ctl {

namespace pb = google::protobuf;

namespace {

struct Parser {
    yaml_parser_t p;
    Parser() { yaml_parser_initialize(&p); }
    ~Parser() { yaml_parser_delete(&p); }
};

struct Event {
    yaml_event_t e{};
    bool set = false;
    ~Event() {
        if (set) yaml_event_delete(&e);
    }
};

// YAML 1.1/1.2 core-schema plain scalars that are not strings, as
// sigs.k8s.io/yaml (crictl's reader) turns them into JSON.
void plain_scalar(json::Writer& w, const std::string& s) {
    static const std::regex int_re("[-+]?(0|[1-9][0-9]*)");
    static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") w.null();
    else if (s == "true" || s == "True" || s == "TRUE") w.boolean(true);
    else if (s == "false" || s == "False" || s == "FALSE") w.boolean(false);
    else if (std::regex_match(s, int_re)) {
        errno = 0;
        long long v = std::strtoll(s.c_str(), nullptr, 10);
        if (errno == ERANGE) w.uint64(std::strtoull(s.c_str(), nullptr, 10));
        else w.int64(v);
    } else if (std::regex_match(s, float_re)) w.number(std::strtod(s.c_str(), nullptr));
    else w.string(s);
}

std::string where(const std::string& what, const yaml_mark_t& m) {
    return what + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

// One node (and its children) from the parser into w.
void node(Parser& ps, json::Writer& w, const std::string& what, Event& first) {
    auto next = [&](Event& ev) {
        if (!yaml_parser_parse(&ps.p, &ev.e))
            throw Error(EINVAL, where(what, ps.p.problem_mark) + ": " +
                                    (ps.p.problem ? ps.p.problem : "invalid YAML"));
        ev.set = true;
    };
    switch (first.e.type) {
    case YAML_SCALAR_EVENT: {
        std::string v(reinterpret_cast<const char*>(first.e.data.scalar.value), first.e.data.scalar.length);
        if (first.e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !first.e.data.scalar.tag) plain_scalar(w, v);
        else w.string(v);
        return;
    }
    case YAML_SEQUENCE_START_EVENT:
        w.begin_array();
        for (;;) {
            Event ev;
            next(ev);
            if (ev.e.type == YAML_SEQUENCE_END_EVENT) break;
            node(ps, w, what, ev);
        }
        w.end_array();
        return;
    case YAML_MAPPING_START_EVENT:
        w.begin_object();
        for (;;) {
            Event k;
            next(k);
            if (k.e.type == YAML_MAPPING_END_EVENT) break;
            if (k.e.type != YAML_SCALAR_EVENT)
                throw Error(EINVAL, where(what, k.e.start_mark) + ": a mapping key must be a plain string");
            w.key(std::string(reinterpret_cast<const char*>(k.e.data.scalar.value), k.e.data.scalar.length));
            Event v;
            next(v);
            node(ps, w, what, v);
        }
        w.end_object();
        return;
    case YAML_ALIAS_EVENT:
        throw Error(EINVAL, where(what, first.e.start_mark) + ": YAML aliases are not supported in a config file");
    default:
        throw Error(EINVAL, where(what, first.e.start_mark) + ": unexpected YAML event");
    }
}

// Every key of the JSON tree must name a field of the message it lands in:
// JsonStringToMessage says "Cannot find field" without saying which.
void check_fields(const json::Value& v, const pb::Descriptor* d, const std::string& path, const std::string& what) {
    if (!v.is_object()) return;   // the parser reports the wrong type
    for (const auto& [k, child] : v.members()) {
        const pb::FieldDescriptor* f = nullptr;
        for (int i = 0; i < d->field_count() && !f; ++i)
            if (d->field(i)->name() == k || d->field(i)->json_name() == k) f = d->field(i);
        std::string p = path.empty() ? k : path + "." + k;
        if (!f) {
            std::string known;
            for (int i = 0; i < d->field_count(); ++i) known += (i ? ", " : "") + d->field(i)->name();
            throw Error(EINVAL, what + ": unknown field \"" + p + "\" (" + d->name() + " has: " + known + ")");
        }
        if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
        const pb::Descriptor* md = f->message_type();
        if (md->full_name().rfind("google.protobuf.", 0) == 0) continue;
        if (f->is_map()) {
            const pb::FieldDescriptor* vf = md->map_value();
            if (vf->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && child.is_object())
                for (const auto& [mk, mv] : child.members()) check_fields(mv, vf->message_type(), p + "[" + mk + "]", what);
        } else if (f->is_repeated()) {
            if (child.is_array()) {
                size_t i = 0;
                for (const auto& item : child.as_array()) check_fields(item, md, p + "[" + std::to_string(i++) + "]", what);
            }
        } else {
            check_fields(child, md, p, what);
        }
    }
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (errno == ENOENT) throw Error(ENOENT, "config at " + path + " not found");
        throw_errno("open " + path);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string random_uuid() {
    unsigned char b[16];
    FILE* f = std::fopen("/dev/urandom", "rb");
    if (!f || std::fread(b, 1, sizeof b, f) != sizeof b) {
        if (f) std::fclose(f);
        throw_errno("read /dev/urandom");
    }
    std::fclose(f);
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    char s[40];
    std::snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                  b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return s;
}

} // namespace

std::string yaml_to_json(std::string_view text, const std::string& what) {
    Parser ps;
    yaml_parser_set_input_string(&ps.p, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    json::Writer w;
    bool have_doc = false;
    for (;;) {
        Event ev;
        if (!yaml_parser_parse(&ps.p, &ev.e))
            throw Error(EINVAL, where(what, ps.p.problem_mark) + ": " + (ps.p.problem ? ps.p.problem : "invalid YAML"));
        ev.set = true;
        auto t = ev.e.type;
        if (t == YAML_STREAM_END_EVENT) break;
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT || t == YAML_DOCUMENT_END_EVENT) continue;
        if (have_doc) throw Error(EINVAL, where(what, ev.e.start_mark) + ": one YAML document expected");
        node(ps, w, what, ev);
        have_doc = true;
    }
    if (!have_doc) throw Error(EINVAL, what + ": empty config");
    return w.str();
}

void parse_config(std::string_view text, const std::string& what, pb::Message& m) {
    size_t first = text.find_first_not_of(" \t\r\n");
    // As crictl's YAMLOrJSONDecoder: JSON when it starts like JSON.
    std::string j = first != std::string_view::npos && text[first] == '{' ? std::string(text) : yaml_to_json(text, what);
    json::Document doc(j, what);
    if (!doc.root().is_object()) throw Error(EINVAL, what + ": expected an object of " + m.GetDescriptor()->name() + " fields");
    check_fields(doc.root(), m.GetDescriptor(), "", what);
    pb::util::JsonParseOptions o;
    o.ignore_unknown_fields = false;
    auto st = pb::util::JsonStringToMessage(j, &m, o);
    if (!st.ok()) throw Error(EINVAL, what + ": " + std::string(st.message()));
}

runtime::v1::PodSandboxConfig load_pod_config(const std::string& path) {
    runtime::v1::PodSandboxConfig c;
    parse_config(read_file(path), path, c);
    if (!c.has_metadata()) throw Error(EINVAL, path + ": metadata is not set");
    if (c.metadata().uid().empty()) c.mutable_metadata()->set_uid(random_uuid());
    if (c.metadata().name().empty() || c.metadata().namespace_().empty())
        throw Error(EINVAL, path + ": metadata.name or metadata.namespace is not set");
    return c;
}

runtime::v1::ContainerConfig load_container_config(const std::string& path) {
    runtime::v1::ContainerConfig c;
    parse_config(read_file(path), path, c);
    if (!c.has_metadata()) throw Error(EINVAL, path + ": metadata is not set");
    if (c.metadata().name().empty()) throw Error(EINVAL, path + ": metadata.name is not set");
    return c;
}

} // namespace berth::ctl
