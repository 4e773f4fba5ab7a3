// Name tables: namespace types and rlimits, as the spec spells them.
#include "config.hpp"

#include <sys/resource.h>

#include <array>
#include <utility>

namespace berth::spec {

namespace {

constexpr std::array<std::pair<NsType, std::string_view>, 8> kNamespaces{{
    {NsType::pid, "pid"},
    {NsType::network, "network"},
    {NsType::mount, "mount"},
    {NsType::ipc, "ipc"},
    {NsType::uts, "uts"},
    {NsType::user, "user"},
    {NsType::cgroup, "cgroup"},
    {NsType::time, "time"},
}};

constexpr std::array<std::pair<std::string_view, int>, 16> kRlimits{{
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
}};

} // namespace

std::string_view ns_type_name(NsType t) {
    for (auto& [type, name] : kNamespaces)
        if (type == t) return name;
    return "unknown";
}

bool parse_ns_type(std::string_view name, NsType& out) {
    for (auto& [type, n] : kNamespaces) {
        if (n == name) {
            out = type;
            return true;
        }
    }
    return false;
}

int rlimit_resource(std::string_view name) {
    for (auto& [n, res] : kRlimits)
        if (n == name) return res;
    return -1;
}

} // namespace berth::spec
