// A pod's /etc/hostname, /etc/hosts and /etc/resolv.conf, written by
// berthd under the pod's dir and bind mounted into each of its containers.
// The contents are pure functions of the PodSandboxConfig (and, for a pod
// on the host's network or without a DNS config, of the host's files).
#pragma once

#include "api.pb.h"

#include <string>

namespace berth::cri {

// The host's side, replaceable by tests.
struct HostFiles {
    std::string resolv_conf = "/etc/resolv.conf";
    std::string hosts = "/etc/hosts";
    std::string hostname;   // "": gethostname()
};

// resolv.conf from dns_config as containerd writes it ("search", then one
// "nameserver" line each, then "options"); with no servers, searches or
// options, the host's resolv.conf. A value with whitespace (which would
// split into more fields or lines) is an Error(EINVAL) naming it
// ("dns_config.servers[1]: ...").
std::string resolv_conf_content(const runtime::v1::PodSandboxConfig& pod, const HostFiles& host = {});

// /etc/hosts: the localhost lines and the pod's hostname on 127.0.1.1 (as
// CRI-O); a pod on the host's network gets the host's /etc/hosts.
std::string hosts_content(const runtime::v1::PodSandboxConfig& pod, const HostFiles& host = {});

// The pod's hostname, or the host's when the pod gives none (host network).
std::string pod_hostname(const runtime::v1::PodSandboxConfig& pod, const HostFiles& host = {});
std::string hostname_content(const runtime::v1::PodSandboxConfig& pod, const HostFiles& host = {});

struct PodFiles {
    std::string hostname, hosts, resolv_conf;   // absolute paths
};

// Write DIR/hostname, DIR/hosts and DIR/resolv.conf (mode 0644, each
// atomically). DIR must exist.
PodFiles write_pod_files(const std::string& dir, const runtime::v1::PodSandboxConfig& pod, const HostFiles& host = {});

} // namespace berth::cri
