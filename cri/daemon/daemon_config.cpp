#include "daemon_config.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "toml_values.hpp"

#include <toml++/toml.h>

#include <sys/stat.h>

#include <cstring>
#include <set>

namespace berth::cri {

namespace {

using namespace tomlv;

std::string want_driver(const toml::node& n, const std::string& file, const std::string& key) {
    std::string s = want_string(n, file, key);
    if (s != "cgroupfs" && s != "systemd") bad(file, key, "expected \"cgroupfs\" or \"systemd\", got \"" + s + "\"");
    return s;
}

// A cgroup parent: an absolute path for cgroupfs, a slice unit name
// ("berthd.slice", "kubepods-burstable.slice") for systemd.
void check_parent(const std::string& p, const std::string& driver, const std::string& file, const std::string& key,
                  bool optional) {
    if (optional && p.empty()) return;
    if (driver == "systemd") {
        if (!p.ends_with(".slice") || p.find('/') != std::string::npos || p.size() <= 6)
            bad(file, key, "the systemd cgroup driver needs a slice name such as \"berthd.slice\", got \"" + p + "\"");
    } else if (p.empty() || p.front() != '/') {
        bad(file, key, "expected an absolute path, got \"" + p + "\"");
    }
}

void apply_runtime(const toml::node& node, Config& c, const std::string& file) {
    auto& r = c.runtime;
    bool parent_given = false;
    for (auto&& [k, n] : want_table(node, file, "runtime")) {
        std::string name = "runtime." + std::string(k.str());
        if (k == "shim") r.shim = want_opt_abs_path(n, file, name);
        else if (k == "cgroup_parent") r.cgroup_parent = want_string(n, file, name), parent_given = true;
        else if (k == "cgroup_driver") r.cgroup_driver = want_driver(n, file, name);
        else if (k == "seccomp_profile") r.seccomp_profile = want_opt_abs_path(n, file, name);
        else if (k == "cdi_spec_dirs") r.cdi_spec_dirs = want_strings(n, file, name);
        else if (k == "shim_start_timeout") r.shim_start_timeout = want_duration(n, file, name);
        else if (k == "exit_sweep_interval") {
            r.exit_sweep_interval = want_duration(n, file, name);
            if (r.exit_sweep_interval.count() < 1) bad(file, name, "must be at least 1s");
        }
        else if (k == "handlers") {
            for (auto&& [hk, hn] : want_table(n, file, name)) {
                std::string hname = name + "." + std::string(hk.str());
                Config::Handler h;
                for (auto&& [ok, on] : want_table(hn, file, hname)) {
                    std::string oname = hname + "." + std::string(ok.str());
                    if (ok == "cdi_devices") h.cdi_devices = want_strings(on, file, oname);
                    else if (ok == "seccomp_profile") h.seccomp_profile = want_opt_abs_path(on, file, oname);
                    else if (ok == "cgroup_parent") h.cgroup_parent = want_string(on, file, oname);
                    else if (ok == "cgroup_driver") h.cgroup_driver = want_driver(on, file, oname);
                    else if (ok == "shim") h.shim = want_opt_abs_path(on, file, oname);
                    else if (ok == "shim_start_timeout") h.shim_start_timeout = want_duration(on, file, oname);
                    else bad(file, oname, "unknown key");
                }
                for (const auto& d : h.cdi_devices)
                    if (d.find('=') == std::string::npos || d.find('/') == std::string::npos)
                        bad(file, hname + ".cdi_devices", "\"" + d + "\" is not a CDI device name (vendor.com/class=name)");
                r.handlers[std::string(hk.str())] = std::move(h);
            }
        } else {
            bad(file, name, "unknown key");
        }
    }
    // Parents are checked against their driver once both are known.
    if (r.cgroup_driver == "systemd" && !parent_given) r.cgroup_parent = "berthd.slice";
    check_parent(r.cgroup_parent, r.cgroup_driver, file, "runtime.cgroup_parent", false);
    for (auto& [hn, h] : r.handlers)
        check_parent(h.cgroup_parent, h.cgroup_driver.empty() ? r.cgroup_driver : h.cgroup_driver, file,
                     "runtime.handlers." + hn + ".cgroup_parent", true);
}

void apply_cni(const toml::node& node, Config& c, const std::string& file) {
    for (auto&& [k, n] : want_table(node, file, "cni")) {
        std::string name = "cni." + std::string(k.str());
        if (k == "conf_dir") c.cni.conf_dir = want_abs_path(n, file, name);
        else if (k == "bin_dirs") {
            c.cni.bin_dirs = want_strings(n, file, name);
            for (size_t i = 0; i < c.cni.bin_dirs.size(); ++i)
                if (c.cni.bin_dirs[i].empty() || c.cni.bin_dirs[i].front() != '/')
                    bad(file, name + "[" + std::to_string(i) + "]", "expected an absolute path, got \"" + c.cni.bin_dirs[i] + "\"");
        } else if (k == "plugin_timeout") {
            c.cni.plugin_timeout = want_duration(n, file, name);
            if (c.cni.plugin_timeout.count() < 1) bad(file, name, "must be at least 1s");
        } else if (k == "unconfigured") {
            c.cni.unconfigured = want_string(n, file, name);
            if (c.cni.unconfigured != "loopback" && c.cni.unconfigured != "refuse")
                bad(file, name, "expected \"loopback\" or \"refuse\", got \"" + c.cni.unconfigured + "\"");
        } else {
            bad(file, name, "unknown key");
        }
    }
}

void apply_table(const toml::table& t, Config& c, const std::string& file) {
    static const std::set<std::string> top = {"root", "state", "listen", "socket_group", "registry_config",
                                              "log_level", "images", "runtime", "cni", "stream",
                                              "executions", "configs", "tls"};
    for (auto&& [k, node] : t) {
        std::string key(k.str());
        if (!top.count(key)) bad(file, key, "unknown key");
        if (key == "root") c.root = want_abs_path(node, file, key);
        else if (key == "state") c.state = want_abs_path(node, file, key);
        else if (key == "listen") c.listen = want_abs_path(node, file, key);
        else if (key == "socket_group") c.socket_group = want_string(node, file, key);
        else if (key == "registry_config") c.registry_config = want_string(node, file, key);
        else if (key == "log_level") c.log_level = parse_log_level(want_string(node, file, key), file + ": " + key);
        else if (key == "images") {
            const toml::table* it = node.as_table();
            if (!it) bad(file, key, "expected a table ([images])");
            for (auto&& [ik, in] : *it) {
                std::string name = "images." + std::string(ik.str());
                if (ik == "max_concurrent_downloads")
                    c.images.max_concurrent_downloads = static_cast<int>(want_int(in, file, name, 1, 64));
                else if (ik == "copy_rootfs") c.images.copy_rootfs = want_bool(in, file, name);
                else if (ik == "max_manifest_bytes")
                    c.images.max_manifest_bytes = static_cast<size_t>(want_int(in, file, name, 4096, 64 << 20));
                else if (ik == "pull_timeout") c.images.pull_timeout = want_duration(in, file, name);
                else bad(file, name, "unknown key");
            }
        } else if (key == "runtime") {
            apply_runtime(node, c, file);
        } else if (key == "cni") {
            apply_cni(node, c, file);
        } else if (key == "tls") {
            for (auto&& [tk, tn] : want_table(node, file, "tls")) {
                std::string name = "tls." + std::string(tk.str());
                if (tk == "address") {
                    c.tls.address = want_string(tn, file, name);
                    if (!c.tls.address.empty() && c.tls.address.rfind(':') == std::string::npos)
                        bad(file, name, "expected HOST:PORT, got \"" + c.tls.address + "\"");
                } else if (tk == "ca") c.tls.ca = want_abs_path(tn, file, name);
                else if (tk == "cert") c.tls.cert = want_abs_path(tn, file, name);
                else if (tk == "key") c.tls.key = want_abs_path(tn, file, name);
                else if (tk == "clients") {
                    for (auto&& [ck, cn] : want_table(tn, file, name)) {
                        std::string cname = name + "." + std::string(ck.str());
                        Config::Tls::Client cl;
                        for (auto&& [fk, fn] : want_table(cn, file, cname)) {
                            std::string fname = cname + "." + std::string(fk.str());
                            if (fk == "user") cl.user = want_string(fn, file, fname);
                            else if (fk == "groups") cl.groups = want_strings(fn, file, fname);
                            else bad(file, fname, "unknown key (user, groups)");
                        }
                        if (cl.user.empty()) bad(file, cname + ".user", "required: the user this certificate acts as");
                        c.tls.clients[std::string(ck.str())] = std::move(cl);
                    }
                } else {
                    bad(file, name, "unknown key (address, ca, cert, key, clients)");
                }
            }
            if (!c.tls.address.empty() && (c.tls.ca.empty() || c.tls.cert.empty() || c.tls.key.empty()))
                bad(file, "tls", "address needs ca, cert and key");
        } else if (key == "executions") {
            for (auto&& [ek, en] : want_table(node, file, "executions")) {
                std::string name = "executions." + std::string(ek.str());
                if (ek == "config_dir") {
                    c.executions.config_dir = want_opt_abs_path(en, file, name);
                } else if (ek == "admin_group") {
                    c.executions.admin_group = want_string(en, file, name);
                    if (!c.executions.admin_group.empty())   // "": none, as contrib/berthd.toml says
                        c.executions.admin_gid = resolve_group(c.executions.admin_group, file, name);
                } else {
                    bad(file, name, "unknown key (config_dir, admin_group)");
                }
            }
        } else if (key == "configs") {
            want_table(node, file, "configs");   // read once the runtime handlers are known
        } else if (key == "stream") {
            for (auto&& [sk, sn] : want_table(node, file, "stream")) {
                std::string name = "stream." + std::string(sk.str());
                if (sk == "address") {
                    c.stream.address = want_string(sn, file, name);
                    if (c.stream.address.rfind(':') == std::string::npos)
                        bad(file, name, "expected HOST:PORT, got \"" + c.stream.address + "\"");
                } else {
                    bad(file, name, "unknown key");
                }
            }
        }
    }
}

} // namespace

LogLevel parse_log_level(const std::string& s, const std::string& what) {
    if (s == "debug") return LogLevel::debug;
    if (s == "info") return LogLevel::info;
    if (s == "warn" || s == "warning") return LogLevel::warn;
    if (s == "error") return LogLevel::error;
    throw Error(EINVAL, what + ": unknown log level \"" + s + "\" (debug, info, warn or error)");
}

const char* log_level_name(LogLevel l) {
    switch (l) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    }
    return "info";
}

