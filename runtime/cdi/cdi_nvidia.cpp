// NVIDIA driver discovery for `berth cdi generate nvidia`. Everything is
// looked up under a root prefix so tests can point it at a fake tree; the
// spec names container paths, with hostPath set where the host path differs.
#include "cdi_nvidia.hpp"

#include "error.hpp"
#include "fd.hpp"
#include "file_util.hpp"
#include "strings.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <set>

extern char** environ;

namespace berth::cdi {

namespace sc = spec::cdi;

namespace {

// The driver's libraries, by name up to ".so" (libnvidia-container's lists:
// utility, compute, video, graphics, plus newer additions).
const char* const kLibs[] = {
    "libnvidia-ml", "libnvidia-cfg", "libnvidia-nscq", "libnvidia-api", "libnvidia-pkcs11", "libnvidia-pkcs11-openssl3",
    "libnvidia-sandboxutils", "libcuda", "libcudadebugger", "libnvidia-opencl", "libnvidia-gpucomp",
    "libnvidia-ptxjitcompiler", "libnvidia-fatbinaryloader", "libnvidia-allocator", "libnvidia-compiler",
    "libnvidia-nvvm", "libnvidia-nvvm70", "libvdpau_nvidia", "libnvidia-encode", "libnvidia-opticalflow",
    "libnvcuvid", "libnvidia-eglcore", "libnvidia-glcore", "libnvidia-tls", "libnvidia-glsi", "libnvidia-fbc",
    "libnvidia-ifr", "libnvidia-rtcore", "libnvoptix", "libGLX_nvidia", "libEGL_nvidia", "libGLESv2_nvidia",
    "libGLESv1_CM_nvidia", "libnvidia-glvkspirv", "libnvidia-cbl", "libnvidia-ngx",
};
const char* const kBins[] = {"nvidia-smi",         "nvidia-debugdump",        "nvidia-persistenced",
                             "nvidia-cuda-mps-control", "nvidia-cuda-mps-server", "nvidia-imex",
                             "nvidia-imex-ctl"};
const char* const kLibDirs[] = {"/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/x86_64-linux-gnu",
                                "/usr/lib64",              "/lib/x86_64-linux-gnu", "/lib64",
                                "/usr/lib",                "/lib"};
const char* const kBinDirs[] = {"/usr/local/nvidia/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"};
const char* const kControlNodes[] = {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
                                     "/dev/nvidia-modeset"};
const char* const kSockets[] = {"/run/nvidia-persistenced/socket", "/run/nvidia-fabricmanager/socket",
                                "/tmp/nvidia-mps"};

std::string under(const std::string& root, const std::string& p) {
    if (root.empty() || root == "/") return p;
    return (root.back() == '/' ? root.substr(0, root.size() - 1) : root) + p;
}

bool exists(const std::string& p, mode_t type = 0) {
    struct stat st;
    if (::stat(p.c_str(), &st) < 0) return false;
    return type == 0 || (st.st_mode & S_IFMT) == type;
}

std::vector<std::string> list(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (auto* e = ::readdir(d))
        if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

std::string trim(std::string_view s) {
    size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
    return b == std::string_view::npos ? "" : std::string(s.substr(b, e - b + 1));
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// stdout of argv (no shell); "" when it cannot run or fails.
std::string capture(const std::vector<std::string>& args) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return "";
    UniqueFd rd(p[0]), wr(p[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
    std::vector<std::string> a = args;
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t pid;
    int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    wr.reset();
    if (rc != 0) return "";
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(rd.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) out.append(buf, static_cast<size_t>(n));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? out : "";
}

std::string find_binary(const NvidiaOptions& o, const std::string& name) {
    for (auto* d : kBinDirs) {
        std::string p = std::string(d) + "/" + name;
        if (exists(under(o.root, p), S_IFREG)) return p;
    }
    return "";
}

// "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  ..." -> 580.159.04
std::string driver_version(const NvidiaOptions& o) {
    std::string text;
    try {
        text = read_file(under(o.root, "/proc/driver/nvidia/version"));
    } catch (const Error&) {
        return "";
    }
    for (auto& w : split_ws(text.substr(0, text.find('\n')))) {
        if (w.find('.') != std::string::npos && std::isdigit(static_cast<unsigned char>(w[0])) &&
            std::all_of(w.begin(), w.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; }))
            return w;
    }
    return "";
}

// The in-root path a host path names, following symlinks inside root.
std::string real_in_root(const NvidiaOptions& o, const std::string& p) {
    char buf[PATH_MAX];
    if (!::realpath(under(o.root, p).c_str(), buf)) return "";
    std::string host = buf;
    if (o.root.empty() || o.root == "/") return host;
    char rb[PATH_MAX];
    if (!::realpath(o.root.c_str(), rb)) return "";
    std::string r = rb;
    if (host.compare(0, r.size(), r) != 0 || (host.size() > r.size() && host[r.size()] != '/')) return "";
    return host.size() == r.size() ? "/" : host.substr(r.size());
}

// "libcuda" matches libcuda.so and libcuda.so.*; returns the prefix index or -1.
int lib_index(const std::string& name) {
    for (size_t i = 0; i < std::size(kLibs); ++i) {
        std::string p = std::string(kLibs[i]) + ".so";
        if (name.compare(0, p.size(), p) == 0 && (name.size() == p.size() || name[p.size()] == '.'))
            return static_cast<int>(i);
    }
    return -1;
}

// Absolute library paths recorded in the ld cache (its string table holds
// the sonames and the paths; either cache format).
std::vector<std::string> ldcache_paths(const NvidiaOptions& o) {
    std::vector<std::string> out;
    std::string data;
    try {
        data = read_file(under(o.root, "/etc/ld.so.cache"));
    } catch (const Error&) {
        return out;
    }
    size_t i = 0;
    while (i < data.size()) {
        size_t end = data.find('\0', i);
        if (end == std::string::npos) break;
        if (data[i] == '/' && end - i < PATH_MAX) {
            std::string s = data.substr(i, end - i);
            auto slash = s.rfind('/');
            if (lib_index(s.substr(slash + 1)) >= 0) out.push_back(s);
        }
        i = end + 1;
    }
    return out;
}

sc::DeviceNode node(const NvidiaOptions& o, const std::string& path) {
    sc::DeviceNode d;
    d.path = path;
    std::string dev_root = o.dev_root.empty() ? o.root : o.dev_root;
    std::string host = under(dev_root, path);
    if (host != path) d.hostPath = host;
    return d;
}

sc::Mount bind(const NvidiaOptions& o, const std::string& in_root, const std::string& target) {
    return {under(o.root, in_root), target, {"ro", "nosuid", "nodev", "bind"}, ""};
}

} // namespace

std::vector<NvidiaGpu> discover_nvidia_gpus(const NvidiaOptions& o) {
    std::vector<NvidiaGpu> gpus;
    std::string dev_root = o.dev_root.empty() ? o.root : o.dev_root;
    // 1. The driver's own description of each GPU, in PCI bus order.
    std::string proc = under(o.root, "/proc/driver/nvidia/gpus");
    for (const auto& bus : list(proc)) {
        std::string info;
        try {
            info = read_file(proc + "/" + bus + "/information");
        } catch (const Error&) {
            continue;
        }
        NvidiaGpu g;
        g.bus = bus;
        g.index = static_cast<int>(gpus.size());
        g.minor = -1;
        for (auto& line : split(info, '\n')) {
            auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string k = trim(line.substr(0, colon)), v = trim(line.substr(colon + 1));
            if (k == "GPU UUID") g.uuid = v;
            else if (k == "Device Minor" && all_digits(v)) g.minor = std::atoi(v.c_str());
        }
        if (g.minor < 0) throw Error(EINVAL, proc + "/" + bus + "/information: no \"Device Minor\"");
        gpus.push_back(g);
    }
    if (!gpus.empty()) return gpus;

    // 2. nvidia-smi -L: "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)".
    std::string smi = o.nvidia_smi;
    if (smi.empty()) {
        std::string p = find_binary(o, "nvidia-smi");
        if (!p.empty()) smi = under(o.root, p);
    }
    if (!smi.empty()) {
        for (auto& line : split(capture({smi, "-L"}), '\n')) {
            if (line.rfind("GPU ", 0) != 0) continue;
            auto colon = line.find(':');
            auto u = line.find("(UUID: ");
            if (colon == std::string::npos || !all_digits(line.substr(4, colon - 4))) continue;
            NvidiaGpu g;
            g.index = g.minor = std::atoi(line.c_str() + 4);
            if (u != std::string::npos) g.uuid = line.substr(u + 7, line.find(')', u) - u - 7);
            gpus.push_back(g);
        }
        if (!gpus.empty()) return gpus;
    }

    // 3. The device nodes alone (no UUIDs).
    std::vector<int> minors;
    for (const auto& n : list(under(dev_root, "/dev")))
        if (n.rfind("nvidia", 0) == 0 && all_digits(n.substr(6))) minors.push_back(std::atoi(n.c_str() + 6));
    std::sort(minors.begin(), minors.end());
    for (int m : minors) gpus.push_back({m, m, "", ""});
    return gpus;
}

spec::cdi::Spec generate_nvidia_spec(const NvidiaOptions& o) {
    auto gpus = discover_nvidia_gpus(o);
    std::string dev_root = o.dev_root.empty() ? o.root : o.dev_root;
    if (gpus.empty())
        throw Error(ENOENT, "no NVIDIA GPU found: no " + under(o.root, "/proc/driver/nvidia/gpus") +
                                ", no nvidia-smi, no " + under(dev_root, "/dev/nvidia[0-9]*"));
    sc::Spec s;
    s.kind = o.kind;

    // Devices: one per GPU by index and by UUID, and "all".
    sc::Device all;
    all.name = "all";
    for (const auto& g : gpus) {
        std::string path = "/dev/nvidia" + std::to_string(g.minor);
        if (!exists(under(dev_root, path)))
            throw Error(ENOENT, "GPU " + std::to_string(g.index) + ": no device node " + under(dev_root, path));
        sc::Device d;
        d.containerEdits.deviceNodes.push_back(node(o, path));
        all.containerEdits.deviceNodes.push_back(node(o, path));
        if (o.by_index) {
            d.name = std::to_string(g.index);
            s.devices.push_back(d);
        }
        if (o.by_uuid && !g.uuid.empty()) {
            d.name = g.uuid;
            s.devices.push_back(d);
        }
    }
    // MIG capability nodes grant MIG access or management: only "all" gets them.
    for (const auto& n : list(under(dev_root, "/dev/nvidia-caps")))
        all.containerEdits.deviceNodes.push_back(node(o, "/dev/nvidia-caps/" + n));
    s.devices.push_back(all);

    // What every GPU needs: control nodes, driver files, the ld cache hook.
    auto& e = s.containerEdits;
    for (auto* n : kControlNodes)
        if (exists(under(dev_root, n))) e.deviceNodes.push_back(node(o, n));

    std::vector<std::string> candidates;
    std::vector<std::string> dirs;
    for (const auto& d : o.lib_dirs) dirs.push_back(d);
    dirs.push_back("/usr/local/nvidia/lib64");
    dirs.push_back("/usr/local/nvidia/lib");
    for (const auto& d : dirs)
        for (const auto& n : list(under(o.root, d)))
            if (lib_index(n) >= 0) candidates.push_back(d + "/" + n);
    for (const auto& p : ldcache_paths(o)) candidates.push_back(p);
    for (auto* d : kLibDirs)
        for (const auto& n : list(under(o.root, d)))
            if (lib_index(n) >= 0) candidates.push_back(std::string(d) + "/" + n);

    std::set<int> have;   // one copy of each library: the first found
    std::set<std::string> folders_seen;
    std::vector<std::string> folders;
    std::string version = driver_version(o);
    for (const auto& c : candidates) {
        std::string real = real_in_root(o, c);
        if (real.empty() || !exists(under(o.root, real), S_IFREG)) continue;
        std::string base = real.substr(real.rfind('/') + 1);
        int li = lib_index(base);
        if (li < 0 || base.find(".so.") == std::string::npos || have.count(li)) continue;
        have.insert(li);
        if (version.empty() && std::string(kLibs[li]) == "libcuda") version = base.substr(std::string("libcuda.so.").size());
        e.mounts.push_back(bind(o, real, real));
        std::string dir = real.substr(0, real.rfind('/'));
        if (folders_seen.insert(dir).second) folders.push_back(dir);
    }
    if (have.empty())
        throw Error(ENOENT, "no NVIDIA driver libraries (libcuda.so.*, libnvidia-ml.so.*) under " + o.root);

    for (auto* b : kBins) {
        std::string p = find_binary(o, b);
        if (!p.empty()) e.mounts.push_back(bind(o, p, std::string("/usr/bin/") + b));
    }
    if (!version.empty()) {
        std::string fw = "/lib/firmware/nvidia/" + version;
        for (const auto& n : list(under(o.root, fw)))
            if (n.rfind("gsp", 0) == 0 && n.size() > 4 && n.compare(n.size() - 4, 4, ".bin") == 0)
                e.mounts.push_back(bind(o, fw + "/" + n, fw + "/" + n));
    }
    for (auto* p : kSockets) {
        if (!exists(under(o.root, p))) continue;
        auto m = bind(o, p, p);
        m.options = {"nosuid", "nodev", "noexec", "bind"};
        e.mounts.push_back(m);
    }
    if (!o.hook_path.empty()) {
        sc::Hook h;
        h.hookName = "createContainer";
        h.path = o.hook_path;
        h.args = {"berth", "cdi", "hook", "update-ldcache"};
        if (!o.ldconfig.empty()) {
            h.args.push_back("--ldconfig");
            h.args.push_back(o.ldconfig);
        }
        for (const auto& f : folders) {
            h.args.push_back("--folder");
            h.args.push_back(f);
        }
        e.hooks.push_back(h);
    }
    s.cdiVersion = sc::minimum_version(s);
    return s;
}

} // namespace berth::cdi
