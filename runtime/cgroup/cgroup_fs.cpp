// The cgroupfs driver: the container's cgroup is one dir per mounted
// hierarchy, v1 controllers and cgroup2 alike.
#include "cgroup.hpp"

#include "error.hpp"
#include "fd.hpp"
#include "file_util.hpp"
#include "strings.hpp"
#include "cgroup_device_bpf.hpp"
#include "cgroup_resources.hpp"
#include "cgroup_systemd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

namespace berth::cgroup {

namespace {

// Mount options that are not controllers.
bool is_mount_flag(const std::string& o) {
    static const char* flags[] = {"rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec",
                                  "nsdelegate", "memory_recursiveprot", "favordynmods", "clone_children",
                                  "xattr", "cpuset_v2_mode", "memory_localevents", "memory_hugetlb_accounting"};
    for (auto f : flags)
        if (o == f) return true;
    return o.rfind("release_agent=", 0) == 0;
}

std::map<std::string, std::string> own_cgroups() {
    // "ID:controllers:path"; cgroup2 has an empty controller list.
    std::map<std::string, std::string> out;
    for (const auto& line : split(read_file("/proc/self/cgroup"), '\n')) {
        auto a = line.find(':');
        auto b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        out[line.substr(a + 1, b - a - 1)] = line.substr(b + 1);
    }
    return out;
}

std::string join_path(const std::string& a, const std::string& b) {
    if (b.empty()) return a;
    if (a.empty() || a.back() == '/') return a + (b.front() == '/' ? b.substr(1) : b);
    return b.front() == '/' ? a + b : a + "/" + b;
}

// v1 cpuset cgroups start with empty cpus/mems, and a task can't join one
// until both are copied down from the parent.
void init_cpuset(const std::string& dir) {
    auto parent = dir.substr(0, dir.rfind('/'));
    for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
        std::string path = dir + "/" + f;
        UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        if (!fd) throw_errno("open " + path);
        char c;
        ssize_t n = ::read(fd.get(), &c, 1);
        if (n == 1 && c != '\n') continue;   // already set
        auto value = read_file(parent + "/" + f);
        if (::pwrite(fd.get(), value.data(), value.size(), 0) < 0) throw_errno("write " + path);
    }
}

class FsManager final : public Manager {
public:
    FsManager(std::vector<Hierarchy> hs, std::string path, std::vector<std::string> created)
        : hs_(std::move(hs)), path_(std::move(path)), created_(std::move(created)) {
        for (auto& h : hs_) {
            std::string base = !path_.empty() && path_.front() == '/' ? path_ : join_path(h.own_path, path_);
            dirs_.push_back(join_path(h.mountpoint, base));
        }
    }

    void create() override {
        for (size_t i = 0; i < hs_.size(); ++i) {
            const auto& dir = dirs_[i];
            bool cpuset = std::find(hs_[i].controllers.begin(), hs_[i].controllers.end(), "cpuset") !=
                          hs_[i].controllers.end();
            // mkdir -p, remembering each level we made.
            size_t pos = hs_[i].mountpoint.size();
            while (pos != std::string::npos) {
                pos = dir.find('/', pos + 1);
                std::string level = dir.substr(0, pos);
                if (::mkdir(level.c_str(), 0755) == 0) created_.push_back(level);
                else if (errno != EEXIST) throw_errno("create cgroup " + level);
                // Every level, not just ours: a parent that a concurrent
                // create has just made may not have its cpus and mems yet.
                if (cpuset) init_cpuset(level);
            }
        }
        // cgroup v2: a new cgroup has only the controllers its parent
        // delegates; enable every available one down the (now recorded)
        // path, as runc's fs2 driver does, so stats and OOM events work for
        // a container without limits too.
        if (unified_mode(hs_)) enable_all_v2(hs_[0].mountpoint, dirs_[0]);
    }

