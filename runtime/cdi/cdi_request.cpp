// What a container asks for: CDI annotations, the legacy
// NVIDIA_VISIBLE_DEVICES env, and the runtime's default devices.
#include "cdi_devices.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "json.hpp"
#include "strings.hpp"

#include <unistd.h>

#include <optional>

namespace berth::cdi {

namespace {

constexpr std::string_view kAnnotationPrefix = "cdi.k8s.io/";
constexpr const char* kNvidiaKind = "nvidia.com/gpu";

struct FileConfig {
    std::optional<std::vector<std::string>> spec_dirs;
    std::optional<std::vector<std::string>> default_devices;
    std::optional<bool> nvidia_env;
};

// The optional runtime config file; absent means all defaults.
FileConfig read_config_file(const std::string& path) {
    FileConfig fc;
    if (path.empty() || ::access(path.c_str(), F_OK) < 0) return fc;
    std::string text = read_file(path);
    json::Document doc(text, path);
    auto root = doc.root();
    with_context(path, [&] {
        for (auto& [k, v] : root.members()) {
            if (k == "specDirs") fc.spec_dirs = v.as_string_array();
            else if (k == "defaultDevices") fc.default_devices = v.as_string_array();
            else if (k == "nvidiaVisibleDevices") fc.nvidia_env = v.as_bool();
            else v.fail("unknown key (known: specDirs, defaultDevices, nvidiaVisibleDevices)");
        }
        if (fc.default_devices)
            for (auto& d : *fc.default_devices) with_context("defaultDevices", [&] { spec::cdi::parse_qualified_name(d); });
    });
    return fc;
}

std::string trim(std::string_view s) {
    size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string_view::npos ? "" : std::string(s.substr(b, e - b + 1));
}

} // namespace

std::vector<std::string> nvidia_visible_devices(const std::string& value, const std::string& kind) {
    std::vector<std::string> out;
    std::string v = trim(value);
    if (v.empty() || v == "void" || v == "none") return out;
    if (v == "all") return {kind + "=all"};
    for (auto& part : split(v, ',')) {
        std::string id = trim(part);
        if (id.empty()) continue;
        std::string name = kind + "=" + id;
        with_context("NVIDIA_VISIBLE_DEVICES", [&] { spec::cdi::parse_qualified_name(name); });
        out.push_back(name);
    }
    return out;
}

Request requested_devices(const spec::Config& cfg, const Settings& s) {
    FileConfig fc = read_config_file(s.config_path);
    Request r;
    r.spec_dirs = !s.spec_dirs.empty() ? s.spec_dirs : fc.spec_dirs ? *fc.spec_dirs : default_spec_dirs;

    bool asked = false;
    for (const auto& [key, value] : cfg.annotations) {
        if (key.rfind(kAnnotationPrefix, 0) != 0) continue;
        asked = true;
        for (auto& part : split(value, ',')) {
            std::string name = trim(part);
            if (name.empty()) continue;
            with_context("annotation " + key, [&] { spec::cdi::parse_qualified_name(name); });
            r.devices.push_back(name);
        }
    }
    bool nvidia_env = fc.nvidia_env.value_or(s.gpu_mode);
    if (nvidia_env && cfg.process) {
        // The last definition wins, as in execve's view of the env.
        std::optional<std::string> value;
        for (const auto& e : cfg.process->env)
            if (e.rfind("NVIDIA_VISIBLE_DEVICES=", 0) == 0) value = e.substr(e.find('=') + 1);
        if (value) {
            asked = true;
            for (auto& n : nvidia_visible_devices(*value, kNvidiaKind)) r.devices.push_back(n);
        }
    }
    if (!asked) {
        if (fc.default_devices) r.devices = *fc.default_devices;
        else if (s.gpu_mode) r.devices = {std::string(kNvidiaKind) + "=all"};
    }
    return r;
}

bool apply_requested_cdi_devices(spec::Config& cfg, const Settings& s) {
    Request r = with_context("CDI", [&] { return requested_devices(cfg, s); });
    if (r.devices.empty()) return false;
    Registry reg = Registry::load(r.spec_dirs);
    with_context("CDI", [&] { apply_cdi_devices(cfg, r.devices, reg); });
    return true;
}

} // namespace berth::cdi
