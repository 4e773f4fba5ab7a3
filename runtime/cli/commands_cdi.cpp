// berth cdi list | generate nvidia | hook update-ldcache.
#include "cdi_devices.hpp"
#include "cdi_nvidia.hpp"
#include "commands.hpp"
#include "error.hpp"
#include "file_util.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace berth::cli {

namespace {

const std::vector<Flag> generate_flags = {
    {"root", 0, true, "look for the driver under this prefix (default /)", "DIR"},
    {"dev-root", 0, true, "look for /dev/nvidia* under this prefix (default: --root)", "DIR"},
    {"lib-dir", 0, true, "also search this library dir (inside --root; repeatable)", "DIR", true},
    {"hook-path", 0, true, "berth binary the ldcache hook runs (default: this binary)", "PATH"},
    {"no-hook", 0, false, "no update-ldcache hook"},
    {"ldconfig", 0, true, "ldconfig the hook runs (default /sbin/ldconfig)", "PATH"},
    {"nvidia-smi", 0, true, "nvidia-smi to ask for GPU UUIDs when /proc/driver/nvidia has none", "PATH"},
    {"device-name-strategy", 0, true, "index, uuid or both (default both)", "STRATEGY"},
    {"format", 0, true, "yaml or json (default: from --output's name, else yaml)", "FORMAT"},
    {"output", 'o', true, "write the spec here (e.g. /var/run/cdi/nvidia.yaml); default stdout", "FILE"},
};
const std::vector<Flag> hook_flags = {
    {"folder", 0, true, "a library dir inside the container (repeatable)", "DIR", true},
    {"ldconfig", 0, true, "host ldconfig to run (default /sbin/ldconfig)", "PATH"},
};

std::string self_exe() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n < 0) throw_errno("readlink /proc/self/exe");
    return std::string(buf, static_cast<size_t>(n));
}

void mkdir_p(const std::string& dir) {
    if (dir.empty() || ::access(dir.c_str(), F_OK) == 0) return;
    mkdir_p(dir.substr(0, dir.rfind('/')));
    if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) throw_errno("mkdir " + dir);
}

std::vector<std::string> spec_dirs(const RuntimeContext& ctx) {
    cdi::Request r = cdi::requested_devices(spec::Config{}, ctx.cdi);
    return r.spec_dirs;
}

int cdi_list(const RuntimeContext& ctx, const Parsed&) {
    auto reg = cdi::Registry::load(spec_dirs(ctx));
    for (const auto& e : reg.errors) std::fprintf(stderr, "berth: warning: %s\n", e.c_str());
    for (const auto& [name, why] : reg.conflicts) std::fprintf(stderr, "berth: warning: %s\n", why.c_str());
    for (const auto& [name, at] : reg.devices)
        if (!reg.conflicts.count(name)) print(name + "\t" + reg.files[at.file].path + "\n");
    return 0;
}

int cdi_generate(const RuntimeContext&, const Parsed& p) {
    cdi::NvidiaOptions o;
    o.root = p.get("root", "/");
    o.dev_root = p.get("dev-root");
    o.lib_dirs = p.all("lib-dir");
    if (!p.flag("no-hook")) o.hook_path = p.get("hook-path", self_exe());
    o.ldconfig = p.get("ldconfig");
    o.nvidia_smi = p.get("nvidia-smi");
    std::string strategy = p.get("device-name-strategy", "both");
    if (strategy == "index") o.by_uuid = false;
    else if (strategy == "uuid") o.by_index = false;
    else if (strategy != "both")
        throw Error(EINVAL, "--device-name-strategy: \"" + strategy + "\" is not index, uuid or both");
    std::string out = p.get("output");
    std::string format = p.get("format", out.size() > 5 && out.compare(out.size() - 5, 5, ".json") == 0 ? "json" : "yaml");
    if (format != "yaml" && format != "json") throw Error(EINVAL, "--format: \"" + format + "\" is not yaml or json");

    auto s = cdi::generate_nvidia_spec(o);
    spec::cdi::validate_spec(s, "generated spec");
    std::string text = format == "json" ? spec::cdi::to_json(s) : spec::cdi::to_yaml(s);
    if (out.empty()) {
        print(text);
    } else {
        if (auto slash = out.rfind('/'); slash != std::string::npos && slash > 0) mkdir_p(out.substr(0, slash));
        write_file_atomic(out, text, 0644);
    }
    return 0;
}

int cdi_hook(const RuntimeContext&, const Parsed& p) {
    std::string state, chunk(4096, '\0');
    ssize_t n;
    while ((n = ::read(0, chunk.data(), chunk.size())) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) state.append(chunk.data(), static_cast<size_t>(n));
    cdi::update_ldcache(state, p.all("folder"), p.get("ldconfig", "/sbin/ldconfig"));
    return 0;
}

} // namespace

extern const std::vector<Command> cdi_commands = {
    {.name = "cdi",
     .synopsis = "cdi SUBCOMMAND [OPTIONS]",
     .what = "CDI devices: list the known ones, write a spec for the NVIDIA driver, or run the ldcache hook.",
     .flags = {},
     .run = nullptr,
     .min_args = 0,
     .max_args = SIZE_MAX,
     .order = FlagOrder::leading,
     .operand = Operand::none,
     .details = nullptr,
     .subcommands = {
         {{"list"}, "cdi list", "Print each known CDI device (vendor.com/class=name) and its spec file.", {}, cdi_list},
         {{"generate", "nvidia"}, "cdi generate nvidia [OPTIONS]",
          "Write a CDI spec (nvidia.com/gpu) for the NVIDIA driver and GPUs found.", generate_flags, cdi_generate},
         {{"hook", "update-ldcache"}, "cdi hook update-ldcache [--folder DIR]... [--ldconfig PATH]",
          "createContainer hook: rebuild the container's ld cache (state JSON on stdin).", hook_flags, cdi_hook},
     }},
};

} // namespace berth::cli