    UniqueFd birth_fd() const override {
        for (size_t i = 0; i < hs_.size(); ++i) {
            if (!hs_[i].v2) continue;
            UniqueFd fd(::open(dirs_[i].c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
            if (!fd) throw_errno("open cgroup " + dirs_[i]);
            return fd;
        }
        return UniqueFd();
    }

    void enter_self() const override {
        for (size_t i = 0; i < hs_.size(); ++i)
            if (!hs_[i].v2) write_existing(dirs_[i] + "/tasks", "0");
    }

    void add(pid_t pid, bool born_into) override {
        auto s = std::to_string(pid);
        for (size_t i = 0; i < hs_.size(); ++i)
            if (!(born_into && hs_[i].v2)) write_existing(dirs_[i] + "/cgroup.procs", s);
    }

    void set(const spec::Resources& r) override {
        bool v2 = unified_mode(hs_);
        auto plan = v2 ? plan_v2(r) : plan_v1(r);
        if (r.memory && r.memory->checkBeforeUpdate.value_or(false) && r.memory->limit && *r.memory->limit > 0)
            check_memory_usage(static_cast<uint64_t>(*r.memory->limit), v2);
        for (size_t i = 0; i < plan.size(); ++i) {
            const auto& w = plan[i];
            std::string dir = dir_for(w.controller, w.field);
            try {
                write_one(dir, w);
            } catch (const Error& e) {
                // The kernel checks each write against the other's current
                // value, so some transitions need the second write first:
                // memory below memsw, and (runc's rule) a period whose ratio
                // with the current quota exceeds the parent's quota.
                auto next_is = [&](const char* a, const char* b) {
                    return w.file == a && i + 1 < plan.size() && plan[i + 1].file == b;
                };
                bool swap = e.err() == EINVAL && (next_is("memory.limit_in_bytes", "memory.memsw.limit_in_bytes") ||
                                                  next_is("cpu.cfs_period_us", "cpu.cfs_quota_us"));
                if (!swap) throw;
                write_one(dir, plan[i + 1]);
                write_one(dir, w);
                ++i;
            }
        }
        if (v2 && !r.devices.empty()) set_v2_devices(r.devices);
    }

    // memory.checkBeforeUpdate: refuse a limit below what is in use now
    // (rather than have the kernel reclaim or OOM-kill to meet it).
    void check_memory_usage(uint64_t limit, bool v2) {
        std::string dir = dir_for("memory", "memory.checkBeforeUpdate");
        std::string file = dir + (v2 ? "/memory.current" : "/memory.usage_in_bytes");
        uint64_t usage = 0;
        try {
            usage = std::stoull(read_file(file));
        } catch (const Error& e) {
            if (e.err() == ENOENT) return;   // a new cgroup: nothing in use yet
            throw;
        } catch (const std::exception&) {
            throw Error(EINVAL, "memory.checkBeforeUpdate: unreadable " + file);
        }
        if (usage > limit)
            throw Error(EBUSY, "linux.resources.memory.limit: " + std::to_string(limit) +
                                   " is below the current usage " + std::to_string(usage) +
                                   " (memory.checkBeforeUpdate)");
    }

    void freeze(bool frozen) override {
        for (size_t i = 0; i < hs_.size(); ++i) {
            bool v1_freezer = has_controller(hs_[i], "freezer");
            bool v2 = hs_[i].v2 && unified_mode(hs_);
            if (!v1_freezer && !v2) continue;
            const std::string& d = dirs_[i];
            if (v2) write_existing(d + "/cgroup.freeze", frozen ? "1" : "0");
            else write_existing(d + "/freezer.state", frozen ? "FROZEN" : "THAWED");
            // The kernel freezes asynchronously: wait until it reports done.
            for (int tries = 0; tries < 1000; ++tries) {
                bool done = v2 ? read_file(d + "/cgroup.events").find(frozen ? "frozen 1" : "frozen 0") != std::string::npos
                               : read_file(d + "/freezer.state").starts_with(frozen ? "FROZEN" : "THAWED");
                if (done) return;
                if (!v2 && frozen) write_existing(d + "/freezer.state", "FROZEN");   // v1 may need a nudge
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            throw Error(ETIMEDOUT, std::string(frozen ? "freeze" : "thaw") + " cgroup " + d + ": timed out");
        }
        throw Error(ENOTSUP, "pause/resume: the host has no freezer (cgroup v1 freezer or cgroup v2)");
    }

    Stats stats() const override;

    std::vector<pid_t> pids() const override {
        std::vector<pid_t> out;
        if (dirs_.empty()) return out;
        std::string text;
        try {
            text = read_file(dirs_.front() + "/cgroup.procs");
        } catch (const Error& e) {
            if (e.err() == ENOENT) return out;
            throw;
        }
        for (auto& l : split(text, '\n'))
            if (!l.empty()) out.push_back(static_cast<pid_t>(std::stol(l)));
        return out;
    }

    bool frozen() const override {
        for (size_t i = 0; i < hs_.size(); ++i) {
            try {
                if (hs_[i].v2 && unified_mode(hs_)) return read_file(dirs_[i] + "/cgroup.freeze").starts_with("1");
                if (std::find(hs_[i].controllers.begin(), hs_[i].controllers.end(), "freezer") != hs_[i].controllers.end())
                    return read_file(dirs_[i] + "/freezer.state").starts_with("FROZEN");
            } catch (const Error&) {
                return false;
            }
        }
        return false;
    }

    std::string frozen_reason() const override {
        for (size_t i = 0; i < hs_.size(); ++i) {
            const std::string& d = dirs_[i];
            try {
                // Any cgroup2 hierarchy, the hybrid one included: its
                // freezer stops tasks whatever berth's own pause uses.
                if (hs_[i].v2) {
                    if (read_file(d + "/cgroup.freeze").starts_with("1")) return d + "/cgroup.freeze is 1";
                    if (read_file(d + "/cgroup.events").find("frozen 1") != std::string::npos)
                        return d + "/cgroup.events says frozen (an ancestor is)";
                } else if (has_controller(hs_[i], "freezer")) {
                    auto st = read_file(d + "/freezer.state");
                    while (!st.empty() && st.back() == '\n') st.pop_back();
                    if (st == "FROZEN" || st == "FREEZING") return d + "/freezer.state is " + st;
                }
            } catch (const Error&) {
                // Not there (yet): nothing frozen.
            }
        }
        return "";
    }

    void destroy() override {
        // Deepest first. The container's own dir can stay busy for a moment
        // after its last task died, so that one is retried briefly; a parent
        // we created is shared once other containers use it, and stays.
        std::vector<std::string> dirs = created_;
        std::sort(dirs.begin(), dirs.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
        for (auto& d : dirs) {
            bool own = std::find(dirs_.begin(), dirs_.end(), d) != dirs_.end();
            // Sub-cgroups made under the container's (exec --cgroup) go
            // with it, as runc removes them.
            if (own) remove_subcgroups(d);
            for (int tries = 0;; ++tries) {
                if (::rmdir(d.c_str()) == 0 || errno == ENOENT) break;
                if (own && errno == EBUSY && tries < 100) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(tries < 10 ? 1 : 10));
                    continue;
                }
                if (!own && (errno == EBUSY || errno == ENOTEMPTY)) break;
                throw_errno("remove cgroup " + d);
            }
        }
        created_.clear();
    }

    std::vector<std::pair<Hierarchy, std::string>> dirs() const override {
        std::vector<std::pair<Hierarchy, std::string>> out;
        for (size_t i = 0; i < hs_.size(); ++i) out.emplace_back(hs_[i], dirs_[i]);
        return out;
    }

    std::unique_ptr<Manager> sub(const std::map<std::string, std::string>& paths) const override {
        auto arg = [](const std::string& ctl, const std::string& p) {
            return "exec --cgroup " + (ctl.empty() ? p : ctl + ":" + p);
        };
        if (path_.empty() || hs_.empty())
            throw Error(ENOTSUP, "exec --cgroup: the container has no cgroup of its own (rootless)");
        bool unified = unified_mode(hs_);
        for (const auto& [ctl, p] : paths) {
            bool escapes = p.empty() || p.front() == '/';
            for (const auto& comp : split(p, '/')) escapes = escapes || comp == "..";
            if (escapes)
                throw Error(EINVAL, arg(ctl, p) + ": must be a path inside the container's cgroup, without \"..\"");
            if (ctl.empty()) continue;
            if (unified)
                throw Error(EINVAL, arg(ctl, p) + ": cgroup v2 has one hierarchy; give the path without a controller");
            bool known = std::any_of(hs_.begin(), hs_.end(), [&](const Hierarchy& h) { return matches(h, ctl); });
            if (!known) throw Error(EINVAL, arg(ctl, p) + ": no cgroup v1 controller \"" + ctl + "\" on this host");
        }
        auto m = std::make_unique<FsManager>(hs_, path_, std::vector<std::string>{});
        auto all = paths.find("");
        for (size_t i = 0; i < hs_.size(); ++i) {
            std::string ctl, p;
            if (all != paths.end()) {
                p = all->second;
            } else {
                for (const auto& [c, sp] : paths) {
                    if (!matches(hs_[i], c)) continue;
                    if (!p.empty() && sp != p)
                        throw Error(EINVAL, arg(c, sp) + ": " + ctl + " shares its hierarchy and was given " + p);
                    ctl = c;
                    p = sp;
                }
            }
            if (p.empty()) continue;
            std::string d = dirs_[i] + "/" + p;
            struct stat st;
            if (::stat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
                m->dirs_[i] = d;
                continue;
            }
            // The hybrid host's cgroup2, which runc does not place exec'd
            // processes in at all: the container's own cgroup there.
            if (hs_[i].v2 && !unified) continue;
            throw Error(ENOENT, arg(ctl, p) + ": no sub-cgroup " + d + " (runc's rule: it must exist)");
        }
        return m;
    }

    const std::string& path() const override { return path_; }
    const std::vector<std::string>& created() const override { return created_; }

private:
    // A v1 hierarchy by controller, as runc names them ("cpu", and
    // "name=systemd" or "systemd" for a named one).
    static bool matches(const Hierarchy& h, const std::string& ctl) {
        if (h.v2) return false;
        return std::any_of(h.controllers.begin(), h.controllers.end(),
                           [&](const std::string& c) { return c == ctl || c == "name=" + ctl; });
    }

    // Every directory below `dir`, deepest first; a cgroup just emptied
    // may stay busy for a moment.
    static void remove_subcgroups(const std::string& dir) {
        DIR* d = ::opendir(dir.c_str());
        if (!d) return;
        std::vector<std::string> subs;
        while (dirent* e = ::readdir(d))
            if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
                subs.push_back(dir + "/" + e->d_name);
        ::closedir(d);
        for (const auto& s : subs) {
            remove_subcgroups(s);
            for (int tries = 0;; ++tries) {
                if (::rmdir(s.c_str()) == 0 || errno == ENOENT) break;
                if (errno == EBUSY && tries < 100) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(tries < 10 ? 1 : 10));
                    continue;
                }
                throw_errno("remove cgroup " + s);
            }
        }
    }

