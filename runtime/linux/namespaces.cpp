#include "namespaces.hpp"

#include "error.hpp"
#include "file_util.hpp"

#include <fcntl.h>
#include <sched.h>

#include <algorithm>

namespace berth {

int ns_clone_flag(spec::NsType t) {
    using spec::NsType;
    switch (t) {
    case NsType::pid: return CLONE_NEWPID;
    case NsType::network: return CLONE_NEWNET;
    case NsType::mount: return CLONE_NEWNS;
    case NsType::ipc: return CLONE_NEWIPC;
    case NsType::uts: return CLONE_NEWUTS;
    case NsType::user: return CLONE_NEWUSER;
    case NsType::cgroup: return CLONE_NEWCGROUP;
    case NsType::time: return CLONE_NEWTIME;
    }
    return 0;
}

uint64_t clone_flags(const spec::Linux& l) {
    uint64_t f = 0;
    for (const auto& n : l.namespaces) {
        if (!n.path.empty() || n.type == spec::NsType::cgroup || n.type == spec::NsType::time) continue;
        f |= static_cast<uint64_t>(ns_clone_flag(n.type));
    }
    return f;
}

std::vector<NsJoin> open_ns_paths(const spec::Linux& l) {
    std::vector<NsJoin> out;
    for (const auto& n : l.namespaces) {
        // pid and time are joined by the parent before the clone.
        if (n.path.empty() || n.type == spec::NsType::pid || n.type == spec::NsType::time) continue;
        UniqueFd fd(::open(n.path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw_errno("open " + std::string(spec::ns_type_name(n.type)) + " namespace " + n.path);
        out.push_back({n.type, std::move(fd)});
    }
    // The user namespace first: it grants the rights to join the others.
    std::stable_partition(out.begin(), out.end(), [](const NsJoin& j) { return j.type == spec::NsType::user; });
    return out;
}

void join_namespaces(std::vector<NsJoin>& joins) {
    for (auto& j : joins) {
        if (::setns(j.fd.get(), ns_clone_flag(j.type)) < 0)
            throw_errno("join " + std::string(spec::ns_type_name(j.type)) + " namespace");
        j.fd.reset();
    }
}

namespace {
std::string map_text(const std::vector<spec::IdMapping>& m) {
    std::string s;
    for (const auto& e : m)
        s += std::to_string(e.containerID) + " " + std::to_string(e.hostID) + " " + std::to_string(e.size) + "\n";
    return s;
}
} // namespace

void write_id_maps(pid_t pid, const spec::Linux& l, bool unprivileged) {
    std::string base = "/proc/" + std::to_string(pid) + "/";
    const char* hint = unprivileged ? " (an unprivileged user can map only its own uid and gid, with size 1)" : "";
    if (!l.uidMappings.empty()) {
        try {
            write_existing(base + "uid_map", map_text(l.uidMappings));
        } catch (Error& e) {
            throw e.prefix(std::string("linux.uidMappings") + hint);
        }
    }
    if (unprivileged) write_existing(base + "setgroups", "deny");
    if (!l.gidMappings.empty()) {
        try {
            write_existing(base + "gid_map", map_text(l.gidMappings));
        } catch (Error& e) {
            throw e.prefix(std::string("linux.gidMappings") + hint);
        }
    }
}

ParentNamespaces::~ParentNamespaces() {
    try {
        restore();
    } catch (...) {
    }
}

void ParentNamespaces::restore() {
    if (pid_ && ::setns(pid_.get(), CLONE_NEWPID) < 0) throw_errno("restore pid namespace for children");
    if (time_ && ::setns(time_.get(), CLONE_NEWTIME) < 0) throw_errno("restore time namespace for children");
    pid_.reset();
    time_.reset();
}

ParentNamespaces prepare_parent_namespaces(const spec::Linux& l) {
    ParentNamespaces saved;
    auto save = [](UniqueFd& slot, const char* self) {
        if (slot) return;
        slot.reset(::open(self, O_RDONLY | O_CLOEXEC));
        if (!slot) throw_errno(std::string("open ") + self);
    };
    for (const auto& n : l.namespaces) {
        if (n.type == spec::NsType::pid && !n.path.empty()) {
            UniqueFd fd(::open(n.path.c_str(), O_RDONLY | O_CLOEXEC));
            if (!fd) throw_errno("open pid namespace " + n.path);
            save(saved.pid_, "/proc/self/ns/pid");
            if (::setns(fd.get(), CLONE_NEWPID) < 0) throw_errno("join pid namespace " + n.path);
        } else if (n.type == spec::NsType::time) {
            save(saved.time_, "/proc/self/ns/time");
            if (!n.path.empty()) {
                UniqueFd fd(::open(n.path.c_str(), O_RDONLY | O_CLOEXEC));
                if (!fd) throw_errno("open time namespace " + n.path);
                if (::setns(fd.get(), CLONE_NEWTIME) < 0) throw_errno("join time namespace " + n.path);
                continue;
            }
            if (::unshare(CLONE_NEWTIME) < 0) throw_errno("create time namespace");
            std::string offsets;
            for (const auto& [clock, off] : l.timeOffsets)
                offsets += clock + " " + std::to_string(off.secs) + " " + std::to_string(off.nanosecs) + "\n";
            if (!offsets.empty())
                with_context("linux.timeOffsets", [&] { write_existing("/proc/self/timens_offsets", offsets); });
        }
    }
    return saved;
}

} // namespace berth
