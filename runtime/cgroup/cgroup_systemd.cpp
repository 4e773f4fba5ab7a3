// The systemd cgroup driver. systemd owns the container's cgroup as a
// transient unit: a scope started for the container's init (systemd needs a
// live pid), Delegate=yes so the subtree is ours. Limits go to systemd as
// unit properties (so it keeps them when it re-applies the unit) and are
// then written by the cgroupfs driver on the unit's cgroup, as runc does:
// every linux.resources field works, and the v2 device program is berth's.
#include "cgroup_systemd.hpp"

#include "cgroup_resources.hpp"
#include "error.hpp"
#include "file_util.hpp"
#include "strings.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

namespace berth::cgroup::systemd {

namespace {

const char* kService = "org.freedesktop.systemd1";
const char* kObject = "/org/freedesktop/systemd1";
const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr int kJobTimeoutMs = 30000;   // runc's
constexpr uint64_t kInfinity = UINT64_MAX;   // systemd's "no limit"

[[noreturn]] void bad_path(const std::string& path, const std::string& why) {
    throw Error(EINVAL, "linux.cgroupsPath: " + why + " (the systemd cgroup driver takes \"slice:prefix:name\", got \"" +
                            path + "\")");
}

// Characters systemd accepts in a unit name (before its type suffix).
bool unit_chars_ok(const std::string& s) {
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '-' ||
                  c == '_' || c == '.' || c == '\\' || c == '@';
        if (!ok) return false;
    }
    return true;
}

dbus::Value prop(const std::string& name, dbus::Value v) {
    return dbus::Value::structure({dbus::Value::str(name), dbus::Value::variant(std::move(v))});
}

uint64_t limit_value(int64_t v) { return v < 0 ? kInfinity : static_cast<uint64_t>(v); }

// runc's CPU quota properties: the period where systemd knows it (v242+),
// and quota per second rounded up to 10 ms, as systemd keeps it in whole
// percent, so the exact cpu.max written afterwards is not below it.
void add_cpu_quota(std::vector<dbus::Value>& props, int64_t quota, uint64_t period, int version) {
    if (period != 0 && version >= 242) props.push_back(prop("CPUQuotaPeriodUSec", dbus::Value::u64(period)));
    if (quota == 0 && period == 0) return;
    uint64_t per_sec = kInfinity;
    if (quota > 0) {
        if (period == 0) period = 100000;
        per_sec = static_cast<uint64_t>(quota) * 1000000 / period;
        if (per_sec % 10000) per_sec = (per_sec / 10000 + 1) * 10000;
    }
    props.push_back(prop("CPUQuotaPerSecUSec", dbus::Value::u64(per_sec)));
}

void add_cpuset(std::vector<dbus::Value>& props, const std::string& cpus, const std::string& mems, int version,
                const std::string& field) {
    if (version < 244) return;   // AllowedCPUs came with v244; the cgroupfs write still applies
    if (!cpus.empty()) props.push_back(prop("AllowedCPUs", dbus::Value::bytes(cpuset_bits(cpus, field + "cpus"))));
    if (!mems.empty()) props.push_back(prop("AllowedMemoryNodes", dbus::Value::bytes(cpuset_bits(mems, field + "mems"))));
}

uint64_t parse_u64(const std::string& v, const std::string& field) {
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
        throw Error(EINVAL, field + ": invalid value \"" + v + "\"");
    errno = 0;
    uint64_t n = std::strtoull(v.c_str(), nullptr, 10);
    if (errno) throw Error(EINVAL, field + ": invalid value \"" + v + "\"");
    return n;
}

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t\n");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\n") - b + 1);
}

// linux.resources.unified keys systemd has properties for (runc's list);
// the rest only go to cgroupfs.
void add_unified(std::vector<dbus::Value>& props, const std::map<std::string, std::string>& unified, int version) {
    for (const auto& [key, raw] : unified) {
        std::string f = "linux.resources.unified[\"" + key + "\"]";
        std::string v = trim(raw);
        auto max_or = [&] { return v == "max" ? kInfinity : parse_u64(v, f); };
        if (key == "memory.high") props.push_back(prop("MemoryHigh", dbus::Value::u64(max_or())));
        else if (key == "memory.low") props.push_back(prop("MemoryLow", dbus::Value::u64(max_or())));
        else if (key == "memory.min") props.push_back(prop("MemoryMin", dbus::Value::u64(max_or())));
        else if (key == "memory.max") props.push_back(prop("MemoryMax", dbus::Value::u64(max_or())));
        else if (key == "memory.swap.max") props.push_back(prop("MemorySwapMax", dbus::Value::u64(max_or())));
        else if (key == "pids.max") props.push_back(prop("TasksMax", dbus::Value::u64(max_or())));
        else if (key == "cpu.weight") props.push_back(prop("CPUWeight", dbus::Value::u64(parse_u64(v, f))));
        else if (key == "cpuset.cpus") add_cpuset(props, v, "", version, f + " ");
        else if (key == "cpuset.mems") add_cpuset(props, "", v, version, f + " ");
        else if (key == "cpu.max") {
            auto parts = split_ws(v);
            if (parts.empty() || parts.size() > 2) throw Error(EINVAL, f + ": invalid value \"" + v + "\"");
            int64_t quota = parts[0] == "max" ? 0 : static_cast<int64_t>(parse_u64(parts[0], f));
            uint64_t period = parts.size() == 2 ? parse_u64(parts[1], f) : 100000;
            add_cpu_quota(props, quota, period, version);
        }
    }
}

