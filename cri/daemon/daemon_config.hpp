// berthd's configuration: a TOML file (default /etc/berth/berthd.toml,
// every key documented with its default in contrib/berthd.toml), then the
// command line's flags over it. An unknown key or a bad value is an Error
// naming the key and the file, before anything starts.
#pragma once

#include "exec_configs.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::cri {

enum class LogLevel { debug, info, warn, error };

struct Config {
    std::string config_file = "/etc/berth/berthd.toml";
    std::string root = "/var/lib/berth";              // images, layers, container rootfs, metadata
    std::string state = "/run/berth";                 // sockets and runtime state
    std::string listen = "/run/berth/berthd.sock";    // the CRI socket
    std::string socket_group;                         // group of the socket (mode 0660); "": root's
    std::string registry_config;                      // containerd-style hosts.toml dir; "": none
    LogLevel log_level = LogLevel::info;

    struct Images {
        int max_concurrent_downloads = 3;             // layers of one pull fetched at once
        bool copy_rootfs = false;                     // copy layers instead of an overlay mount
        size_t max_manifest_bytes = 4 << 20;
        std::chrono::seconds pull_timeout{0};         // 0: only the request's deadline
    } images;

    // Pods and containers.
    struct Handler {                                  // a runtime handler (Kubernetes RuntimeClass)
        std::vector<std::string> cdi_devices;         // injected into every container of its pods
        std::string seccomp_profile;                  // "": the [runtime] one
        std::string cgroup_parent;                    // "": the [runtime] one
        std::string cgroup_driver;                    // "": the [runtime] one
        std::string shim;                             // the pod shim; "": the [runtime] one
        std::chrono::seconds shim_start_timeout{0};   // 0: the [runtime] one
    };
    struct Runtime {
        std::string shim = "";                        // berth-shim; "": next to berthd, else on PATH
        // Who owns the containers' cgroups: "cgroupfs" (berth writes them) or
        // "systemd" (transient scopes and slices, as kubelet's systemd driver).
        std::string cgroup_driver = "cgroupfs";
        // For pods that name none: a path (cgroupfs; default /berthd) or a
        // slice (systemd; default berthd.slice).
        std::string cgroup_parent = "/berthd";
        std::string seccomp_profile = "";             // RuntimeDefault; "": contrib/seccomp/default.json, built in
        std::vector<std::string> cdi_spec_dirs = {"/etc/cdi", "/var/run/cdi"};
        std::chrono::seconds shim_start_timeout{10};
        // How often every running container's state is asked of its shim,
        // for exits no exit record told (a shim killed with -9).
        std::chrono::seconds exit_sweep_interval{5};
        std::map<std::string, Handler> handlers;      // "" is the default handler, always there
    } runtime;

    // The streaming server (exec, attach, port-forward URLs): HOST:PORT;
    // port 0 is one the kernel picks.
    struct Stream {
        std::string address = "127.0.0.1:0";
    } stream;

    // Pod networks through CNI plugins (spec 1.0).
    struct Cni {
        std::string conf_dir = "/etc/cni/net.d";      // the lexically first valid .conflist/.conf/.json wins
        std::vector<std::string> bin_dirs = {"/usr/lib/cni", "/opt/cni/bin"};
        std::chrono::seconds plugin_timeout{60};      // one plugin call; a hung plugin is killed after it
        // A pod that has its own network namespace while no CNI config is
        // there: "loopback" runs it with `lo` alone (NetworkReady stays
        // false, so kubelet holds such pods back); "refuse" fails it.
        std::string unconfigured = "loopback";
    } cni;

    // berthd also on TCP with mutual TLS, for remote execution managers
    // and berthctl --host (as Docker's DOCKER_TLS_VERIFY setup): a client
    // must present a certificate the CA signed; its Common Name maps to a
    // user and groups (clients), checked as a socket caller's are.
    struct Tls {
        std::string address;   // HOST:PORT; "": no TCP listener
        std::string ca, cert, key;   // PEM files
        struct Client {
            std::string user;                 // the identity's name (uid from the system when it has one)
            std::vector<std::string> groups;  // groups, by name
        };
        std::map<std::string, Client> clients;   // by the certificate's Common Name
    } tls;

    // Execution configurations for workloads run directly (issue 16).
    struct Executions {
        std::string config_dir;   // one NAME.toml per config; "": none
        // Its members see, wait for, read and cancel every user's
        // executions, as root does (read at start, not on SIGHUP).
        std::string admin_group;
        std::optional<gid_t> admin_gid;
    } executions;
    // [configs.NAME] and the config dir's files, checked; SIGHUP reloads
    // them (Daemon::reload_exec_configs), keeping the last good set.
    ExecConfigs configs;
};

// Flags as parsed from argv (empty / unset: not given).
struct Flags {
    std::string config, root, state, listen, registry_config, log_level, cni_conf_dir, stream_address;
    std::vector<std::string> cni_bin_dirs;   // --cni-bin-dir, repeatable
    bool config_given = false;   // --config: the file must exist
};

// argv -> Flags; throws Error(EINVAL) naming a bad flag. --help and
// --version are handled by the caller (returned as `help`/`version`).
Flags parse_flags(int argc, char** argv, bool& help, bool& version);
std::string usage();

// The file (if it exists, or must when --config named it), then the flags.
Config load_config(const Flags& f);
// Parse TOML text as if read from `file` (tests use this).
Config parse_config_text(const std::string& text, const std::string& file);
// The execution configurations alone, read again from the config file and
// its config dir (SIGHUP). Error naming the config and key; the caller
// keeps what it had.
ExecConfigs reload_exec_configs(const Config& current);

LogLevel parse_log_level(const std::string& s, const std::string& what);
const char* log_level_name(LogLevel l);

} // namespace berth::cri
