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
    {"root", 0, true, "look for the driver under this prefix (default /)"},
    {"dev-root", 0, true, "look for /dev/nvidia* under this prefix (default: --root)"},
    {"lib-dir", 0, true, "also search this library dir (inside --root; repeatable)"},
    {"hook-path", 0, true, "berth binary the ldcache hook runs (default: this binary)"},
    {"no-hook", 0, false, "no update-ldcache hook"},
    {"ldconfig", 0, true, "ldconfig the hook runs (default /sbin/ldconfig)"},
    {"nvidia-smi", 0, true, "nvidia-smi to ask for GPU UUIDs when /proc/driver/nvidia has none"},
    {"device-name-strategy", 0, true, "index, uuid or both (default both)"},
    {"format", 0, true, "yaml or json (default: from --output's name, else yaml)"},
    {"output", 'o', true, "write the spec here (e.g. /var/run/cdi/nvidia.yaml); default stdout"},
};
const std::vector<Flag> hook_flags = {
    {"folder", 0, true, "a library dir inside the container (repeatable)"},
    {"ldconfig", 0, true, "host ldconfig to run (default /sbin/ldconfig)"},
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

int cdi_list(const RuntimeContext& ctx) {
    auto reg = cdi::Registry::load(spec_dirs(ctx));
    for (const auto& e : reg.errors) std::fprintf(stderr, "berth: warning: %s\n", e.c_str());
    for (const auto& [name, why] : reg.conflicts) std::fprintf(stderr, "berth: warning: %s\n", why.c_str());
    for (const auto& [name, at] : reg.devices)
        if (!reg.conflicts.count(name)) print(name + "\t" + reg.files[at.file].path + "\n");
    return 0;
}

int cdi_generate(const Parsed& p) {
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

int cdi_hook(const Parsed& p) {
    std::string state, chunk(4096, '\0');
    ssize_t n;
    while ((n = ::read(0, chunk.data(), chunk.size())) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) state.append(chunk.data(), static_cast<size_t>(n));
    cdi::update_ldcache(state, p.all("folder"), p.get("ldconfig", "/sbin/ldconfig"));
    return 0;
}

int cmd_cdi(const RuntimeContext& ctx, const Parsed& p) {
    const auto& a = p.args;
    auto words = [&](std::initializer_list<const char*> w) {
        if (a.size() < w.size()) return false;
        size_t i = 0;
        for (auto* s : w)
            if (a[i++] != s) return false;
        return true;
    };
    auto rest = [&](size_t from, const std::vector<Flag>& flags, const char* synopsis, const char* what) {
        std::vector<Flag> f = flags;
        f.push_back({"help", 'h', false, "show help"});
        size_t i = from;
        Parsed sub = parse(a, i, f, false);
        if (sub.flag("help")) {
            print(usage(synopsis, what, flags));
            std::exit(0);
        }
        if (!sub.args.empty()) throw Error(EINVAL, "cdi: unexpected argument \"" + sub.args[0] + "\"; usage: berth " + synopsis);
        return sub;
    };
    if (words({"list"})) {
        rest(1, {}, "cdi list", "Print each known CDI device (vendor.com/class=name) and its spec file.");
        return cdi_list(ctx);
    }
    if (words({"generate", "nvidia"}))
        return cdi_generate(rest(2, generate_flags, "cdi generate nvidia [OPTIONS]",
                                 "Write a CDI spec (nvidia.com/gpu) for the NVIDIA driver and GPUs found."));
    if (words({"hook", "update-ldcache"}))
        return cdi_hook(rest(2, hook_flags, "cdi hook update-ldcache [--folder DIR]... [--ldconfig PATH]",
                             "createContainer hook: rebuild the container's ld cache (state JSON on stdin)."));
    throw Error(EINVAL, "cdi: unknown subcommand \"" + (a.empty() ? std::string() : a[0]) +
                            "\"; use list, generate nvidia or hook update-ldcache");
}

} // namespace

extern const std::vector<Command> cdi_commands = {
    {"cdi", "cdi list | cdi generate nvidia [OPTIONS] | cdi hook update-ldcache [OPTIONS]",
     "CDI devices: list the known ones, write a spec for the NVIDIA driver, or run the ldcache hook.", {}, cmd_cdi,
     1, SIZE_MAX},
};

} // namespace berth::cli
