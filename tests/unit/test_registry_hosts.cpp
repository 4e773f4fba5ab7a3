// containerd's hosts.toml layout (cri/registry/hosts.cpp).
#include "error.hpp"
#include "hosts.hpp"
#include "test_dir.hpp"

#include <criterion/criterion.h>

#include <filesystem>
#include <fstream>

using berth::image::registry_hosts;
using berth::image::RegistryHost;

namespace {

void put(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
}

// The error registry_hosts gives for this hosts.toml (of registry.io).
std::string error_for(const std::string& toml) {
    std::string dir = test_dir() + "/e";
    std::filesystem::remove_all(dir);
    put(dir + "/registry.io/hosts.toml", toml);
    try {
        registry_hosts(dir, "registry.io");
    } catch (const berth::Error& e) {
        cr_expect_eq(e.err(), EINVAL, "%s", e.what());
        return e.what();
    }
    cr_expect_fail("accepted:\n%s", toml.c_str());
    return "";
}

void expect_error(const std::string& toml, const std::string& key, const std::string& why) {
    std::string m = error_for(toml);
    cr_expect(m.find(test_dir() + "/e/registry.io/hosts.toml") != std::string::npos, "no file in: %s", m.c_str());
    cr_expect(m.find(key) != std::string::npos, "no key \"%s\" in: %s", key.c_str(), m.c_str());
    cr_expect(m.find(why) != std::string::npos, "no \"%s\" in: %s", why.c_str(), m.c_str());
}

} // namespace

TestSuite(hosts, .init = make_test_dir, .fini = remove_test_dir);

Test(hosts, defaults_without_config) {
    struct {
        const char* domain;
        const char* url;
    } cases[] = {
        {"docker.io", "https://registry-1.docker.io/v2"},
        {"quay.io", "https://quay.io/v2"},
        {"registry.example.com:5000", "https://registry.example.com:5000/v2"},
        {"localhost", "http://localhost/v2"},
        {"localhost:5000", "http://localhost:5000/v2"},
        {"127.0.0.1:5000", "http://127.0.0.1:5000/v2"},
        {"127.1.2.3", "http://127.1.2.3/v2"},
        {"[::1]:5000", "http://[::1]:5000/v2"},
        {"128.0.0.1:5000", "https://128.0.0.1:5000/v2"},
        {"127.0.0.1.example.com", "https://127.0.0.1.example.com/v2"},
        {"localhost.example.com", "https://localhost.example.com/v2"},
    };
    for (auto& c : cases) {
        auto hosts = registry_hosts("", c.domain);
        cr_assert_eq(hosts.size(), 1u);
        cr_expect_eq(hosts[0].url, c.url, "%s: %s", c.domain, hosts[0].url.c_str());
        cr_expect_not(hosts[0].mirror);
        cr_expect(hosts[0].can("pull") && hosts[0].can("resolve"));
    }
    // A config dir without an entry for the domain changes nothing.
    cr_expect_eq(registry_hosts(test_dir(), "quay.io")[0].url, "https://quay.io/v2");
}