    static bool has_controller(const Hierarchy& h, const std::string& c) {
        return std::find(h.controllers.begin(), h.controllers.end(), c) != h.controllers.end();
    }

    // The container's dir where `controller`'s files live; for cgroup v2,
    // with the controller enabled from the root down to it.
    std::string dir_for(const std::string& controller, const std::string& field) {
        bool v2 = unified_mode(hs_);
        for (size_t i = 0; i < hs_.size(); ++i) {
            if (!v2 && !hs_[i].v2 && has_controller(hs_[i], controller)) return dirs_[i];
            if (v2) {
                if (!controller.empty()) enable_v2(hs_[i].mountpoint, dirs_[i], controller, field);
                return dirs_[i];
            }
        }
        throw Error(ENOTSUP, field + ": this host has no " + controller + " cgroup controller" +
                                 (v2 ? "" : " in its cgroup v1 hierarchies"));
    }

    // cgroup v2 controllers must be enabled in every ancestor's subtree_control.
    void enable_v2(const std::string& mount, const std::string& dir, const std::string& ctl, const std::string& field) {
        auto listed = [&](const std::string& file) {
            for (auto& c : split_ws(read_file(file)))
                if (c == ctl || c == ctl + "\n") return true;
            return false;
        };
        if (!listed(mount + "/cgroup.controllers"))
            throw Error(ENOTSUP, field + ": the cgroup v2 controller \"" + ctl + "\" is not available on this host");
        std::string cur = mount;
        size_t pos = mount.size();
        while (cur != dir) {
            if (!listed(cur + "/cgroup.subtree_control"))
                with_context(field, [&] { write_existing(cur + "/cgroup.subtree_control", "+" + ctl); });
            pos = dir.find('/', pos + 1);
            cur = dir.substr(0, pos);
        }
    }

