// The order berthctl tries berthds in, and what it says of each (see
// dispatch_order.hpp).
#include "dispatch_order.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

namespace berth::ctl {

namespace {

// No cap is the most room of all.
int64_t room_of(const Room& r) { return r.cap > 0 ? r.left : std::numeric_limits<int64_t>::max(); }

} // namespace

std::vector<size_t> dispatch_order(const std::vector<HostChoice>& hosts) {
    std::vector<size_t> open, unknown, queues;
    for (size_t i = 0; i < hosts.size(); ++i) {
        if (hosts[i].state == HostChoice::State::open) open.push_back(i);
        else if (hosts[i].state == HostChoice::State::unknown) unknown.push_back(i);
        else if (hosts[i].state == HostChoice::State::queues) queues.push_back(i);
    }
    std::stable_sort(queues.begin(), queues.end(), [&](size_t a, size_t b) { return hosts[a].queued < hosts[b].queued; });
    std::stable_sort(open.begin(), open.end(), [&](size_t a, size_t b) {
        const auto& x = hosts[a];
        const auto& y = hosts[b];
        if (room_of(x.config) != room_of(y.config)) return room_of(x.config) > room_of(y.config);
        return room_of(x.user) > room_of(y.user);
    });
    open.insert(open.end(), unknown.begin(), unknown.end());
    open.insert(open.end(), queues.begin(), queues.end());
    return open;
}

std::string room_size(int64_t b) {
    static const char* units[] = {"", "k", "m", "g", "t"};
    int u = 0;
    while (b >= 1024 && b % 1024 == 0 && u < 4) b /= 1024, ++u;   // exact, as berthd writes quotas
    if (u > 0 || b < 1024) return std::to_string(b) + units[u];
    double v = static_cast<double>(b);
    while (v >= 1024 && u < 4) v /= 1024, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%s", v, units[u]);
    return buf;
}

std::string choice_text(const HostChoice& h, const std::string& config) {
    using S = HostChoice::State;
    auto with = [&](const char* what) { return h.why.empty() ? std::string(what) : std::string(what) + " (" + h.why + ")"; };
    switch (h.state) {
    case S::open:
        if (h.config.cap > 0)
            return room_size(h.config.left) + " left under config " + config + "'s quota" +
                   (h.user.cap > 0 ? ", " + room_size(h.user.left) + " under yours" : "");
        if (h.user.cap > 0) return room_size(h.user.left) + " left under your quota of config " + config;
        return "no quota on config " + config;
    case S::unknown: return "room unknown (it has no Capacity call: an older berthd?)";
    case S::down: return with("down");
    case S::not_offered: return "does not offer config " + config + " (or not to you)";
    case S::refused: return with("refuses you");
    case S::full: return with("full");
    case S::queues: return "full; config " + config + " queues there (" + std::to_string(h.queued) + " waiting)";
    case S::failed: return h.why.empty() ? "failed" : h.why;
    }
    return "";
}

} // namespace berth::ctl
