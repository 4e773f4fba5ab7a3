// Registry hosts from containerd's layout, so users can reuse theirs:
// DIR/<registry host>/hosts.toml with `server = "URL"` and [host."URL"]
// tables (capabilities, ca, client, skip_verify, override_path, header),
// tried in file order before the server. Parsed with toml++; an unknown key
// or a bad value is an Error naming the key and the file.
#pragma once

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
    std::vector<std::string> capabilities = {"pull", "resolve"};
    std::vector<std::string> ca_files;
    std::vector<std::pair<std::string, std::string>> client_certs;   // cert, key ("" = key in the cert file)
    bool skip_verify = false;
    std::map<std::string, std::string> headers;
    bool can(const std::string& capability) const;
};

// The hosts to try for `domain`, in order. Without a hosts.toml (or with
// one that names no server): the default server, https://DOMAIN
// (https://registry-1.docker.io for docker.io), or http:// for localhost,
// 127.0.0.0/8 and ::1. config_dir may be empty.
std::vector<RegistryHost> registry_hosts(const std::string& config_dir, const std::string& domain);

bool is_loopback_host(const std::string& host_port);

} // namespace berth::image