namespace {

toml::table parse_toml(const std::string& text, const std::string& file) {
    try {
        return toml::parse(text, file);
    } catch (const toml::parse_error& e) {
        const auto& b = e.source().begin;
        throw Error(EINVAL, file + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) + ": " +
                                std::string(e.description()));
    }
}

std::set<std::string> handler_names(const Config& c) {
    std::set<std::string> h = {""};
    for (const auto& [name, _] : c.runtime.handlers) h.insert(name);
    return h;
}

// [configs] of the parsed file and the config dir's files; the config dir
// and the handlers are the ones the file names (c).
ExecConfigs load_configs_of(const toml::table& t, const Config& c, const std::string& file) {
    ExecConfigs main;
    if (const toml::node* n = t.get("configs")) main = parse_exec_configs(*n->as_table(), file, handler_names(c));
    return load_exec_configs(main, c.executions.config_dir, handler_names(c));
}

} // namespace

Config parse_config_text(const std::string& text, const std::string& file) {
    Config c;
    c.config_file = file;
    toml::table t = parse_toml(text, file);
    apply_table(t, c, file);
    c.configs = load_configs_of(t, c, file);
    return c;
}

ExecConfigs reload_exec_configs(const Config& current) {
    const std::string& file = current.config_file;
    struct stat st;
    if (::stat(file.c_str(), &st) < 0) {
        if (errno != ENOENT) throw_errno("config " + file);
        return load_exec_configs({}, current.executions.config_dir, handler_names(current));
    }
    toml::table t = parse_toml(read_file(file), file);
    return load_configs_of(t, current, file);
}