    // Write every controller of each level's cgroup.controllers into its
    // subtree_control, from the root to the container's parent (one write
    // a level; EBUSY where a level holds processes is tolerated).
    static void enable_all_v2(const std::string& mount, const std::string& dir) {
        std::string cur = mount;
        size_t pos = mount.size();
        while (cur != dir) {
            std::string ctl, avail;
            try {
                avail = read_file(cur + "/cgroup.controllers");
            } catch (const Error&) {
                // Nothing to delegate here (not a cgroup2 dir).
            }
            for (auto& c : split_ws(avail))
                if (!c.empty() && c != "\n") ctl += (ctl.empty() ? "+" : " +") + (c.back() == '\n' ? c.substr(0, c.size() - 1) : c);
            if (!ctl.empty()) {
                try {
                    write_existing(cur + "/cgroup.subtree_control", ctl);
                } catch (const Error& e) {
                    if (e.err() != EBUSY) throw;
                }
            }
            pos = dir.find('/', pos + 1);
            cur = dir.substr(0, pos);
        }
    }

    static void write_one(const std::string& dir, const Write& w) {
        std::string path = dir + "/" + w.file;
        int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        std::string value = w.value;
        if (fd < 0 && errno == ENOENT && !w.alt_file.empty()) {
            path = dir + "/" + w.alt_file;
            if (!w.alt_value.empty()) value = w.alt_value;
            fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        }
        if (fd < 0) {
            if (errno == ENOENT) throw Error(ENOTSUP, w.field + ": this host's cgroups have no " + w.file);
            throw_errno(w.field + ": open " + path);
        }
        UniqueFd f(fd);
        if (::write(fd, value.data(), value.size()) < 0) throw_errno(w.field + ": write \"" + value + "\" to " + w.file);
    }

