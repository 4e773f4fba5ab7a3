#include "ctl.hpp"

#include "error.hpp"
#include "json.hpp"

#include <google/protobuf/util/json_util.h>

#include <cstdio>

namespace berth::ctl {

std::string to_json(const google::protobuf::Message& m) {
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    o.preserve_proto_field_names = false;   // crictl prints the lowerCamel names
    o.always_print_primitive_fields = true;   // and every field (protojson EmitDefaultValues)
    std::string out;
    auto st = google::protobuf::util::MessageToJsonString(m, &out, o);
    if (!st.ok()) throw Error(EINVAL, "cannot print the answer as JSON: " + std::string(st.message()));
    return out;
}

namespace {

std::string yaml_scalar(const std::string& s) {
    bool plain = !s.empty() && s.find_first_of(":#{}[],&*!|>'\"%@`\n") == std::string::npos && s.front() != ' ' &&
                 s.back() != ' ' && s != "true" && s != "false" && s != "null" && s != "~" &&
                 s.find_first_not_of("0123456789.-+eE") != std::string::npos;
    if (plain) return s;
    std::string q = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') q += '\\', q += c;
        else if (c == '\n') q += "\\n";
        else q += c;
    }
    return q + "\"";
}

void emit(const json::Value& v, int indent, std::string& out, bool in_list_item) {
    std::string pad(static_cast<size_t>(indent), ' ');
    if (v.is_object()) {
        auto members = v.members();
        if (members.empty()) {
            out += "{}\n";
            return;
        }
        bool first = true;
        for (auto& [k, child] : members) {
            if (!(first && in_list_item)) out += pad;
            first = false;
            out += yaml_scalar(k) + ":";
            if ((child.is_object() && !child.members().empty()) || (child.is_array() && !child.as_array().empty())) {
                out += "\n";
                emit(child, indent + 2, out, false);
            } else {
                out += " ";
                emit(child, indent + 2, out, false);
            }
        }
    } else if (v.is_array()) {
        auto items = v.as_array();
        if (items.empty()) {
            out += "[]\n";
            return;
        }
        for (auto& item : items) {
            out += pad + "- ";
            emit(item, indent + 2, out, true);
        }
    } else if (v.is_string()) {
        out += yaml_scalar(v.as_string()) + "\n";
    } else if (v.is_bool()) {
        out += v.as_bool() ? "true\n" : "false\n";
    } else if (v.is_null()) {
        out += "null\n";
    } else {
        // Numbers print as protobuf wrote them.
        double d = v.as_double();
        char buf[64];
        if (d == static_cast<double>(static_cast<long long>(d))) std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
        else std::snprintf(buf, sizeof buf, "%g", d);
        out += std::string(buf) + "\n";
    }
}

} // namespace

std::string json_to_yaml(const std::string& text) {
    json::Document doc(text, "answer");
    std::string out;
    emit(doc.root(), 0, out, false);
    return out;
}

void print_message(const google::protobuf::Message& m, Format f) {
    std::string j = to_json(m);
    std::string s = f == Format::yaml ? json_to_yaml(j) : j;
    std::fwrite(s.data(), 1, s.size(), stdout);
    if (!s.empty() && s.back() != '\n') std::fputc('\n', stdout);
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> w;
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i) {
            if (w.size() <= i) w.push_back(0);
            w[i] = std::max(w[i], r[i].size());
        }
    for (const auto& r : rows) {
        std::string line;
        for (size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 3, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        std::puts(line.c_str());
    }
}

// crictl uses go-units' HumanSize: decimal units, 4 significant digits.
std::string human_size(uint64_t bytes) {
    static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1000 && u < 5) v /= 1000, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g%s", v, units[u]);
    return buf;
}

std::string truncate_id(const std::string& id, size_t n) {
    std::string s = id.rfind("sha256:", 0) == 0 ? id.substr(7) : id;
    return s.substr(0, n);
}

} // namespace berth::ctl
