// linux.resources as cgroup file writes. Planning is pure (unit-tested for
// exact files and values, conversions included); Manager::set applies a plan.
#pragma once

#include "config.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace berth::cgroup {

struct Write {
    std::string field;        // the config field, for errors: "linux.resources.memory.limit"
    std::string controller;   // "memory", "cpu", "cpuset", "pids", "blkio", "io", "hugetlb", ...
    std::string file;         // "memory.limit_in_bytes"
    std::string value;
    std::string alt_file;     // tried when `file` does not exist (blkio.weight -> blkio.bfq.weight)
    std::string alt_value;    // the value for alt_file when it differs
};

// v1 (and hybrid) writes, in the order they must be made. Device rules are
// included (devices.deny / devices.allow); so are runc's default allowed
// devices when any device rule is given.
std::vector<Write> plan_v1(const spec::Resources& r);
// v2 writes. Device rules are not among them (a BPF program, see
// cgroup_device_bpf.hpp). Throws Error naming a field cgroup v2 cannot
// express (swappiness, kernel memory, net_cls, ...).
std::vector<Write> plan_v2(const spec::Resources& r);

// Conversions runc uses between the spec's v1 units and v2's.
uint64_t shares_to_weight(uint64_t shares);    // cpu.shares 2..262144 -> cpu.weight 1..10000
uint64_t blkio_to_io_weight(uint16_t weight);  // blkio.weight 10..1000 -> io.weight 1..10000
// memory.swap.max from the spec's swap (memory+swap) and limit; -1 = "max".
int64_t swap_to_v2(int64_t swap, std::optional<int64_t> limit);

// The device rules runc appends after the config's (so they win): the
// default device nodes, a pty, mknod of anything.
const std::vector<spec::DeviceCgroup>& default_device_rules();

} // namespace berth::cgroup
