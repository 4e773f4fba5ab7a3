// containerd's hosts.toml (docs/hosts.md; remotes/docker/config/hosts.go),
// read with toml++.
#include "hosts.hpp"

#include "error.hpp"
#include "file_util.hpp"

#include <toml++/toml.h>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace berth::image {

namespace {

namespace fs = std::filesystem;

// Every error names the file and, where one is at fault, the key.
struct Where {
    std::string file;
    [[noreturn]] void fail(const std::string& key, const std::string& why, const toml::node* n = nullptr) const {
        std::string at = file;
        if (n && n->source().begin.line) at += ":" + std::to_string(n->source().begin.line);
        throw Error(EINVAL, at + ": " + key + ": " + why);
    }
};

std::string abs_path(const std::string& p, const std::string& base) {
    if (p.empty() || p[0] == '/') return p;
    return (fs::path(base) / p).lexically_normal().string();
}

std::string string_of(const Where& w, const std::string& key, const toml::node& n) {
    if (!n.is_string()) w.fail(key, "expected a string", &n);
    return n.as_string()->get();
}

bool bool_of(const Where& w, const std::string& key, const toml::node& n) {
    if (!n.is_boolean()) w.fail(key, "expected true or false", &n);
    return n.as_boolean()->get();
}

std::vector<std::string> strings_of(const Where& w, const std::string& key, const toml::node& n) {
    if (!n.is_array()) w.fail(key, "expected an array of strings", &n);
    std::vector<std::string> out;
    size_t i = 0;
    for (auto& e : *n.as_array()) {
        if (!e.is_string()) w.fail(key + "[" + std::to_string(i) + "]", "expected a string", &e);
        out.push_back(e.as_string()->get());
        ++i;
    }
    return out;
}

// A Go duration: "1s", "500ms", "1m30s", "1.5s".
std::chrono::milliseconds duration_of(const Where& w, const std::string& key, const toml::node& n) {
    std::string s = string_of(w, key, n);
    auto bad = [&] { w.fail(key, "invalid duration \"" + s + "\" (e.g. \"1s\", \"500ms\", \"1m30s\")", &n); };
    if (s.empty()) bad();
    double total_ms = 0;
    size_t i = 0;
    while (i < s.size()) {
        size_t j = i;
        while (j < s.size() && ((s[j] >= '0' && s[j] <= '9') || s[j] == '.')) ++j;
        if (j == i) bad();
        double v = 0;
        try {
            size_t used = 0;
            v = std::stod(s.substr(i, j - i), &used);
            if (used != j - i) bad();
        } catch (const std::exception&) {
            bad();
        }
        size_t k = j;
        while (k < s.size() && !((s[k] >= '0' && s[k] <= '9') || s[k] == '.')) ++k;
        std::string unit = s.substr(j, k - j);
        double scale = 0;
        if (unit == "ns") scale = 1e-6;
        else if (unit == "us" || unit == "\u00b5s") scale = 1e-3;
        else if (unit == "ms") scale = 1;
        else if (unit == "s") scale = 1e3;
        else if (unit == "m") scale = 60e3;
        else if (unit == "h") scale = 3600e3;
        else bad();
        total_ms += v * scale;
        i = k;
    }
    if (total_ms <= 0 || total_ms > 24 * 3600e3) w.fail(key, "duration \"" + s + "\" out of range (0, 24h]", &n);
    return std::chrono::milliseconds(std::max<long long>(1, std::llround(total_ms)));
}

struct Url {
    std::string scheme, host, path;
};

// scheme://host[:port][/path]; no scheme means https (as containerd reads it).
Url parse_url(const Where& w, const std::string& key, const std::string& s, const toml::node* n) {
    Url u;
    std::string rest = s;
    auto sep = s.find("://");
    if (sep == std::string::npos) {
        u.scheme = "https";
    } else {
        u.scheme = s.substr(0, sep);
        rest = s.substr(sep + 3);
        if (u.scheme != "http" && u.scheme != "https")
            w.fail(key, "URL \"" + s + "\": scheme must be http or https", n);
    }
    if (rest.find_first_of("?#") != std::string::npos) w.fail(key, "URL \"" + s + "\": no query or fragment allowed", n);
    auto slash = rest.find('/');
    u.host = rest.substr(0, slash);
    if (slash != std::string::npos) u.path = rest.substr(slash);
    if (u.host.empty() || u.host.find_first_of(" \t@\\") != std::string::npos)
        w.fail(key, "URL \"" + s + "\": invalid host", n);
    return u;
}

const char* const kHostKeys[] = {"capabilities", "ca", "client", "skip_verify", "header", "override_path",
                                 "dial_timeout", "proxy"};

bool known_host_key(std::string_view k) {
    return std::find(std::begin(kHostKeys), std::end(kHostKeys), k) != std::end(kHostKeys);
}

// The keys a [host."URL"] table and the file's root share.
RegistryHost parse_host_table(const Where& w, const std::string& prefix, const toml::table& t, const std::string& url,
                              const toml::node* url_node, const std::string& base_dir, bool is_root) {
    RegistryHost h;
    bool override_path = false;
    for (auto&& [k, v] : t) {
        std::string key = prefix + std::string(k.str());
        std::string_view name = k.str();
        if (is_root && (name == "server" || name == "host")) continue;
        if (!known_host_key(name)) w.fail(key, "unknown key", &v);
        if (name == "capabilities") {
            h.capabilities.clear();
            for (auto& c : strings_of(w, key, v)) {
                std::string lc = c;
                std::transform(lc.begin(), lc.end(), lc.begin(), [](unsigned char ch) { return std::tolower(ch); });
                if (lc != "pull" && lc != "resolve" && lc != "push")
                    w.fail(key, "unknown capability \"" + c + "\" (pull, resolve or push)", &v);
                if (std::find(h.capabilities.begin(), h.capabilities.end(), lc) == h.capabilities.end())
                    h.capabilities.push_back(lc);
            }
        } else if (name == "ca") {
            if (v.is_string()) h.ca_files = {abs_path(v.as_string()->get(), base_dir)};
            else if (v.is_array())
                for (auto& p : strings_of(w, key, v)) h.ca_files.push_back(abs_path(p, base_dir));
            else w.fail(key, "expected a path or an array of paths", &v);
        } else if (name == "client") {
            if (v.is_string()) {
                h.client_certs.emplace_back(abs_path(v.as_string()->get(), base_dir), "");
            } else if (v.is_array()) {
                size_t i = 0;
                for (auto& e : *v.as_array()) {
                    std::string ekey = key + "[" + std::to_string(i++) + "]";
                    if (e.is_string()) {
                        h.client_certs.emplace_back(abs_path(e.as_string()->get(), base_dir), "");
                    } else if (e.is_array()) {
                        auto pair = strings_of(w, ekey, e);
                        if (pair.size() != 2 || pair[0].empty())
                            w.fail(ekey, "expected a [cert, key] pair (key \"\" when the cert file holds it)", &e);
                        h.client_certs.emplace_back(abs_path(pair[0], base_dir),
                                                    pair[1].empty() ? "" : abs_path(pair[1], base_dir));
                    } else {
                        w.fail(ekey, "expected a path or a [cert, key] pair", &e);
                    }
                }
            } else {
                w.fail(key, "expected a path, an array of paths or an array of [cert, key] pairs", &v);
            }
        } else if (name == "skip_verify") {
            h.skip_verify = bool_of(w, key, v);
        } else if (name == "override_path") {
            override_path = bool_of(w, key, v);
        } else if (name == "dial_timeout") {
            h.dial_timeout = duration_of(w, key, v);
        } else if (name == "proxy") {
            h.proxy = string_of(w, key, v);
            auto sep = h.proxy.find("://");
            std::string scheme = sep == std::string::npos ? "" : h.proxy.substr(0, sep);
            if (scheme != "http" && scheme != "https" && scheme != "socks5" && scheme != "socks5h")
                w.fail(key, "proxy \"" + h.proxy + "\": scheme must be http, https, socks5 or socks5h", &v);
            if (h.proxy.size() == sep + 3) w.fail(key, "proxy \"" + h.proxy + "\": no host", &v);
        } else if (name == "header") {
            if (!v.is_table()) w.fail(key, "expected a table of header names", &v);
            for (auto&& [hk, hv] : *v.as_table()) {
                std::string hname(hk.str());
                std::string hkey = key + "." + hname;
                if (hname.empty() || hname.find_first_of(" \t\r\n:") != std::string::npos)
                    w.fail(hkey, "invalid header name", &hv);
                std::string value;
                if (hv.is_string()) value = hv.as_string()->get();
                else if (hv.is_array()) {
                    for (auto& part : strings_of(w, hkey, hv)) value += (value.empty() ? "" : ", ") + part;
                } else w.fail(hkey, "expected a string or an array of strings", &hv);
                if (value.find_first_of("\r\n") != std::string::npos) w.fail(hkey, "line break in a header value", &hv);
                h.headers[hname] = value;
            }
        }
    }
    if (!url.empty()) {
        Url u = parse_url(w, is_root ? "server" : prefix.substr(0, prefix.size() - 1), url, url_node);
        h.scheme = u.scheme;
        h.host = u.host;
        std::string path = u.path.empty() ? "" : fs::path(u.path).lexically_normal().string();
        while (path.size() > 1 && path.back() == '/') path.pop_back();
        if (path == "/") path.clear();
        if (!override_path && !path.ends_with("/v2")) path += "/v2";
        h.api_prefix = path;
        h.url = h.scheme + "://" + h.host + path;
    }
    return h;
}

std::vector<RegistryHost> parse_hosts_file(const std::string& file, const std::string& text) {
    Where w{file};
    std::string dir = fs::path(file).parent_path().string();
    toml::table root;
    try {
        root = toml::parse(text, file);
    } catch (const toml::parse_error& e) {
        throw Error(EINVAL, file + ":" + std::to_string(e.source().begin.line) + ":" +
                                std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
    }

    std::vector<RegistryHost> hosts;
    if (auto* hn = root.get("host")) {
        if (!hn->is_table()) w.fail("host", "expected tables [host.\"URL\"]", hn);
        // toml++ keeps keys sorted; the order that counts is the file's.
        std::vector<std::pair<const toml::key*, const toml::node*>> entries;
        for (auto&& [k, v] : *hn->as_table()) entries.emplace_back(&k, &v);
        std::stable_sort(entries.begin(), entries.end(), [](auto& a, auto& b) {
            auto pa = a.second->source().begin, pb = b.second->source().begin;
            return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
        });
        for (auto& [k, v] : entries) {
            std::string prefix = "host.\"" + std::string(k->str()) + "\".";
            if (!v->is_table()) w.fail(prefix.substr(0, prefix.size() - 1), "expected a table", v);
            if (k->str().empty()) w.fail("host.\"\"", "empty URL", v);
            RegistryHost h = parse_host_table(w, prefix, *v->as_table(), std::string(k->str()), v, dir, false);
            h.mirror = true;
            hosts.push_back(std::move(h));
        }
    }
    std::string server;
    const toml::node* server_node = root.get("server");
    if (server_node) {
        server = string_of(w, "server", *server_node);
        if (server.empty()) w.fail("server", "empty URL", server_node);
    }
    hosts.push_back(parse_host_table(w, "", root, server, server_node, dir, true));
    return hosts;
}

// Docker's certs.d layout: *.crt are CAs, *.cert client certs (key in *.key).
RegistryHost cert_files_host(const std::string& dir) {
    RegistryHost h;
    std::vector<std::string> names;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec))
        if (!e.is_directory()) names.push_back(e.path().filename().string());
    if (ec) throw Error(ec.value(), "registry config " + dir + ": " + ec.message());
    std::sort(names.begin(), names.end());
    for (auto& n : names) {
        if (n.ends_with(".crt")) h.ca_files.push_back(dir + "/" + n);
        if (n.ends_with(".cert")) {
            std::string key = dir + "/" + n.substr(0, n.size() - 5) + ".key";
            struct stat st {};
            h.client_certs.emplace_back(dir + "/" + n, ::stat(key.c_str(), &st) == 0 ? key : "");
        }
    }
    return h;
}

