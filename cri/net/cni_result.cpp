#include "cni_result.hpp"

#include "error.hpp"
#include "json.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace berth::cri::net {

namespace {

// "10.88.0.5/16" -> "10.88.0.5", checked to be an address.
std::string address_of(const json::Value& v) {
    std::string s = v.as_string();
    std::string a = s.substr(0, s.find('/'));
    unsigned char buf[16];
    if (::inet_pton(AF_INET, a.c_str(), buf) != 1 && ::inet_pton(AF_INET6, a.c_str(), buf) != 1)
        v.fail("\"" + s + "\" is not an IP address");
    return a;
}

} // namespace

std::vector<std::string> result_ips(const std::string& result, const std::string& what) {
    json::Document doc(result, what);
    json::Value r = doc.root();
    if (!r.is_object()) r.fail("expected a result object");
    std::vector<std::string> ips;
    if (auto list = r.find("ips")) {
        std::vector<bool> in_sandbox;
        if (auto ifs = r.find("interfaces"))
            for (auto& i : ifs->as_array()) {
                auto sb = i.find("sandbox");
                in_sandbox.push_back(sb && !sb->as_string().empty());
            }
        for (auto& ip : list->as_array()) {
            if (auto idx = ip.find("interface")) {
                int64_t n = idx->as_int64();
                if (n >= 0 && static_cast<size_t>(n) < in_sandbox.size() && !in_sandbox[static_cast<size_t>(n)]) continue;
            }
            ips.push_back(address_of(ip.get("address")));
        }
    } else {
        for (const char* k : {"ip4", "ip6"})
            if (auto v = r.find(k)) ips.push_back(address_of(v->get("ip")));
    }
    std::stable_partition(ips.begin(), ips.end(), [](const std::string& a) { return a.find(':') == std::string::npos; });
    return ips;
}

} // namespace berth::cri::net
