// berthctl's hosts: --host URLs and the hosts file (see hosts.hpp).
#include "hosts.hpp"

#include "error.hpp"
#include "file_util.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <map>
#include <sstream>

namespace berth::ctl {

void check_host_url(const std::string& url, const std::string& what) {
    auto bad = [&](const std::string& why) {
        return Error(EINVAL, what + ": " + why + " (expected unix:///PATH or tcp://HOST:PORT), got \"" + url + "\"");
    };
    if (url.rfind("unix://", 0) == 0) {
        std::string path = url.substr(7);
        if (path.size() < 2 || path.front() != '/') throw bad("a unix socket's path must be absolute");
        return;
    }
    if (url.rfind("tcp://", 0) != 0) throw bad("unknown scheme");
    std::string rest = url.substr(6);
    if (rest.find('/') != std::string::npos) throw bad("a tcp:// host has no path");
    auto colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0) throw bad("HOST:PORT needed");
    std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
    if (host.front() == '[' ? host.back() != ']' || host.size() < 3 : host.find(':') != std::string::npos)
        throw bad("an IPv6 address goes in brackets, [::1]:PORT");
    bool digits = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) throw bad("port \"" + port + "\" is not 1 to 65535");
}

std::vector<Host> parse_hosts_file(std::string_view text, const std::string& path) {
    std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
    if (dir.empty()) dir = "/";
    std::vector<Host> hosts;
    std::map<std::string, int> seen;   // url -> its line
    std::istringstream in{std::string(text)};
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        const std::string where = path + ":" + std::to_string(n);
        if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        std::istringstream words(line);
        std::vector<std::string> w;
        for (std::string s; words >> s;) w.push_back(s);
        if (w.empty()) continue;
        if (w.size() > 2)
            throw Error(EINVAL, where + ": expected URL [TLS-DIR], got " + std::to_string(w.size()) + " fields");
        Host h;
        h.url = w[0];
        check_host_url(h.url, where);
        if (auto [it, fresh] = seen.emplace(h.url, n); !fresh)
            throw Error(EINVAL, where + ": " + h.url + " is listed already (line " + std::to_string(it->second) + ")");
        if (h.url.rfind("tcp://", 0) == 0) {
            h.tls_verify = true;
            if (w.size() == 2) h.tls_dir = w[1].front() == '/' ? w[1] : dir + "/" + w[1];
        } else if (w.size() == 2) {
            throw Error(EINVAL, where + ": TLS-DIR \"" + w[1] + "\": a unix socket takes none (tcp:// hosts only)");
        }
        hosts.push_back(std::move(h));
    }
    return hosts;
}

std::string hosts_file_path() {
    if (const char* c = std::getenv("BERTH_CONFIG"); c && *c) return std::string(c) + "/hosts";
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.berth/hosts";
    return "";
}

std::optional<std::vector<Host>> load_hosts_file(const std::string& path) {
    struct stat st;
    if (path.empty() || (::stat(path.c_str(), &st) < 0 && errno == ENOENT)) return std::nullopt;
    return parse_hosts_file(read_file(path), path);
}

} // namespace berth::ctl
