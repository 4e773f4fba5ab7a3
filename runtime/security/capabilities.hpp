// process.capabilities with libcap: bounding, effective, permitted,
// inheritable and ambient sets, applied around the uid switch so a non-root
// user keeps exactly what was asked for.
#pragma once

#include "config.hpp"

#include <functional>
#include <string>
#include <vector>

namespace berth {

struct CapPlan {
    bool present = false;                 // process.capabilities given
    std::vector<int> bounding, effective, permitted, inheritable, ambient;
};

// Resolve names ("CAP_NET_ADMIN"). Unknown names, and capabilities this
// kernel or this process can't grant, are left out, each reported through
// warn (root here may lack CAP_SYS_RESOURCE), as runc does.
CapPlan plan_capabilities(const spec::Process& p, const std::function<void(const std::string&)>& warn);

// Before the uid switch: drop the bounding set, keep permitted across setuid.
void caps_before_user(const CapPlan& plan);
// After the uid switch: set effective/permitted/inheritable, raise ambient.
void caps_after_user(const CapPlan& plan);

} // namespace berth
