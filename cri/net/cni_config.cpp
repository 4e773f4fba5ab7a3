#include "cni_config.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "json.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace berth::cri::net {

namespace {

// Keys the runtime sets for each plugin; a plugin's own copy is replaced.
bool runtime_key(const std::string& k) {
    return k == "name" || k == "cniVersion" || k == "runtimeConfig" || k == "prevResult";
}

PluginConf plugin_of(const json::Value& v) {
    if (!v.is_object()) v.fail("expected an object");
    PluginConf p;
    p.type = v.get("type").as_string();
    if (p.type.empty() || p.type.find('/') != std::string::npos || p.type == "." || p.type == "..")
        v.get("type").fail("\"" + p.type + "\" is not a plugin name");
    if (auto caps = v.find("capabilities")) {
        for (auto& [k, on] : caps->members())
            if (on.as_bool()) p.capabilities.push_back(k);
    }
    return p;
}

bool parse_version(const std::string& v, int out[3]) {
    out[0] = out[1] = out[2] = 0;
    return std::sscanf(v.c_str(), "%d.%d.%d", &out[0], &out[1], &out[2]) >= 2;
}

} // namespace

bool version_at_least(const std::string& v, int major, int minor, int patch) {
    int n[3];
    if (!parse_version(v, n)) return false;
    if (n[0] != major) return n[0] > major;
    if (n[1] != minor) return n[1] > minor;
    return n[2] >= patch;
}

NetworkList parse_network_list(const std::string& text, const std::string& file, bool single) {
    return with_context(file, [&] {
        json::Document doc(text, "");
        json::Value root = doc.root();
        if (!root.is_object()) root.fail("expected an object");
        NetworkList l;
        l.file = file;
        l.name = root.get("name").as_string();
        if (l.name.empty()) root.get("name").fail("must not be empty");
        l.cni_version = root.get("cniVersion").as_string();
        int n[3];
        if (!parse_version(l.cni_version, n)) root.get("cniVersion").fail("\"" + l.cni_version + "\" is not a version");
        if (single) {
            l.plugins.push_back(plugin_of(root));
            // The list form of it: the config becomes the only plugin.
            json::Writer w;
            w.begin_object().kv("cniVersion", l.cni_version).kv("name", l.name);
            w.key("plugins").begin_array().value(root).end_array();
            w.end_object();
            l.text = w.str();
            return l;
        }
        if (auto dc = root.find("disableCheck")) l.disable_check = dc->as_bool();
        auto plugins = root.get("plugins").as_array();
        if (plugins.empty()) root.get("plugins").fail("no plugins");
        for (auto& p : plugins) l.plugins.push_back(plugin_of(p));
        l.text = text;
        return l;
    });
}

std::optional<NetworkList> find_network(const std::string& dir, std::string& why) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        why = "no CNI config directory " + dir + ": " + std::string(strerror(errno));
        return std::nullopt;
    }
    std::vector<std::string> names;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.ends_with(".conflist") || n.ends_with(".conf") || n.ends_with(".json")) names.push_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    std::string errors;
    for (const auto& n : names) {
        std::string path = dir + "/" + n;
        struct stat st;
        if (::stat(path.c_str(), &st) < 0 || !S_ISREG(st.st_mode)) continue;
        try {
            if (st.st_size > (1 << 20)) throw Error(EFBIG, path + ": bigger than 1 MiB");
            return parse_network_list(read_file(path), path, !n.ends_with(".conflist"));
        } catch (const Error& e) {
            errors += std::string(errors.empty() ? "" : "; ") + e.what();
        }
    }
    why = "no valid CNI network config in " + dir + (errors.empty() ? "" : " (" + errors + ")");
    return std::nullopt;
}

std::string plugin_config(const NetworkList& list, size_t index, const std::map<std::string, std::string>& caps,
                          const std::string& prev_result) {
    json::Document doc(list.text, list.file);
    json::Value plugin = doc.root().get("plugins").as_array().at(index);
    json::Writer w;
    w.begin_object();
    for (auto& [k, v] : plugin.members())
        if (!runtime_key(k)) w.key(k).value(v);
    w.kv("name", list.name).kv("cniVersion", list.cni_version);
    // Only what the plugin declared it takes (the spec: a runtime must not
    // pass a capability the plugin did not ask for).
    std::vector<std::pair<std::string, std::string>> rc;
    for (const auto& c : list.plugins.at(index).capabilities)
        if (auto it = caps.find(c); it != caps.end()) rc.emplace_back(c, it->second);
    if (!rc.empty()) {
        w.key("runtimeConfig").begin_object();
        for (auto& [k, text] : rc) {
            json::Document v(text, "runtimeConfig." + k);
            w.key(k).value(v.root());
        }
        w.end_object();
    }
    if (!prev_result.empty()) {
        json::Document v(prev_result, "prevResult");
        w.key("prevResult").value(v.root());
    }
    w.end_object();
    return w.str();
}

} // namespace berth::cri::net
