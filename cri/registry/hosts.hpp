// Registry hosts from containerd's layout, so users can reuse theirs:
// DIR/<registry host>/hosts.toml with `server = "URL"` and [host."URL"]
// tables (capabilities, ca, client, skip_verify, override_path, header,
// dial_timeout, proxy), tried in file order before the server. The host dir
// is the first of DIR/<host>_<port>_, DIR/<host:port> and DIR/_default that
// exists; without a hosts.toml there, Docker's certs.d files (*.crt CAs,
// *.cert client certificates with their *.key) apply to the server. Parsed
// with toml++; an unknown key or a bad value is an Error(EINVAL) naming the
// key and the file.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace berth::image {

struct RegistryHost {
    std::string url;                  // scheme://host[:port][/prefix] as configured
    std::string scheme;               // "https" or "http"
    std::string host;                 // host[:port]
    std::string api_prefix = "/v2";   // "/v2", or the URL's path with override_path
    std::vector<std::string> capabilities = {"pull", "resolve", "push"};
    std::vector<std::string> ca_files;   // absolute (relative ones are taken from the hosts.toml's dir)
    std::vector<std::pair<std::string, std::string>> client_certs;   // cert, key ("" = key in the cert file)
    bool skip_verify = false;
    std::map<std::string, std::string> headers;   // an array value is joined with ", "
    std::chrono::milliseconds dial_timeout{30000};
    std::string proxy;     // "" = the environment's (https_proxy, no_proxy, ...)
    bool mirror = false;   // from a [host] table: a 404 there falls through to the next host
    bool can(const std::string& capability) const;
};

// The hosts to try for `domain`, in order, the server last. Without a
// hosts.toml (or with one that names no server) the server is the default
// one: https://DOMAIN (https://registry-1.docker.io for docker.io), or
// http:// for localhost, 127.0.0.0/8 and ::1. config_dir may be empty.
std::vector<RegistryHost> registry_hosts(const std::string& config_dir, const std::string& domain);

// localhost, 127.0.0.0/8 or ::1, with or without a port ("[::1]:5000").
bool is_loopback_host(const std::string& host_port);

} // namespace berth::image