Config load_config(const Flags& f) {
    Config c;
    std::string file = f.config.empty() ? c.config_file : f.config;
    struct stat st;
    if (::stat(file.c_str(), &st) == 0) {
        c = parse_config_text(read_file(file), file);
    } else if (errno != ENOENT || f.config_given) {
        throw_errno("--config " + file);
    }
    c.config_file = file;
    auto abs = [](const std::string& flag, const std::string& v) {
        if (v.empty() || v.front() != '/') throw Error(EINVAL, flag + ": expected an absolute path, got \"" + v + "\"");
        return v;
    };
    if (!f.root.empty()) c.root = abs("--root", f.root);
    if (!f.state.empty()) c.state = abs("--state", f.state);
    if (!f.listen.empty()) c.listen = abs("--listen", f.listen);
    if (!f.registry_config.empty()) c.registry_config = f.registry_config;
    if (!f.log_level.empty()) c.log_level = parse_log_level(f.log_level, "--log-level");
    if (!f.cni_conf_dir.empty()) c.cni.conf_dir = abs("--cni-conf-dir", f.cni_conf_dir);
    if (!f.stream_address.empty()) {
        if (f.stream_address.rfind(':') == std::string::npos)
            throw Error(EINVAL, "--stream-address: expected HOST:PORT, got \"" + f.stream_address + "\"");
        c.stream.address = f.stream_address;
    }
    if (!f.cni_bin_dirs.empty()) {
        c.cni.bin_dirs.clear();
        for (const auto& d : f.cni_bin_dirs) c.cni.bin_dirs.push_back(abs("--cni-bin-dir", d));
    }
    return c;
}