Test(hosts, full_file_in_file_order) {
    std::string dir = test_dir() + "/certs.d";
    put(dir + "/registry.io/hosts.toml", R"(
server = "https://registry.io"
capabilities = ["pull", "resolve", "push"]

# Not in key order: the file's order counts.
[host."https://z-mirror.example.com:8443/prefix"]
  capabilities = ["pull"]
  ca = "z.crt"
  client = [["/abs/client.cert", "client.key"], ["both.pem", ""]]
  skip_verify = true
  dial_timeout = "1.5s"
  [host."https://z-mirror.example.com:8443/prefix".header]
    x-custom = "one"
    x-multi = ["a", "b"]

[host."http://a-mirror.local"]
  capabilities = ["Pull", "RESOLVE"]
  ca = ["/etc/a.crt", "sub/b.crt"]
  client = "/c.pem"
  override_path = true
  proxy = "http://proxy.local:3128"
)");
    auto hosts = registry_hosts(dir, "registry.io");
    cr_assert_eq(hosts.size(), 3u);

    const RegistryHost& z = hosts[0];
    cr_expect_eq(z.url, "https://z-mirror.example.com:8443/prefix/v2");
    cr_expect_eq(z.scheme, "https");
    cr_expect_eq(z.host, "z-mirror.example.com:8443");
    cr_expect_eq(z.api_prefix, "/prefix/v2");
    cr_expect(z.mirror);
    cr_expect(z.can("pull"));
    cr_expect_not(z.can("resolve"));
    cr_assert_eq(z.ca_files.size(), 1u);
    cr_expect_eq(z.ca_files[0], dir + "/registry.io/z.crt");
    cr_assert_eq(z.client_certs.size(), 2u);
    cr_expect_eq(z.client_certs[0].first, "/abs/client.cert");
    cr_expect_eq(z.client_certs[0].second, dir + "/registry.io/client.key");
    cr_expect_eq(z.client_certs[1].first, dir + "/registry.io/both.pem");
    cr_expect_eq(z.client_certs[1].second, "");
    cr_expect(z.skip_verify);
    cr_expect_eq(z.dial_timeout.count(), 1500);
    cr_expect_eq(z.headers.at("x-custom"), "one");
    cr_expect_eq(z.headers.at("x-multi"), "a, b");

    const RegistryHost& a = hosts[1];
    cr_expect_eq(a.url, "http://a-mirror.local");
    cr_expect_eq(a.api_prefix, "", "override_path without a path: no /v2");
    cr_expect(a.can("pull") && a.can("resolve"));
    cr_expect_not(a.can("push"));
    cr_assert_eq(a.ca_files.size(), 2u);
    cr_expect_eq(a.ca_files[0], "/etc/a.crt");
    cr_expect_eq(a.ca_files[1], dir + "/registry.io/sub/b.crt");
    cr_assert_eq(a.client_certs.size(), 1u);
    cr_expect_eq(a.client_certs[0].first, "/c.pem");
    cr_expect_not(a.skip_verify);
    cr_expect_eq(a.proxy, "http://proxy.local:3128");
    cr_expect_eq(a.dial_timeout.count(), 30000, "the default dial timeout");

    const RegistryHost& s = hosts[2];
    cr_expect_eq(s.url, "https://registry.io/v2");
    cr_expect_not(s.mirror);
    cr_expect(s.can("push"));
}

Test(hosts, server_urls) {
    std::string dir = test_dir() + "/d";
    struct {
        const char* toml;
        const char* url;
        const char* prefix;
    } cases[] = {
        {"server = \"mirror.io\"", "https://mirror.io/v2", "/v2"},
        {"server = \"http://mirror.io:5000/\"", "http://mirror.io:5000/v2", "/v2"},
        {"server = \"https://mirror.io/v2\"", "https://mirror.io/v2", "/v2"},
        {"server = \"https://mirror.io/a/b/\"", "https://mirror.io/a/b/v2", "/a/b/v2"},
        {"server = \"https://mirror.io/a/b\"\noverride_path = true", "https://mirror.io/a/b", "/a/b"},
        {"server = \"https://mirror.io/a/../c\"", "https://mirror.io/c/v2", "/c/v2"},
    };
    for (auto& c : cases) {
        std::filesystem::remove_all(dir);
        put(dir + "/r.io/hosts.toml", c.toml);
        auto hosts = registry_hosts(dir, "r.io");
        cr_assert_eq(hosts.size(), 1u);
        cr_expect_eq(hosts[0].url, c.url, "%s: %s", c.toml, hosts[0].url.c_str());
        cr_expect_eq(hosts[0].api_prefix, c.prefix, "%s: %s", c.toml, hosts[0].api_prefix.c_str());
    }
    // No server: the registry itself, after the hosts; a loopback one over http.
    std::filesystem::remove_all(dir);
    put(dir + "/127.0.0.1:5000/hosts.toml", "[host.\"https://m.io\"]\n");
    auto hosts = registry_hosts(dir, "127.0.0.1:5000");
    cr_assert_eq(hosts.size(), 2u);
    cr_expect_eq(hosts[0].url, "https://m.io/v2");
    cr_expect_eq(hosts[1].url, "http://127.0.0.1:5000/v2");
    cr_expect_not(hosts[1].mirror);
}

Test(hosts, host_dir_lookup) {
    std::string dir = test_dir() + "/l";
    put(dir + "/127.0.0.1_5000_/hosts.toml", "server = \"https://first\"");
    put(dir + "/127.0.0.1:5000/hosts.toml", "server = \"https://second\"");
    put(dir + "/_default/hosts.toml", "server = \"https://fallback\"");
    cr_expect_eq(registry_hosts(dir, "127.0.0.1:5000")[0].host, "first");
    std::filesystem::remove_all(dir + "/127.0.0.1_5000_");
    cr_expect_eq(registry_hosts(dir, "127.0.0.1:5000")[0].host, "second");
    cr_expect_eq(registry_hosts(dir, "other.io")[0].host, "fallback");
    cr_expect_eq(registry_hosts(dir, "docker.io")[0].host, "fallback");
}