    void set_v2_devices(const std::vector<spec::DeviceCgroup>& rules);

    std::vector<Hierarchy> hs_;
    std::string path_;
    std::vector<std::string> created_;
    std::vector<std::string> dirs_;
};

namespace {

// "key value" lines (cpu.stat, memory.stat, memory.events) into a map.
std::map<std::string, uint64_t> key_values(const std::string& path) {
    std::map<std::string, uint64_t> out;
    try {
        for (const auto& line : split(read_file(path), '\n')) {
            auto f = split_ws(line);
            if (f.size() == 2) out[f[0]] = std::strtoull(f[1].c_str(), nullptr, 10);
        }
    } catch (const Error&) {
    }
    return out;
}

// A single number; "max" and missing files read as 0.
uint64_t number(const std::string& path) {
    try {
        return std::strtoull(read_file(path).c_str(), nullptr, 10);
    } catch (const Error&) {
        return 0;
    }
}

MemoryUsage v1_memory(const std::string& d, const std::string& prefix) {
    MemoryUsage m;
    m.usage = number(d + "/" + prefix + "usage_in_bytes");
    m.max = number(d + "/" + prefix + "max_usage_in_bytes");
    m.limit = number(d + "/" + prefix + "limit_in_bytes");
    m.failcnt = number(d + "/" + prefix + "failcnt");
    return m;
}

} // namespace

Stats FsManager::stats() const {
    Stats s;
    // USER_HZ ticks (cpuacct.stat) in nanoseconds.
    const uint64_t tick_ns = 1000000000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
    for (size_t i = 0; i < hs_.size(); ++i) {
        const auto& h = hs_[i];
        const auto& d = dirs_[i];
        if (h.v2 && unified_mode(hs_)) {
            auto cpu = key_values(d + "/cpu.stat");
            s.cpu_total_ns = cpu["usage_usec"] * 1000;
            s.cpu_user_ns = cpu["user_usec"] * 1000;
            s.cpu_kernel_ns = cpu["system_usec"] * 1000;
            s.cpu_periods = cpu["nr_periods"];
            s.cpu_throttled_periods = cpu["nr_throttled"];
            s.cpu_throttled_ns = cpu["throttled_usec"] * 1000;
            s.memory.usage = number(d + "/memory.current");
            s.memory.max = number(d + "/memory.peak");
            s.memory.limit = number(d + "/memory.max");
            s.swap.usage = number(d + "/memory.swap.current");
            s.swap.limit = number(d + "/memory.swap.max");
            s.memory_raw = key_values(d + "/memory.stat");
            auto ev = key_values(d + "/memory.events");
            s.oom_kills = ev["oom_kill"];
            s.memory.failcnt = ev["max"];
            s.pids_current = number(d + "/pids.current");
            s.pids_limit = number(d + "/pids.max");
            continue;
        }
        if (has_controller(h, "cpuacct")) {
            s.cpu_total_ns = number(d + "/cpuacct.usage");
            for (const auto& v : split_ws(read_file(d + "/cpuacct.usage_percpu")))
                if (!v.empty() && v != "\n") s.cpu_percpu_ns.push_back(std::strtoull(v.c_str(), nullptr, 10));
            auto st = key_values(d + "/cpuacct.stat");
            s.cpu_user_ns = st["user"] * tick_ns;
            s.cpu_kernel_ns = st["system"] * tick_ns;
        }
        if (has_controller(h, "cpu")) {
            auto cpu = key_values(d + "/cpu.stat");
            s.cpu_periods = cpu["nr_periods"];
            s.cpu_throttled_periods = cpu["nr_throttled"];
            s.cpu_throttled_ns = cpu["throttled_time"];
        }
        if (has_controller(h, "memory")) {
            s.memory = v1_memory(d, "memory.");
            s.swap = v1_memory(d, "memory.memsw.");
            s.kernel = v1_memory(d, "memory.kmem.");
            s.kernel_tcp = v1_memory(d, "memory.kmem.tcp.");
            s.memory_raw = key_values(d + "/memory.stat");
            s.oom_kills = key_values(d + "/memory.oom_control")["oom_kill"];
        }
        if (has_controller(h, "pids")) {
            s.pids_current = number(d + "/pids.current");
            s.pids_limit = number(d + "/pids.max");
        }
    }
    return s;
}

// cgroup v2 has no devices files: a BPF program attached to the cgroup
// decides, built from the config's rules followed by runc's defaults.
void FsManager::set_v2_devices(const std::vector<spec::DeviceCgroup>& rules) {
    with_context("linux.resources.devices", [&] {
        auto all = rules;
        all.insert(all.end(), default_device_rules().begin(), default_device_rules().end());
        auto prog = load_device_program(device_program(all));
        for (size_t i = 0; i < hs_.size(); ++i) {
            if (!hs_[i].v2) continue;
            UniqueFd dir(::open(dirs_[i].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!dir) throw_errno("open " + dirs_[i]);
            attach_device_program(dir.get(), prog.get());
        }
    });
}

} // namespace

std::vector<Hierarchy> host_hierarchies() {
    auto own = own_cgroups();
    std::vector<Hierarchy> out;
    for (const auto& line : split(read_file("/proc/self/mountinfo"), '\n')) {
        auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        auto pre = split(line.substr(0, dash), ' ');
        auto post = split(line.substr(dash + 3), ' ');
        if (pre.size() < 5 || post.size() < 3) continue;
        const auto& fstype = post[0];
        if (fstype != "cgroup" && fstype != "cgroup2") continue;
        Hierarchy h;
        h.mountpoint = pre[4];
        h.name = h.mountpoint.substr(h.mountpoint.rfind('/') + 1);
        h.v2 = fstype == "cgroup2";
        std::string key;
        if (!h.v2) {
            for (auto& o : split(post[2], ','))
                if (!is_mount_flag(o)) h.controllers.push_back(o);
            for (auto& c : h.controllers) key += (key.empty() ? "" : ",") + c;
            if (h.controllers.size() == 1 && h.controllers[0].rfind("name=", 0) == 0)
                h.name = h.controllers[0].substr(5);
        }
        // The same hierarchy may be mounted twice; keep its first mount.
        bool dup = std::any_of(out.begin(), out.end(), [&](const Hierarchy& o) {
            return o.v2 == h.v2 && o.controllers == h.controllers;
        });
        if (dup) continue;
        auto it = own.find(key);
        h.own_path = it != own.end() ? it->second : "/";
        out.push_back(std::move(h));
    }
    return out;
}

bool unified_mode(const std::vector<Hierarchy>& hs) {
    return hs.size() == 1 && hs[0].v2;
}

std::string container_path(const std::string& cgroups_path, const std::string& id) {
    if (cgroups_path.empty()) return "/berth/" + id;
    return cgroups_path;
}

std::unique_ptr<Manager> open_in(std::vector<Hierarchy> hs, const std::string& path,
                                 std::vector<std::string> created) {
    if (path.empty()) throw Error(EINVAL, "linux.cgroupsPath: empty path");
    for (auto& comp : split(path, '/'))
        if (comp == "..") throw Error(EINVAL, "linux.cgroupsPath: must not contain \"..\": " + path);
    return std::make_unique<FsManager>(std::move(hs), path, std::move(created));
}

const char* driver_name(Driver d) { return d == Driver::systemd ? "systemd" : "cgroupfs"; }

std::unique_ptr<Manager> open(const std::string& path, std::vector<std::string> created, Driver driver) {
    if (path.empty()) return std::make_unique<FsManager>(std::vector<Hierarchy>{}, path, std::move(created));
    if (driver == Driver::systemd)
        return systemd::open_manager(host_hierarchies(), systemd::parse_path(path, "", ::geteuid() != 0),
                                     std::move(created), false);
    return open_in(host_hierarchies(), path, std::move(created));
}

std::unique_ptr<Manager> open_new(const std::string& cgroups_path, const std::string& id, Driver driver) {
    if (driver == Driver::systemd)
        return systemd::open_manager(host_hierarchies(), systemd::parse_path(cgroups_path, id, ::geteuid() != 0), {},
                                     true);
    return open(container_path(cgroups_path, id));
}

} // namespace berth::cgroup