// This process's (or pid's) cgroup in each hierarchy, keyed like
// Hierarchy::controllers joined by commas ("" for cgroup2).
std::map<std::string, std::string> proc_cgroups(pid_t pid) {
    std::map<std::string, std::string> out;
    for (const auto& line : split(read_file("/proc/" + std::to_string(pid) + "/cgroup"), '\n')) {
        auto a = line.find(':');
        auto b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        out[line.substr(a + 1, b - a - 1)] = line.substr(b + 1);
    }
    return out;
}

std::string hierarchy_key(const Hierarchy& h) {
    std::string key;
    for (const auto& c : h.controllers) key += (key.empty() ? "" : ",") + c;
    return key;
}

bool is_dir(const char* path) {
    struct stat st;
    return ::stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

class SystemdManager final : public Manager {
public:
    SystemdManager(std::vector<Hierarchy> hs, Unit u, std::vector<std::string> created, bool is_new)
        : hs_(std::move(hs)), unit_(std::move(u)), is_new_(is_new),
          fs_(open_in(hs_, unit_.path, std::move(created))) {
        // Fail before anything is made when systemd is absent. The
        // connection is not kept: the init, cloned before add(), would hold
        // it (unread, while systemd queues its signals) until it execs.
        if (is_new_) connect();
    }

    // The unit is made by add(), for the init's pid.
    void create() override {}

    UniqueFd birth_fd() const override { return is_new_ ? UniqueFd() : fs_->birth_fd(); }
    void enter_self() const override {
        if (!is_new_) fs_->enter_self();
    }
    bool parent_places_init() const override { return is_new_ && !started_; }

    void add(pid_t pid, bool born_into) override {
        if (is_new_ && !started_) {
            with_context("systemd unit " + unit_.name, [&] { start(pid); });
            return;
        }
        fs_->add(pid, born_into);
    }

    void set(const spec::Resources& r) override {
        // The cgroupfs plan first: it names a field this host can't take
        // before systemd is asked anything.
        if (v2()) plan_v2(r);
        else plan_v1(r);
        if (is_new_ && !started_) {
            pending_ = r;   // applied once the unit exists
            return;
        }
        auto props = resource_properties(r, v2(), needs_version(r) ? version() : 0);
        if (!props.empty()) {
            with_context("systemd unit " + unit_.name + ": SetUnitProperties", [&] {
                auto m = dbus::Message::method_call(kService, kObject, kManager, "SetUnitProperties");
                m.arg(dbus::Value::str(unit_.name)).arg(dbus::Value::boolean(true)).arg(dbus::Value::array("(sv)", std::move(props)));
                bus().call(std::move(m));
            });
        }
        fs_->set(r);
    }

    void freeze(bool frozen) override { fs_->freeze(frozen); }
    Stats stats() const override { return fs_->stats(); }
    std::vector<pid_t> pids() const override { return fs_->pids(); }
    bool frozen() const override { return fs_->frozen(); }
    std::string frozen_reason() const override { return fs_->frozen_reason(); }

    void destroy() override {
        if (!is_new_ || started_) with_context("systemd unit " + unit_.name, [&] { stop(); });
        started_ = false;
        fs_->destroy();
    }

    std::vector<std::pair<Hierarchy, std::string>> dirs() const override { return fs_->dirs(); }
    std::unique_ptr<Manager> sub(const std::map<std::string, std::string>& paths) const override {
        return fs_->sub(paths);
    }
    const std::string& path() const override { return unit_.cgroups_path; }
    const std::vector<std::string>& created() const override { return fs_->created(); }
    Driver driver() const override { return Driver::systemd; }
    std::string unit() const override { return unit_.name; }

private:
    bool v2() const { return unified_mode(hs_); }

    static bool needs_version(const spec::Resources& r) {
        return (r.cpu && (r.cpu->period || !r.cpu->cpus.empty() || !r.cpu->mems.empty())) || r.unified.count("cpu.max") ||
               r.unified.count("cpuset.cpus") || r.unified.count("cpuset.mems");
    }

    dbus::Connection& bus() {
        if (!bus_) bus_.emplace(connect());
        return *bus_;
    }

    int version() {
        if (version_) return *version_;
        version_ = -1;
        try {
            auto m = dbus::Message::method_call(kService, kObject, "org.freedesktop.DBus.Properties", "Get");
            m.arg(dbus::Value::str(kManager)).arg(dbus::Value::str("Version"));
            auto r = bus().call(std::move(m));
            version_ = parse_version(r.args().at(0).inner().as_str());
        } catch (const Error&) {
            // An unknown version gets only the properties every systemd has.
        }
        return *version_;
    }

    dbus::Message manager_call(const char* member, const std::string& mode) {
        auto m = dbus::Message::method_call(kService, kObject, kManager, member);
        m.arg(dbus::Value::str(unit_.name));
        if (!mode.empty()) m.arg(dbus::Value::str(mode));
        return m;
    }

    // Wait for systemd's JobRemoved of job; returns its result ("done", "failed", ...).
    std::string wait_job(const std::string& job) {
        return with_context("waiting for systemd job " + job, [&] {
            auto s = bus().wait_signal([&](const dbus::Message& m) {
                if (m.member != "JobRemoved" || m.interface != kManager || m.signature != "uoss") return false;
                return m.args()[1].as_str() == job;
            }, kJobTimeoutMs);
            return s.args()[3].as_str();
        });
    }

    void reset_failed() {
        try {
            bus().call(manager_call("ResetFailedUnit", ""));
        } catch (const Error&) {
            // Not failed, or already gone: nothing to reset.
        }
    }

    void start(pid_t pid) {
        auto props = pending_ ? resource_properties(*pending_, v2(), needs_version(*pending_) ? version() : 0)
                              : std::vector<dbus::Value>{};
        std::string job;
        for (int attempt = 0;; ++attempt) {
            try {
                job = with_context("StartTransientUnit", [&] {
                    return bus().call(start_message(unit_, pid, v2(), props)).args().at(0).as_str();
                });
                break;
            } catch (const Error& e) {
                // A failed unit of the same name lingers until reset (runc retries once).
                if (e.err() != EEXIST || attempt > 0) throw;
                reset_failed();
            }
        }
        started_ = true;   // from here destroy() stops it
        auto result = wait_job(job);
        if (result != "done") {
            reset_failed();
            throw Error(EIO, "start job " + result + " (journalctl -u " + unit_.name + " may say why)");
        }
        // A slice takes no PIDs, and on a v1 host systemd manages only
        // some hierarchies: the cgroupfs driver puts the pid in the rest.
        // No pid: a slice started empty (berthd's pod slices).
        if (pid > 0) join_rest(pid);
        if (pending_) fs_->set(*pending_);
        pending_.reset();
    }

    void join_rest(pid_t pid) {
        auto at = proc_cgroups(pid);
        std::vector<Hierarchy> rest;
        for (const auto& h : hs_) {
            auto it = at.find(h.v2 ? std::string() : hierarchy_key(h));
            if (it == at.end() || it->second != unit_.path) rest.push_back(h);
        }
        if (rest.empty()) return;
        auto join = open_in(rest, unit_.path);
        try {
            join->create();
            join->add(pid, false);
        } catch (...) {
            fs_ = open_in(hs_, unit_.path, join->created());   // so destroy() removes them
            throw;
        }
        fs_ = open_in(hs_, unit_.path, join->created());
    }

    void stop() {
        try {
            bus();
        } catch (const Error& e) {
            // systemd is gone, and its units with it: only dirs may remain.
            if (e.err() != EHOSTDOWN) throw;
            remove_unit_dirs();
            return;
        }
        std::string job;
        try {
            job = with_context("StopUnit", [&] { return bus().call(manager_call("StopUnit", "replace")).args().at(0).as_str(); });
        } catch (const Error& e) {
            if (e.err() != ENOENT) throw;   // NoSuchUnit: it went away with its last process
        }
        if (!job.empty()) {
            auto result = wait_job(job);
            if (result != "done" && result != "canceled")
                throw Error(EIO, "stop job " + result + " (journalctl -u " + unit_.name + " may say why)");
        }
        reset_failed();
        remove_unit_dirs();
    }

    // systemd removes the unit's cgroup as it stops it; wait for that
    // briefly, and remove it ourselves if it stays (an empty leftover).
    void remove_unit_dirs() {
        for (const auto& [h, dir] : fs_->dirs()) {
            for (int tries = 0;; ++tries) {
                if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
                if (errno != EBUSY || tries >= 200) throw_errno("remove cgroup " + dir);
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        }
    }

    std::vector<Hierarchy> hs_;
    Unit unit_;
    bool is_new_;
    bool started_ = false;
    std::unique_ptr<Manager> fs_;   // the cgroupfs driver on the unit's cgroup
    std::optional<dbus::Connection> bus_;
    std::optional<spec::Resources> pending_;
    std::optional<int> version_;
};

} // namespace

std::string expand_slice(const std::string& slice) {
    const std::string suffix = ".slice";
    if (slice.size() <= suffix.size() || !slice.ends_with(suffix) || slice.find('/') != std::string::npos)
        throw Error(EINVAL, "invalid slice name \"" + slice + "\"");
    std::string base = slice.substr(0, slice.size() - suffix.size());
    if (base == "-") return "/";
    std::string path, prefix;
    for (const auto& part : split(base, '-')) {
        if (part.empty()) throw Error(EINVAL, "invalid slice name \"" + slice + "\"");
        path += "/" + prefix + part + suffix;
        prefix += part + "-";
    }
    return path;
}

Unit parse_path(const std::string& cgroups_path, const std::string& id, bool rootless) {
    std::string p = cgroups_path.empty() ? ":berth:" + id : cgroups_path;
    auto parts = split(p, ':');
    if (parts.size() != 3) bad_path(p, "expected three fields separated by ':'");
    Unit u;
    u.slice = parts[0].empty() ? (rootless ? "user.slice" : "system.slice") : parts[0];
    const std::string& prefix = parts[1];
    const std::string& name = parts[2];
    if (name.empty()) bad_path(p, "empty name");
    std::string slice_path;
    try {
        slice_path = expand_slice(u.slice);
    } catch (const Error& e) {
        bad_path(p, e.what());
    }
    if (name.ends_with(".slice")) {
        u.name = name;
        try {
            u.path = expand_slice(name);
        } catch (const Error& e) {
            bad_path(p, e.what());
        }
        if (u.path == "/") bad_path(p, "the root slice can't be a container's cgroup");
    } else {
        u.name = prefix.empty() ? name + ".scope" : prefix + "-" + name + ".scope";
        u.path = (slice_path == "/" ? "" : slice_path) + "/" + u.name;
    }
    if (!unit_chars_ok(u.name) || u.name.size() > 255)
        bad_path(p, "\"" + u.name + "\" is not a valid systemd unit name");
    u.cgroups_path = u.slice + ":" + prefix + ":" + name;
    return u;
}

std::vector<uint8_t> cpuset_bits(const std::string& list, const std::string& field) {
    std::vector<uint8_t> bits;
    auto set = [&](uint64_t i) {
        if (i >= 1u << 16) throw Error(EINVAL, field + ": CPU or node " + std::to_string(i) + " out of range");
        if (bits.size() <= i / 8) bits.resize(i / 8 + 1);
        bits[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    };
    for (const auto& raw : split(list, ',')) {
        std::string r = trim(raw);
        if (r.empty()) continue;
        auto dash = r.find('-');
        if (dash == std::string::npos) {
            set(parse_u64(r, field));
            continue;
        }
        uint64_t a = parse_u64(trim(r.substr(0, dash)), field), b = parse_u64(trim(r.substr(dash + 1)), field);
        if (a > b) throw Error(EINVAL, field + ": invalid range \"" + r + "\"");
        for (uint64_t i = a; i <= b; ++i) set(i);
    }
    if (bits.empty()) throw Error(EINVAL, field + ": empty CPU or node list \"" + list + "\"");
    return bits;
}

std::vector<dbus::Value> resource_properties(const spec::Resources& r, bool v2, int version) {
    const std::string R = "linux.resources.";
    std::vector<dbus::Value> props;
    auto u64 = [](uint64_t v) { return dbus::Value::u64(v); };
    if (r.memory) {
        const auto& m = *r.memory;
        if (m.limit && *m.limit != 0) props.push_back(prop(v2 ? "MemoryMax" : "MemoryLimit", u64(limit_value(*m.limit))));
        if (v2 && m.reservation && *m.reservation != 0) props.push_back(prop("MemoryLow", u64(limit_value(*m.reservation))));
        if (v2 && m.swap && *m.swap != 0) props.push_back(prop("MemorySwapMax", u64(limit_value(swap_to_v2(*m.swap, m.limit)))));
    }
    if (r.cpu) {
        const auto& c = *r.cpu;
        if (c.shares && *c.shares != 0)
            props.push_back(v2 ? prop("CPUWeight", u64(shares_to_weight(*c.shares))) : prop("CPUShares", u64(*c.shares)));
        add_cpu_quota(props, c.quota.value_or(0), c.period.value_or(0), version);
        add_cpuset(props, c.cpus, c.mems, version, R + "cpu.");
    }
    if (r.pids && r.pids->limit) props.push_back(prop("TasksMax", u64(*r.pids->limit > 0 ? static_cast<uint64_t>(*r.pids->limit) : kInfinity)));
    if (r.blockIO && r.blockIO->weight && *r.blockIO->weight != 0)
        props.push_back(v2 ? prop("IOWeight", u64(blkio_to_io_weight(*r.blockIO->weight)))
                           : prop("BlockIOWeight", u64(*r.blockIO->weight)));
    if (v2) add_unified(props, r.unified, version);
    return props;
}

dbus::Message start_message(const Unit& u, pid_t pid, bool v2, std::vector<dbus::Value> resource_props) {
    using dbus::Value;
    std::vector<Value> props;
    props.push_back(prop("Description", Value::str("berth container " + u.name)));
    if (u.is_slice()) {
        props.push_back(prop("Wants", Value::strings({u.slice})));
    } else {
        props.push_back(prop("Slice", Value::str(u.slice)));
        props.push_back(prop("Delegate", Value::boolean(true)));
        props.push_back(prop("PIDs", Value::array("u", {Value::u32(static_cast<uint32_t>(pid))})));
    }
    // Accounting on, as the cgroupfs driver has every controller: the
    // kernel handles joining the memory cgroup late badly, too.
    props.push_back(prop("MemoryAccounting", Value::boolean(true)));
    props.push_back(prop("CPUAccounting", Value::boolean(true)));
    props.push_back(prop(v2 ? "IOAccounting" : "BlockIOAccounting", Value::boolean(true)));
    props.push_back(prop("TasksAccounting", Value::boolean(true)));
    props.push_back(prop("DefaultDependencies", Value::boolean(false)));
    for (auto& p : resource_props) props.push_back(std::move(p));

    auto m = dbus::Message::method_call(kService, kObject, kManager, "StartTransientUnit");
    m.arg(Value::str(u.name))
        .arg(Value::str("replace"))
        .arg(Value::array("(sv)", std::move(props)))
        .arg(Value::array("(sa(sv))", {}));
    return m;
}

int parse_version(const std::string& v) {
    size_t i = 0;
    while (i < v.size() && (v[i] == '"' || v[i] == 'v')) ++i;
    size_t j = i;
    while (j < v.size() && v[j] >= '0' && v[j] <= '9') ++j;
    if (j == i || j - i > 6) return -1;
    return std::stoi(v.substr(i, j - i));
}

std::unique_ptr<Manager> open_manager(std::vector<Hierarchy> hs, Unit u, std::vector<std::string> created, bool is_new) {
    return std::make_unique<SystemdManager>(std::move(hs), std::move(u), std::move(created), is_new);
}

dbus::Connection connect() {
    const std::string priv = "/run/systemd/private", system_bus = "/run/dbus/system_bus_socket";
    std::string why;
    if (::geteuid() == 0) {
        // systemd's own socket: no bus daemon in between, no Hello, and
        // signals come without a subscription.
        try {
            return dbus::Connection::connect(priv);
        } catch (const Error& e) {
            why = e.what();
        }
    }
    if (is_dir("/run/systemd/system")) {
        try {
            auto c = dbus::Connection::connect(system_bus);
            c.hello();
            auto match = dbus::Message::method_call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                                    "AddMatch");
            match.arg(dbus::Value::str("type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop."
                                       "systemd1.Manager',member='JobRemoved',path='/org/freedesktop/systemd1'"));
            c.call(std::move(match));
            // systemd sends job signals on the bus only while a client is subscribed.
            c.call(dbus::Message::method_call(kService, kObject, kManager, "Subscribe"));
            return c;
        } catch (const Error& e) {
            if (why.empty()) why = e.what();
        }
    } else if (why.empty()) {
        why = "no /run/systemd/system";
    }
    throw Error(EHOSTDOWN, "--systemd-cgroup: systemd is not running (" + why + ")");
}

} // namespace berth::cgroup::systemd