// containerd's hostDirectory: "host:port" -> "host_port_".
std::string host_directory(const std::string& host) {
    auto i = host.rfind(':');
    if (i == std::string::npos || i == 0) return host;
    return host.substr(0, i) + "_" + host.substr(i + 1) + "_";
}

std::string find_host_dir(const std::string& root, const std::string& domain) {
    std::vector<std::string> candidates;
    if (host_directory(domain) != domain) candidates.push_back(root + "/" + host_directory(domain));
    candidates.push_back(root + "/" + domain);
    candidates.push_back(root + "/_default");
    for (auto& c : candidates) {
        struct stat st {};
        if (::stat(c.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode)) throw Error(ENOTDIR, "registry config " + c + ": not a directory");
            return c;
        }
        if (errno != ENOENT) throw_errno("registry config " + c);
    }
    return {};
}

} // namespace

bool RegistryHost::can(const std::string& capability) const {
    return std::find(capabilities.begin(), capabilities.end(), capability) != capabilities.end();
}

bool is_loopback_host(const std::string& host_port) {
    std::string h = host_port;
    if (h.starts_with('[')) {
        h = h.substr(1, h.find(']') == std::string::npos ? std::string::npos : h.find(']') - 1);
    } else if (std::count(h.begin(), h.end(), ':') == 1) {
        h = h.substr(0, h.find(':'));
    }
    std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
    if (h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1") return true;
    // 127.0.0.0/8, four dotted decimal octets.
    int octets = 0;
    size_t i = 0;
    while (i <= h.size()) {
        size_t j = h.find('.', i);
        if (j == std::string::npos) j = h.size();
        std::string o = h.substr(i, j - i);
        if (o.empty() || o.size() > 3 || o.find_first_not_of("0123456789") != std::string::npos || std::stoi(o) > 255)
            return false;
        if (octets == 0 && o != "127") return false;
        ++octets;
        i = j + 1;
    }
    return octets == 4;
}

std::vector<RegistryHost> registry_hosts(const std::string& config_dir, const std::string& domain) {
    std::vector<RegistryHost> hosts;
    if (!config_dir.empty()) {
        std::string dir = find_host_dir(config_dir, domain);
        if (!dir.empty()) {
            std::string file = dir + "/hosts.toml";
            struct stat st {};
            if (::stat(file.c_str(), &st) == 0) hosts = parse_hosts_file(file, read_file(file));
            else if (errno == ENOENT) hosts.push_back(cert_files_host(dir));
            else throw_errno("registry config " + file);
        }
    }
    if (hosts.empty()) hosts.emplace_back();
    RegistryHost& server = hosts.back();
    if (server.host.empty()) {
        if (domain == "docker.io") {
            server.scheme = "https";
            server.host = "registry-1.docker.io";
        } else {
            server.scheme = is_loopback_host(domain) ? "http" : "https";
            server.host = domain;
        }
        server.api_prefix = "/v2";
        server.url = server.scheme + "://" + server.host + server.api_prefix;
    }
    return hosts;
}

} // namespace berth::image