std::string usage() {
    return "Usage: berthd [OPTIONS]\n"
           "A Kubernetes CRI v1 server (RuntimeService and ImageService) on a unix socket.\n\n"
           "Options (each overrides the config file's key):\n"
           "  --config FILE           config file (default /etc/berth/berthd.toml; see contrib/berthd.toml)\n"
           "  --root DIR              images, layers and metadata (default /var/lib/berth)\n"
           "  --state DIR             sockets and runtime state (default /run/berth)\n"
           "  --listen PATH           the CRI socket (default /run/berth/berthd.sock)\n"
           "  --registry-config DIR   registry hosts, containerd's layout: DIR/<host>/hosts.toml\n"
           "  --log-level LEVEL       debug, info, warn or error (default info)\n"
           "  --cni-conf-dir DIR      CNI network configs (default /etc/cni/net.d)\n"
           "  --stream-address ADDR   the streaming server's HOST:PORT (default 127.0.0.1:0, a free port)\n"
           "  --cni-bin-dir DIR       CNI plugins; repeat for more (default /usr/lib/cni and /opt/cni/bin)\n"
           "  -h, --help              this help\n"
           "  -v, --version           print the version\n";
}

Flags parse_flags(int argc, char** argv, bool& help, bool& version) {
    Flags f;
    help = version = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            help = true;
            continue;
        }
        if (a == "-v" || a == "--version") {
            version = true;
            continue;
        }
        std::string name = a, value;
        bool has_value = false;
        if (auto eq = a.find('='); a.starts_with("--") && eq != std::string::npos) {
            name = a.substr(0, eq);
            value = a.substr(eq + 1);
            has_value = true;
        }
        std::string bin_dir;
        std::string* dst = name == "--config"            ? &f.config
                           : name == "--cni-conf-dir"    ? &f.cni_conf_dir
                           : name == "--stream-address"  ? &f.stream_address
                           : name == "--cni-bin-dir"     ? &bin_dir
                           : name == "--root"            ? &f.root
                           : name == "--state"           ? &f.state
                           : name == "--listen"          ? &f.listen
                           : name == "--registry-config" ? &f.registry_config
                           : name == "--log-level"       ? &f.log_level
                                                         : nullptr;
        if (!dst) throw Error(EINVAL, "unknown flag " + a + "; see berthd --help");
        if (!has_value) {
            if (i + 1 >= argc) throw Error(EINVAL, "flag " + name + " needs a value");
            value = argv[++i];
        }
        *dst = value;
        if (name == "--config") f.config_given = true;
        if (name == "--cni-bin-dir") f.cni_bin_dirs.push_back(value);
    }
    return f;
}

} // namespace berth::cri
