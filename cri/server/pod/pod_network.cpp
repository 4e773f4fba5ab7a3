#include "pod_network.hpp"

#include "error.hpp"
#include "json.hpp"

#include <cmath>
#include <cstdint>

namespace berth::cri {

namespace {

std::string json_text(const std::function<void(json::Writer&)>& f) {
    json::Writer w;
    f(w);
    return w.str();
}

const char* protocol_name(runtime::v1::Protocol p) {
    switch (p) {
    case runtime::v1::UDP: return "udp";
    case runtime::v1::SCTP: return "sctp";
    default: return "tcp";
    }
}

void check_arg(const std::string& v, const std::string& field) {
    if (v.find_first_of(";=") != std::string::npos)
        throw Error(EINVAL, field + ": \"" + v + "\" has a ';' or '=', which CNI_ARGS cannot carry");
}

} // namespace

uint64_t parse_quantity(const std::string& s, const std::string& field) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    std::string num = s.substr(0, i), suffix = s.substr(i);
    static const std::pair<const char*, double> units[] = {
        {"", 1},       {"k", 1e3},          {"M", 1e6},          {"G", 1e9},          {"T", 1e12},
        {"P", 1e15},   {"Ki", 1024.0},      {"Mi", 1048576.0},   {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
    };
    double mult = -1;
    for (const auto& [u, m] : units)
        if (suffix == u) mult = m;
    char* end = nullptr;
    double v = num.empty() ? -1 : std::strtod(num.c_str(), &end);
    if (mult < 0 || v < 0 || !end || *end != '\0')
        throw Error(EINVAL, field + ": \"" + s + "\" is not a quantity such as \"10M\" or \"1Gi\"");
    double bits = std::ceil(v * mult);
    // kubelet's bounds for pod bandwidth: 1 kbit/s to 1 Pbit/s.
    if (bits < 1e3 || bits > 1e15) throw Error(EINVAL, field + ": \"" + s + "\" is outside 1k to 1P bits per second");
    return static_cast<uint64_t>(bits);
}

net::PodNetwork pod_network(const runtime::v1::PodSandboxConfig& cfg, const std::string& pod_id,
                            const std::string& netns, const std::vector<std::string>& pod_cidrs) {
    net::PodNetwork n;
    n.pod_id = pod_id;
    n.netns = netns;
    n.name = cfg.metadata().name();
    n.namespace_ = cfg.metadata().namespace_();
    n.uid = cfg.metadata().uid();
    check_arg(n.name, "config.metadata.name");
    check_arg(n.namespace_, "config.metadata.namespace");
    check_arg(n.uid, "config.metadata.uid");

    // Ports with a host port only, as containerd passes them to portmap.
    bool any_port = false;
    std::string ports = json_text([&](json::Writer& w) {
        w.begin_array();
        for (const auto& pm : cfg.port_mappings()) {
            if (pm.host_port() <= 0) continue;
            any_port = true;
            w.begin_object();
            w.kv("hostPort", static_cast<int64_t>(pm.host_port()));
            w.kv("containerPort", static_cast<int64_t>(pm.container_port()));
            w.kv("protocol", protocol_name(pm.protocol()));
            w.kv("hostIP", pm.host_ip());
            w.end_object();
        }
        w.end_array();
    });
    if (any_port) n.caps["portMappings"] = ports;

    // kubernetes.io/{ingress,egress}-bandwidth: bits per second; the burst
    // is left as large as the plugin takes, as containerd does.
    const auto& ann = cfg.annotations();
    auto in = ann.find("kubernetes.io/ingress-bandwidth"), out = ann.find("kubernetes.io/egress-bandwidth");
    if (in != ann.end() || out != ann.end()) {
        n.caps["bandwidth"] = json_text([&](json::Writer& w) {
            w.begin_object();
            if (in != ann.end()) {
                w.kv("ingressRate", parse_quantity(in->second, "config.annotations[kubernetes.io/ingress-bandwidth]"));
                w.kv("ingressBurst", static_cast<uint64_t>(UINT32_MAX));
            }
            if (out != ann.end()) {
                w.kv("egressRate", parse_quantity(out->second, "config.annotations[kubernetes.io/egress-bandwidth]"));
                w.kv("egressBurst", static_cast<uint64_t>(UINT32_MAX));
            }
            w.end_object();
        });
    }

    // One range set per CIDR (dual-stack: one of each family).
    if (!pod_cidrs.empty()) {
        n.caps["ipRanges"] = json_text([&](json::Writer& w) {
            w.begin_array();
            for (const auto& c : pod_cidrs) w.begin_array().begin_object().kv("subnet", c).end_object().end_array();
            w.end_array();
        });
    }

    const auto& dns = cfg.dns_config();
    if (dns.servers_size() + dns.searches_size() + dns.options_size() > 0) {
        n.caps["dns"] = json_text([&](json::Writer& w) {
            w.begin_object();
            w.key("servers").string_array({dns.servers().begin(), dns.servers().end()});
            w.key("searches").string_array({dns.searches().begin(), dns.searches().end()});
            w.key("options").string_array({dns.options().begin(), dns.options().end()});
            w.end_object();
        });
    }

    n.caps["io.kubernetes.cri.pod-annotations"] = json_text([&](json::Writer& w) {
        w.string_map({ann.begin(), ann.end()});
    });
    return n;
}

} // namespace berth::cri
