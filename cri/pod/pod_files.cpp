#include "pod_files.hpp"

#include "error.hpp"
#include "file_util.hpp"

#include <unistd.h>

#include <climits>
#include <optional>

namespace berth::cri {

namespace {

namespace v1 = runtime::v1;

bool host_network(const v1::PodSandboxConfig& pod) {
    return pod.linux().security_context().namespace_options().network() == v1::NODE;
}

void check_word(const std::string& v, const std::string& field) {
    if (v.empty() || v.find_first_of(" \t\r\n\v\f") != std::string::npos || v.find('\0') != std::string::npos)
        throw Error(EINVAL, field + ": invalid value \"" + v + "\": empty or with whitespace");
}

template <class List>
std::string join_checked(const List& list, const std::string& field, const char* sep) {
    std::string out;
    for (int i = 0; i < list.size(); ++i) {
        check_word(list.Get(i), field + "[" + std::to_string(i) + "]");
        if (i) out += sep;
        out += list.Get(i);
    }
    return out;
}

// The host's file; nullopt when the host has none (a minimal system without
// /etc/hosts or /etc/resolv.conf: the pod still starts).
std::optional<std::string> read_host(const std::string& path, const char* what) {
    try {
        return with_context(std::string("the host's ") + what, [&] { return read_file(path); });
    } catch (const Error& e) {
        if (e.err() == ENOENT) return std::nullopt;
        throw;
    }
}

} // namespace

std::string resolv_conf_content(const v1::PodSandboxConfig& pod, const HostFiles& host) {
    const auto& dns = pod.dns_config();
    if (dns.servers().empty() && dns.searches().empty() && dns.options().empty())
        return read_host(host.resolv_conf, "resolv.conf").value_or("");
    std::string out;
    if (!dns.searches().empty()) out += "search " + join_checked(dns.searches(), "dns_config.searches", " ") + "\n";
    if (!dns.servers().empty())
        out += "nameserver " + join_checked(dns.servers(), "dns_config.servers", "\nnameserver ") + "\n";
    if (!dns.options().empty()) out += "options " + join_checked(dns.options(), "dns_config.options", " ") + "\n";
    return out;
}

std::string pod_hostname(const v1::PodSandboxConfig& pod, const HostFiles& host) {
    if (!pod.hostname().empty()) {
        check_word(pod.hostname(), "hostname");
        return pod.hostname();
    }
    if (!host.hostname.empty()) return host.hostname;
    char name[HOST_NAME_MAX + 1] = {};
    if (::gethostname(name, sizeof name - 1) < 0) throw_errno("gethostname");
    return name;
}

std::string hostname_content(const v1::PodSandboxConfig& pod, const HostFiles& host) {
    return pod_hostname(pod, host) + "\n";
}

std::string hosts_content(const v1::PodSandboxConfig& pod, const HostFiles& host) {
    if (host_network(pod))
        if (auto h = read_host(host.hosts, "hosts file")) return *h;
    std::string out =
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "ff00::0\tip6-mcastprefix\n"
        "ff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n";
    std::string name = pod_hostname(pod, host);
    out += "127.0.1.1\t" + name + "\n";
    return out;
}

PodFiles write_pod_files(const std::string& dir, const v1::PodSandboxConfig& pod, const HostFiles& host) {
    PodFiles f{dir + "/hostname", dir + "/hosts", dir + "/resolv.conf"};
    // Build all three before writing any: a bad field leaves nothing half-written.
    std::string hostname = hostname_content(pod, host), hosts = hosts_content(pod, host),
                resolv = resolv_conf_content(pod, host);
    write_file_atomic(f.hostname, hostname, 0644);
    write_file_atomic(f.hosts, hosts, 0644);
    write_file_atomic(f.resolv_conf, resolv, 0644);
    return f;
}

} // namespace berth::cri