Test(hosts, docker_cert_files) {
    std::string dir = test_dir() + "/c";
    put(dir + "/reg.io/ca.crt", "x");
    put(dir + "/reg.io/client.cert", "x");
    put(dir + "/reg.io/client.key", "x");
    put(dir + "/reg.io/solo.cert", "x");
    auto hosts = registry_hosts(dir, "reg.io");
    cr_assert_eq(hosts.size(), 1u);
    cr_expect_eq(hosts[0].url, "https://reg.io/v2");
    cr_assert_eq(hosts[0].ca_files.size(), 1u);
    cr_expect_eq(hosts[0].ca_files[0], dir + "/reg.io/ca.crt");
    cr_assert_eq(hosts[0].client_certs.size(), 2u);
    cr_expect_eq(hosts[0].client_certs[0].first, dir + "/reg.io/client.cert");
    cr_expect_eq(hosts[0].client_certs[0].second, dir + "/reg.io/client.key");
    cr_expect_eq(hosts[0].client_certs[1].first, dir + "/reg.io/solo.cert");
    cr_expect_eq(hosts[0].client_certs[1].second, "");
}

Test(hosts, errors_name_key_and_file) {
    expect_error("servr = \"https://x\"", "servr", "unknown key");
    expect_error("[host.\"https://m\"]\ncapabilitie = [\"pull\"]", "host.\"https://m\".capabilitie", "unknown key");
    expect_error("[host.\"https://m\"]\nserver = \"https://y\"", "host.\"https://m\".server", "unknown key");
    expect_error("capabilities = \"pull\"", "capabilities", "expected an array of strings");
    expect_error("capabilities = [\"pull\", \"fly\"]", "capabilities", "unknown capability \"fly\"");
    expect_error("capabilities = [\"pull\", 3]", "capabilities[1]", "expected a string");
    expect_error("ca = 1", "ca", "expected a path or an array of paths");
    expect_error("ca = [\"a\", true]", "ca[1]", "expected a string");
    expect_error("client = [[\"a\", \"b\", \"c\"]]", "client[0]", "[cert, key] pair");
    expect_error("client = [[\"\", \"b\"]]", "client[0]", "[cert, key] pair");
    expect_error("client = [1]", "client[0]", "expected a path or a [cert, key] pair");
    expect_error("client = {a = 1}", "client", "expected a path");
    expect_error("skip_verify = \"yes\"", "skip_verify", "expected true or false");
    expect_error("override_path = 1", "override_path", "expected true or false");
    expect_error("[header]\nx-a = 1", "header.x-a", "expected a string or an array of strings");
    expect_error("header = \"x\"", "header", "expected a table");
    expect_error("dial_timeout = \"soon\"", "dial_timeout", "invalid duration");
    expect_error("dial_timeout = \"0s\"", "dial_timeout", "out of range");
    expect_error("dial_timeout = 5", "dial_timeout", "expected a string");
    expect_error("proxy = \"ftp://p\"", "proxy", "scheme must be");
    expect_error("server = \"ftp://x\"", "server", "scheme must be http or https");
    expect_error("server = \"\"", "server", "empty URL");
    expect_error("server = 5", "server", "expected a string");
    expect_error("server = \"https://x?a=b\"", "server", "no query");
    expect_error("host = 1", "host", "expected tables");
    expect_error("[host.\"ftp://m\"]", "host.\"ftp://m\"", "scheme must be http or https");
    // A TOML syntax error gives the file, line and column.
    std::string m = error_for("server = \"https://x\"\n[host.\"a\"\n");
    cr_expect(m.find("/e/registry.io/hosts.toml:2:") != std::string::npos, "%s", m.c_str());
}

Test(hosts, loopback) {
    using berth::image::is_loopback_host;
    for (const char* h : {"localhost", "LOCALHOST:80", "127.0.0.1", "127.255.0.9:5000", "[::1]", "[::1]:5000", "::1"})
        cr_expect(is_loopback_host(h), "%s", h);
    for (const char* h : {"128.0.0.1", "127.0.0", "127.0.0.1.nip.io", "localhostx", "[::2]:5000", "10.0.0.1:5000",
                          "127.0.0.256", ""})
        cr_expect_not(is_loopback_host(h), "%s", h);
}
