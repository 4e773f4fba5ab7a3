// Input that runc takes although the spec or the kernel would not, and that
// real configs carry: repaired in place, each repair reported, so such a
// config runs as it does under runc. Only repairs that can't widen what the
// container may do are made; anything else is left for validate_config.
#include "config.hpp"

#include <algorithm>

namespace berth::spec {

namespace {

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A namespace listed twice alike is harmless (runc refuses any repeat; one
// listed twice with different paths still is refused, by validation).
void drop_duplicate_namespaces(Linux& l, std::vector<std::string>& warnings) {
    std::vector<Namespace> kept;
    for (size_t i = 0; i < l.namespaces.size(); ++i) {
        const Namespace& ns = l.namespaces[i];
        if (std::find(kept.begin(), kept.end(), ns) != kept.end()) {
            warnings.push_back("linux.namespaces[" + std::to_string(i) + "]: " + quoted(ns_type_name(ns.type)) +
                               " is listed twice; the repeat is ignored");
            continue;
        }
        kept.push_back(ns);
    }
    l.namespaces = std::move(kept);
}

// runc reads a device rule's access letter by letter and ignores what is
// not r, w or m. Dropping a letter from an allow rule grants less; from a
// deny rule it denies less, so a deny rule that spells R, W or M in
// capitals (meant, but meaningless to the kernel) is left to be refused.
void relax_device_access(Resources& r, std::vector<std::string>& warnings) {
    std::vector<DeviceCgroup> kept;
    for (size_t i = 0; i < r.devices.size(); ++i) {
        DeviceCgroup d = r.devices[i];
        std::string f = "linux.resources.devices[" + std::to_string(i) + "].access";
        if (d.access.find_first_not_of("rwm") == std::string::npos || (!d.allow && d.access.find_first_of("RWM") != std::string::npos)) {
            kept.push_back(std::move(d));
            continue;
        }
        std::string access;
        for (char c : d.access)
            if ((c == 'r' || c == 'w' || c == 'm') && access.find(c) == std::string::npos) access += c;
        if (access.empty()) {
            // An empty access means rwm: a rule left with no letter means nothing.
            warnings.push_back(f + ": " + quoted(d.access) + " names no permission (r, w, m); the rule is ignored");
            continue;
        }
        warnings.push_back(f + ": " + quoted(d.access) + " read as " + quoted(access) + " (letters other than r, w, m ignored)");
        d.access = access;
        kept.push_back(std::move(d));
    }
    r.devices = std::move(kept);
}

// runc sets each rlimit in turn, so of a type given twice the last wins.
void drop_overridden_rlimits(Process& p, std::vector<std::string>& warnings) {
    std::vector<Rlimit> kept;
    for (size_t i = 0; i < p.rlimits.size(); ++i) {
        const Rlimit& r = p.rlimits[i];
        auto later = std::find_if(p.rlimits.begin() + static_cast<long>(i) + 1, p.rlimits.end(),
                                  [&](const Rlimit& o) { return o.type == r.type; });
        if (later != p.rlimits.end()) {
            warnings.push_back("process.rlimits[" + std::to_string(i) + "]: " + quoted(r.type) +
                               " is set again later; the later one is used");
            continue;
        }
        kept.push_back(r);
    }
    p.rlimits = std::move(kept);
}

// Without a user namespace, id mappings have nothing to map (runc ignores them).
void drop_unused_id_mappings(Linux& l, std::vector<std::string>& warnings) {
    if (l.find_ns(NsType::user)) return;
    if (!l.uidMappings.empty()) warnings.push_back("linux.uidMappings: ignored without a user namespace");
    if (!l.gidMappings.empty()) warnings.push_back("linux.gidMappings: ignored without a user namespace");
    l.uidMappings.clear();
    l.gidMappings.clear();
}

} // namespace

std::vector<std::string> relax_config(Config& c) {
    std::vector<std::string> warnings;
    if (c.process) drop_overridden_rlimits(*c.process, warnings);
    if (c.linux) {
        drop_duplicate_namespaces(*c.linux, warnings);
        drop_unused_id_mappings(*c.linux, warnings);
        if (c.linux->resources) relax_device_access(*c.linux->resources, warnings);
    }
    return warnings;
}

} // namespace berth::spec
