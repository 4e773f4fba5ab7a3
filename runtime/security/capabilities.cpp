#include "capabilities.hpp"

#include "error.hpp"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cctype>

namespace berth {

namespace {

std::vector<int> resolve(const std::vector<std::string>& names, const char* set, int last_cap,
                         const std::function<void(const std::string&)>& warn, std::vector<int>& warned,
                         std::vector<std::string>& unknown) {
    std::vector<int> out;
    for (const auto& n : names) {
        std::string lower = n;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        cap_value_t v;
        if (cap_from_name(lower.c_str(), &v) < 0) {
            // As runc: an unknown name is left out (granting less), with a
            // warning. libcap knows names by number for caps newer than itself.
            if (std::find(unknown.begin(), unknown.end(), n) == unknown.end()) {
                unknown.push_back(n);
                warn(std::string("process.capabilities.") + set + ": unknown capability \"" + n + "\"; left out");
            }
            continue;
        }
        // Beyond this kernel, or not in our own bounding set: can't be granted.
        bool unknown_to_kernel = v > last_cap;
        if (unknown_to_kernel || cap_get_bound(v) != 1) {
            if (std::find(warned.begin(), warned.end(), v) == warned.end()) {
                warned.push_back(v);
                warn("process.capabilities: " + n +
                     (unknown_to_kernel ? " is not supported by this kernel" : " is not available to the runtime") +
                     "; left out");
            }
            continue;
        }
        out.push_back(v);
    }
    return out;
}

bool has(const std::vector<int>& v, int c) { return std::find(v.begin(), v.end(), c) != v.end(); }

} // namespace

CapPlan plan_capabilities(const spec::Process& p, const std::function<void(const std::string&)>& warn) {
    CapPlan plan;
    if (!p.capabilities) return plan;
    plan.present = true;
    int last = static_cast<int>(cap_max_bits()) - 1;
    const auto& c = *p.capabilities;
    std::vector<int> warned;
    std::vector<std::string> unknown;
    plan.bounding = resolve(c.bounding, "bounding", last, warn, warned, unknown);
    plan.effective = resolve(c.effective, "effective", last, warn, warned, unknown);
    plan.permitted = resolve(c.permitted, "permitted", last, warn, warned, unknown);
    plan.inheritable = resolve(c.inheritable, "inheritable", last, warn, warned, unknown);
    plan.ambient = resolve(c.ambient, "ambient", last, warn, warned, unknown);
    return plan;
}

void caps_before_user(const CapPlan& plan) {
    if (!plan.present) return;
    int last = static_cast<int>(cap_max_bits()) - 1;
    for (int cap = 0; cap <= last; ++cap) {
        if (has(plan.bounding, cap)) continue;
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            throw_errno("process.capabilities.bounding: drop " + std::string(cap_to_name(cap)));
    }
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) throw_errno("keep capabilities across setuid");
}

void caps_after_user(const CapPlan& plan) {
    if (!plan.present) return;
    if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) throw_errno("clear keep-capabilities");
    cap_t caps = cap_init();
    if (!caps) throw_errno("cap_init");
    auto set = [&](cap_flag_t flag, const std::vector<int>& v) {
        if (v.empty()) return;
        std::vector<cap_value_t> vals(v.begin(), v.end());
        cap_set_flag(caps, flag, static_cast<int>(vals.size()), vals.data(), CAP_SET);
    };
    set(CAP_EFFECTIVE, plan.effective);
    set(CAP_PERMITTED, plan.permitted);
    set(CAP_INHERITABLE, plan.inheritable);
    int r = cap_set_proc(caps);
    int err = errno;
    cap_free(caps);
    if (r < 0) throw_errno(err, "process.capabilities: set effective/permitted/inheritable");
    // The kernel raises an ambient cap only if it is permitted and
    // inheritable; runc's own default spec lists ambient caps without
    // inheritable ones and runs, so those are skipped, not fatal.
    for (int cap : plan.ambient) {
        if (!has(plan.permitted, cap) || !has(plan.inheritable, cap)) continue;
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
            throw_errno("process.capabilities.ambient: raise " + std::string(cap_to_name(cap)));
    }
}

} // namespace berth
