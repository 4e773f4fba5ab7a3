#include "cgroup_resources.hpp"

#include "error.hpp"

#include <algorithm>

namespace berth::cgroup {

namespace {

const std::string R = "linux.resources.";

std::string num(int64_t v) { return std::to_string(v); }
std::string unum(uint64_t v) { return std::to_string(v); }
// cgroup v2's word for "no limit".
std::string max_or(int64_t v) { return v < 0 ? "max" : num(v); }

std::string dev(int64_t major, int64_t minor) { return num(major) + ":" + num(minor); }

// The lines for devices.allow/deny. v1 reads a leading "a" as every device
// with every access, so an "a" rule narrower than that (some major/minor,
// or fewer than rwm) becomes one char and one block rule, as exact as the
// v2 BPF program is.
std::vector<std::string> device_rule_lines(const spec::DeviceCgroup& d) {
    std::string type = d.type.empty() ? "a" : d.type;
    std::string access = d.access.empty() ? "rwm" : d.access;
    bool any_dev = (!d.major || *d.major < 0) && (!d.minor || *d.minor < 0);
    if (type == "a" && any_dev && access.find('r') != std::string::npos && access.find('w') != std::string::npos &&
        access.find('m') != std::string::npos)
        return {"a"};
    std::string maj = d.major && *d.major >= 0 ? num(*d.major) : "*";
    std::string min = d.minor && *d.minor >= 0 ? num(*d.minor) : "*";
    std::string rest = " " + maj + ":" + min + " " + access;
    if (type == "a") return {"c" + rest, "b" + rest};
    return {type + rest};
}

// rdma.max takes the same line on v1 and v2.
std::string rdma_value(const std::string& name, const spec::Rdma& lim) {
    std::string v = name;
    if (lim.hcaHandles) v += " hca_handle=" + unum(*lim.hcaHandles);
    if (lim.hcaObjects) v += " hca_object=" + unum(*lim.hcaObjects);
    return v;
}

[[noreturn]] void not_on_v2(const std::string& field, const std::string& why) {
    throw Error(ENOTSUP, field + ": not available on cgroup v2 (" + why + ")");
}

} // namespace

uint64_t shares_to_weight(uint64_t shares) {
    if (shares == 0) return 0;
    if (shares < 2) shares = 2;
    if (shares > 262144) shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t blkio_to_io_weight(uint16_t weight) {
    if (weight == 0) return 0;
    uint64_t w = weight < 10 ? 10 : (weight > 1000 ? 1000 : weight);
    return 1 + (w - 10) * 9999 / 990;
}

int64_t swap_to_v2(int64_t swap, std::optional<int64_t> limit) {
    if (swap == -1) return -1;
    if (!limit || *limit == -1)
        throw Error(EINVAL, R + "memory.swap: needs a memory.limit on cgroup v2 (swap.max = swap - limit)");
    if (swap < *limit) throw Error(EINVAL, R + "memory.swap: must be at least memory.limit");
    return swap - *limit;
}

const std::vector<spec::DeviceCgroup>& default_device_rules() {
    static const std::vector<spec::DeviceCgroup> rules = [] {
        auto allow = [](const char* type, std::optional<int64_t> maj, std::optional<int64_t> min, const char* acc) {
            spec::DeviceCgroup d;
            d.allow = true;
            d.type = type;
            d.major = maj;
            d.minor = min;
            d.access = acc;
            return d;
        };
        return std::vector<spec::DeviceCgroup>{
            allow("c", std::nullopt, std::nullopt, "m"), allow("b", std::nullopt, std::nullopt, "m"),
            allow("c", 1, 3, "rwm"),   allow("c", 1, 8, "rwm"), allow("c", 1, 7, "rwm"),   // null random full
            allow("c", 5, 0, "rwm"),   allow("c", 1, 5, "rwm"), allow("c", 1, 9, "rwm"),   // tty zero urandom
            allow("c", 5, 1, "rwm"),   allow("c", 136, std::nullopt, "rwm"),               // console, pts
            allow("c", 5, 2, "rwm"),                                                       // ptmx
        };
    }();
    return rules;
}

// Set and non-zero. runc reads zero as "not set" for these fields, and
// clients rely on it: Docker sends cpu.shares 0 and blockIO.weight 0 for
// every container without those options.
template <class T>
bool nz(const std::optional<T>& v) {
    return v && *v != 0;
}

std::vector<Write> plan_v1(const spec::Resources& r) {
    std::vector<Write> w;
    auto add = [&](std::string field, std::string ctl, std::string file, std::string value, std::string alt = {}) {
        w.push_back({R + field, std::move(ctl), std::move(file), std::move(value), std::move(alt)});
    };
    if (r.memory) {
        const auto& m = *r.memory;
        if (m.useHierarchy) add("memory.useHierarchy", "memory", "memory.use_hierarchy", *m.useHierarchy ? "1" : "0");
        // The limit before memsw: memsw may not be set below it (the applier
        // swaps the two when shrinking fails, see Manager::set).
        if (nz(m.limit)) add("memory.limit", "memory", "memory.limit_in_bytes", num(*m.limit));
        if (nz(m.swap)) add("memory.swap", "memory", "memory.memsw.limit_in_bytes", num(*m.swap));
        if (nz(m.reservation)) add("memory.reservation", "memory", "memory.soft_limit_in_bytes", num(*m.reservation));
        if (nz(m.kernel)) add("memory.kernel", "memory", "memory.kmem.limit_in_bytes", num(*m.kernel));
        if (nz(m.kernelTCP)) add("memory.kernelTCP", "memory", "memory.kmem.tcp.limit_in_bytes", num(*m.kernelTCP));
        if (m.swappiness) add("memory.swappiness", "memory", "memory.swappiness", unum(*m.swappiness));
        if (m.disableOOMKiller) add("memory.disableOOMKiller", "memory", "memory.oom_control", *m.disableOOMKiller ? "1" : "0");
    }
    if (r.cpu) {
        const auto& c = *r.cpu;
        if (nz(c.shares)) add("cpu.shares", "cpu", "cpu.shares", unum(*c.shares));
        // The period first: a quota is checked against the period in force.
        if (nz(c.period)) add("cpu.period", "cpu", "cpu.cfs_period_us", unum(*c.period));
        if (nz(c.quota)) add("cpu.quota", "cpu", "cpu.cfs_quota_us", num(*c.quota));
        if (c.burst) add("cpu.burst", "cpu", "cpu.cfs_burst_us", unum(*c.burst));
        if (nz(c.realtimePeriod)) add("cpu.realtimePeriod", "cpu", "cpu.rt_period_us", unum(*c.realtimePeriod));
        if (nz(c.realtimeRuntime)) add("cpu.realtimeRuntime", "cpu", "cpu.rt_runtime_us", num(*c.realtimeRuntime));
        if (c.idle) add("cpu.idle", "cpu", "cpu.idle", num(*c.idle));
        if (!c.cpus.empty()) add("cpu.cpus", "cpuset", "cpuset.cpus", c.cpus);
        if (!c.mems.empty()) add("cpu.mems", "cpuset", "cpuset.mems", c.mems);
    }
    if (r.pids && nz(r.pids->limit)) add("pids.limit", "pids", "pids.max", *r.pids->limit > 0 ? num(*r.pids->limit) : "max");
    if (r.blockIO) {
        const auto& b = *r.blockIO;
        if (nz(b.weight)) add("blockIO.weight", "blkio", "blkio.weight", unum(*b.weight), "blkio.bfq.weight");
        if (nz(b.leafWeight)) add("blockIO.leafWeight", "blkio", "blkio.leaf_weight", unum(*b.leafWeight));
        for (size_t i = 0; i < b.weightDevice.size(); ++i) {
            const auto& d = b.weightDevice[i];
            std::string f = "blockIO.weightDevice[" + std::to_string(i) + "]";
            if (nz(d.weight)) add(f, "blkio", "blkio.weight_device", dev(d.major, d.minor) + " " + unum(*d.weight), "blkio.bfq.weight_device");
            if (nz(d.leafWeight)) add(f, "blkio", "blkio.leaf_weight_device", dev(d.major, d.minor) + " " + unum(*d.leafWeight));
        }
        auto throttle = [&](const std::vector<spec::ThrottleDevice>& v, const char* field, const char* file) {
            for (size_t i = 0; i < v.size(); ++i)
                add(std::string("blockIO.") + field + "[" + std::to_string(i) + "]", "blkio", file,
                    dev(v[i].major, v[i].minor) + " " + unum(v[i].rate));
        };
        throttle(b.throttleReadBpsDevice, "throttleReadBpsDevice", "blkio.throttle.read_bps_device");
        throttle(b.throttleWriteBpsDevice, "throttleWriteBpsDevice", "blkio.throttle.write_bps_device");
        throttle(b.throttleReadIOPSDevice, "throttleReadIOPSDevice", "blkio.throttle.read_iops_device");
        throttle(b.throttleWriteIOPSDevice, "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device");
    }
    for (size_t i = 0; i < r.hugepageLimits.size(); ++i) {
        const auto& h = r.hugepageLimits[i];
        add("hugepageLimits[" + std::to_string(i) + "]", "hugetlb", "hugetlb." + h.pageSize + ".limit_in_bytes", unum(h.limit));
    }
    if (r.network) {
        if (r.network->classID) add("network.classID", "net_cls", "net_cls.classid", unum(*r.network->classID));
        for (size_t i = 0; i < r.network->priorities.size(); ++i) {
            const auto& p = r.network->priorities[i];
            add("network.priorities[" + std::to_string(i) + "]", "net_prio", "net_prio.ifpriomap",
                p.name + " " + unum(p.priority));
        }
    }
    for (const auto& [name, lim] : r.rdma) add("rdma." + name, "rdma", "rdma.max", rdma_value(name, lim));
    if (!r.unified.empty()) throw Error(ENOTSUP, R + "unified: needs cgroup v2, and this host's cgroups are v1");
    if (!r.devices.empty()) {
        add("devices", "devices", "devices.deny", "a");
        auto rules = r.devices;
        rules.insert(rules.end(), default_device_rules().begin(), default_device_rules().end());
        for (size_t i = 0; i < rules.size(); ++i) {
            const auto& d = rules[i];
            std::string f = i < r.devices.size() ? "devices[" + std::to_string(i) + "]" : "devices (defaults)";
            for (const auto& line : device_rule_lines(d)) add(f, "devices", d.allow ? "devices.allow" : "devices.deny", line);
        }
    }
    return w;
}

std::vector<Write> plan_v2(const spec::Resources& r) {
    std::vector<Write> w;
    auto add = [&](std::string field, std::string ctl, std::string file, std::string value, std::string alt = {}) {
        w.push_back({R + field, std::move(ctl), std::move(file), std::move(value), std::move(alt)});
    };
    if (r.memory) {
        const auto& m = *r.memory;
        if (nz(m.kernel)) not_on_v2(R + "memory.kernel", "kernel memory is accounted with the rest");
        if (nz(m.kernelTCP)) not_on_v2(R + "memory.kernelTCP", "kernel memory is accounted with the rest");
        if (m.swappiness) not_on_v2(R + "memory.swappiness", "no per-cgroup swappiness");
        if (m.disableOOMKiller && *m.disableOOMKiller) not_on_v2(R + "memory.disableOOMKiller", "no OOM-killer switch");
        if (m.useHierarchy && !*m.useHierarchy) not_on_v2(R + "memory.useHierarchy", "always hierarchical");
        if (nz(m.limit)) add("memory.limit", "memory", "memory.max", max_or(*m.limit));
        if (nz(m.swap)) add("memory.swap", "memory", "memory.swap.max", max_or(swap_to_v2(*m.swap, m.limit)));
        if (nz(m.reservation)) add("memory.reservation", "memory", "memory.low", max_or(*m.reservation));
    }
    if (r.cpu) {
        const auto& c = *r.cpu;
        if (nz(c.realtimePeriod) || nz(c.realtimeRuntime)) not_on_v2(R + "cpu.realtimeRuntime", "no realtime bandwidth control");
        if (nz(c.shares)) add("cpu.shares", "cpu", "cpu.weight", unum(shares_to_weight(*c.shares)));
        if (nz(c.quota) || nz(c.period)) {
            std::string quota = c.quota && *c.quota > 0 ? num(*c.quota) : "max";
            add(c.quota ? "cpu.quota" : "cpu.period", "cpu", "cpu.max", quota + " " + unum(c.period.value_or(100000)));
        }
        if (c.burst) add("cpu.burst", "cpu", "cpu.max.burst", unum(*c.burst));
        if (c.idle) add("cpu.idle", "cpu", "cpu.idle", num(*c.idle));
        if (!c.cpus.empty()) add("cpu.cpus", "cpuset", "cpuset.cpus", c.cpus);
        if (!c.mems.empty()) add("cpu.mems", "cpuset", "cpuset.mems", c.mems);
    }
    if (r.pids && nz(r.pids->limit)) add("pids.limit", "pids", "pids.max", *r.pids->limit > 0 ? num(*r.pids->limit) : "max");
    if (r.blockIO) {
        const auto& b = *r.blockIO;
        if (nz(b.leafWeight)) not_on_v2(R + "blockIO.leafWeight", "no leaf weights");
        // io.bfq.weight takes the v1 range as is; io.weight its own.
        if (nz(b.weight)) {
            add("blockIO.weight", "io", "io.bfq.weight", unum(*b.weight), "io.weight");
            w.back().alt_value = "default " + unum(blkio_to_io_weight(*b.weight));
        }
        for (size_t i = 0; i < b.weightDevice.size(); ++i) {
            const auto& d = b.weightDevice[i];
            if (nz(d.leafWeight)) not_on_v2(R + "blockIO.weightDevice[" + std::to_string(i) + "].leafWeight", "no leaf weights");
            if (nz(d.weight)) {
                add("blockIO.weightDevice[" + std::to_string(i) + "]", "io", "io.bfq.weight",
                    dev(d.major, d.minor) + " " + unum(*d.weight), "io.weight");
                w.back().alt_value = dev(d.major, d.minor) + " " + unum(blkio_to_io_weight(*d.weight));
            }
        }
        // io.max takes all four limits of one device in one line.
        struct Lim { int64_t major, minor; std::string text; };
        std::vector<Lim> lims;
        auto merge = [&](const std::vector<spec::ThrottleDevice>& v, const char* key) {
            for (const auto& t : v) {
                auto it = std::find_if(lims.begin(), lims.end(), [&](const Lim& l) { return l.major == t.major && l.minor == t.minor; });
                if (it == lims.end()) it = lims.insert(lims.end(), Lim{t.major, t.minor, dev(t.major, t.minor)});
                it->text += std::string(" ") + key + "=" + unum(t.rate);
            }
        };
        merge(b.throttleReadBpsDevice, "rbps");
        merge(b.throttleWriteBpsDevice, "wbps");
        merge(b.throttleReadIOPSDevice, "riops");
        merge(b.throttleWriteIOPSDevice, "wiops");
        for (const auto& l : lims) add("blockIO.throttle", "io", "io.max", l.text);
    }
    for (size_t i = 0; i < r.hugepageLimits.size(); ++i) {
        const auto& h = r.hugepageLimits[i];
        add("hugepageLimits[" + std::to_string(i) + "]", "hugetlb", "hugetlb." + h.pageSize + ".max", unum(h.limit));
    }
    if (r.network && (r.network->classID || !r.network->priorities.empty()))
        not_on_v2(R + "network", "net_cls and net_prio are cgroup v1 controllers");
    for (const auto& [name, lim] : r.rdma) add("rdma." + name, "rdma", "rdma.max", rdma_value(name, lim));
    for (const auto& [key, value] : r.unified) {
        std::string f = "unified[\"" + key + "\"]";
        auto dot = key.find('.');
        if (key.empty() || key.find('/') != std::string::npos || key.find("..") != std::string::npos || dot == std::string::npos)
            throw Error(EINVAL, R + f + ": invalid cgroup file name");
        std::string ctl = key.substr(0, dot);
        // cgroup.* files belong to the core, not to a controller.
        add(f, ctl == "cgroup" ? "" : ctl, key, value);
    }
    return w;
}

} // namespace berth::cgroup
