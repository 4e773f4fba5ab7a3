// What the pod and container RPCs share: finding a pod's shim, bringing a
// container's record up to date with it, stopping and removing a
// container, tearing a pod down, and recovery at start-up.
#include "runtime_ops.hpp"

#include "pod_cgroup.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "log.hpp"
#include "rootfs.hpp"
#include "ttrpc_client.hpp"

#include <signal.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace berth::cri {

namespace {

constexpr std::chrono::milliseconds delete_timeout{10000};

int64_t ts_ns(const berth::ttrpc::Timestamp& t) { return t.seconds() * 1000000000 + t.nanos(); }

ShimSpawn spawn_params(const Daemon& d, const std::string& pod_id) {
    ShimSpawn s;
    auto pod = d.pods.pod(pod_id);
    s.binary = d.shim_binary(pod ? pod->runtime_handler() : "");
    s.pod_dir = d.pod_dir(pod_id);
    s.pod_id = pod_id;
    s.shim_root = d.shim_root();
    s.debug = d.cfg.log_level == LogLevel::debug;
    return s;
}

// Whether the kernel's OOM killer killed a process of the container's
// cgroup: the shim's record in the bundle (it watches the cgroup, and a
// systemd scope's cgroup is gone with the last process), else the cgroup's
// own counters, memory.events (v2) or memory.oom_control (v1).
bool oom_killed(const Daemon& d, const ContainerRecord& c) {
    if (::access((d.bundle_dir(c.pod_id(), c.id()) + "/init.oom").c_str(), F_OK) == 0) return true;
    const std::string& path = c.cgroups_path();
    if (path.empty() || path.find(':') != std::string::npos) return false;
    for (const std::string& f : {"/sys/fs/cgroup" + path + "/memory.events", "/sys/fs/cgroup/memory" + path + "/memory.oom_control"}) {
        std::ifstream in(f);
        std::string key;
        uint64_t v;
        while (in >> key >> v)
            if (key == "oom_kill" && v > 0) return true;
    }
    return false;
}

void record_exit(const Daemon& d, ContainerRecord& c, uint32_t status, int64_t at) {
    c.set_state(runtime::v1::CONTAINER_EXITED);
    c.set_exit_code(static_cast<int32_t>(status));
    c.set_finished_at(at);
    if (c.started_at() == 0) c.set_started_at(at);   // CRI: finished implies started
    if (status == 128 + SIGKILL && oom_killed(d, c)) {
        c.set_reason("OOMKilled");
    } else {
        c.set_reason(status == 0 ? "Completed" : "Error");
    }
}

} // namespace

PodShim pod_shim(const Daemon& d, const std::string& pod_id) {
    std::string address;
    try {
        address = read_file(d.pod_dir(pod_id) + "/address");
    } catch (const Error&) {
    }
    while (!address.empty() && address.back() == '\n') address.pop_back();
    return PodShim(address);
}

ContainerRecord refresh_container(Daemon& d, ContainerRecord c) {
    if (c.creating()) return c;
    if (c.state() != runtime::v1::CONTAINER_RUNNING && c.state() != runtime::v1::CONTAINER_CREATED) return c;
    auto shim = pod_shim(d, c.pod_id());
    bool changed = false;
    try {
        auto st = shim.state(c.id());
        if (st.status() == berth::task::STOPPED) {
            record_exit(d, c, st.exit_status(), ts_ns(st.exited_at()));
            changed = true;
        }
    } catch (const ttrpc::StatusError& e) {
        if (e.code() == 5) {   // not found: the shim lost it (restarted?)
            record_exit(d, c, 128 + SIGKILL, now_ns());
            c.set_message("the pod's shim no longer knows this container");
            changed = true;
        } else if (e.code() == 14 || e.err() == ECONNREFUSED || e.err() == ENOENT) {
            // The shim is gone: what it left of the container is killed and
            // deleted, with the exit it recorded.
            try {
                auto r = shim_delete(spawn_params(d, c.pod_id()), c.id(), d.bundle_dir(c.pod_id(), c.id()),
                                     delete_timeout);
                record_exit(d, c, r.exit_status(), ts_ns(r.exited_at()));
            } catch (const Error& err) {
                log::warn("container " + c.id() + ": " + err.what());
                record_exit(d, c, 128 + SIGKILL, now_ns());
            }
            c.set_message("the pod's shim exited");
            changed = true;
        } else {
            throw;
        }
    }
    if (changed) {
        d.pods.put(c);
        publish_event(d, c, runtime::v1::CONTAINER_STOPPED_EVENT);
    }
    return c;
}

void stop_container_locked(Daemon& d, ContainerRecord& c, int64_t timeout_s) {
    c = refresh_container(d, c);
    if (c.state() != runtime::v1::CONTAINER_RUNNING && c.state() != runtime::v1::CONTAINER_CREATED) return;
    auto shim = pod_shim(d, c.pod_id());
    int sig = SIGTERM;
    if (!c.stop_signal().empty()) {
        // The image's StopSignal ("SIGQUIT", "QUIT" or a number).
        std::string s = c.stop_signal();
        if (s.rfind("SIG", 0) == 0) s = s.substr(3);
        static const std::map<std::string, int> names = {
            {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
            {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"STOP", SIGSTOP}, {"WINCH", SIGWINCH}, {"PWR", SIGPWR}};
        if (auto it = names.find(s); it != names.end()) sig = it->second;
        else if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) sig = std::stoi(s);
    }
    auto kill_and_wait = [&](int signal, std::chrono::milliseconds wait) {
        try {
            shim.kill(c.id(), signal, signal == SIGKILL);
        } catch (const ttrpc::StatusError& e) {
            if (e.code() != 5 && e.code() != 9) throw;   // gone or not running: wait tells
        }
        auto w = shim.wait(c.id(), wait);
        record_exit(d, c, w.exit_status(), ts_ns(w.exited_at()));
    };
    bool done = false;
    if (c.state() == runtime::v1::CONTAINER_RUNNING && timeout_s > 0) {
        try {
            kill_and_wait(sig, std::chrono::milliseconds(timeout_s * 1000));
            done = true;
        } catch (const Error& e) {
            if (e.err() != ETIMEDOUT) throw;
        }
    }
    if (!done) kill_and_wait(SIGKILL, delete_timeout);
    d.pods.put(c);
    publish_event(d, c, runtime::v1::CONTAINER_STOPPED_EVENT);
}

void remove_container_locked(Daemon& d, const ContainerRecord& c) {
    auto shim = pod_shim(d, c.pod_id());
    try {
        shim.remove(c.id());
    } catch (const ttrpc::StatusError& e) {
        // Not found: already deleted. Unavailable: the shim is gone, and
        // refresh_container deleted what it left.
        if (e.code() != 5 && e.code() != 14 && e.err() != ECONNREFUSED && e.err() != ENOENT) throw;
    }
    image::remove_rootfs(d.rootfs_root(), c.id());
    std::error_code ec;
    std::filesystem::remove_all(d.bundle_dir(c.pod_id(), c.id()), ec);
    if (ec) throw Error(ec.value(), "remove " + d.bundle_dir(c.pod_id(), c.id()) + ": " + ec.message());
    d.pods.erase_container(c.id());
    if (!c.creating()) publish_event(d, c, runtime::v1::CONTAINER_DELETED_EVENT);
}

namespace {

// Detach every pin (and the shm tmpfs) berthd or the shim mounted under
// the pod dir, for a pod whose shim cannot do it.
void detach_mounts_under(const std::string& dir) {
    std::ifstream in("/proc/self/mountinfo");
    std::vector<std::string> targets;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string id, parent, devs, root, target;
        ls >> id >> parent >> devs >> root >> target;
        if (target == dir || target.rfind(dir + "/", 0) == 0) targets.push_back(target);
    }
    // Deepest first.
    std::sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    for (const auto& t : targets)
        if (::umount2(t.c_str(), MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
            log::warn("detach " + t + ": " + std::strerror(errno));
}

} // namespace

void teardown_pod_network(Daemon& d, PodRecord& p) {
    if (!d.network.has_state(p.id())) return;
    d.network.teardown(p.id());
    p.clear_ips();
    if (d.pods.pod(p.id())) d.pods.put(p);
    log::info("pod " + p.id() + ": network " + p.network() + " deleted");
}

void teardown_pod(Daemon& d, const PodRecord& p) {
    auto shim = pod_shim(d, p.id());
    for (auto c : d.pods.containers(p.id())) {
        try {
            if (!c.creating()) stop_container_locked(d, c, 0);
        } catch (const std::exception& e) {
            log::warn("pod " + p.id() + ": stop container " + c.id() + ": " + e.what());
        }
        try {
            remove_container_locked(d, c);
        } catch (const std::exception& e) {
            log::warn("pod " + p.id() + ": remove container " + c.id() + ": " + e.what());
        }
    }
    PodRecord net = p;
    teardown_pod_network(d, net);
    if (!shim.address().empty()) {
        try {
            shim.unpin(d.pod_dir(p.id()) + "/ns");
            shim.shutdown();
        } catch (const std::exception& e) {
            log::write(LogLevel::debug, "pod " + p.id() + ": shim: " + e.what());
        }
    }
    if (p.init_pid() != 0) {
        // The pod init outlived its shim (killed with -9): kill it, if it is
        // still the process whose pid namespace is pinned.
        struct stat a, b;
        std::string pin = d.pod_dir(p.id()) + "/ns/pid";
        if (::stat(pin.c_str(), &a) == 0 &&
            ::stat(("/proc/" + std::to_string(p.init_pid()) + "/ns/pid").c_str(), &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            ::kill(static_cast<pid_t>(p.init_pid()), SIGKILL);
    }
    detach_mounts_under(d.pod_dir(p.id()));
    if (p.own_cgroup()) remove_pod_cgroup(p.cgroup_parent(), p.systemd_cgroup(), p.id());
    std::error_code ec;
    std::filesystem::remove_all(d.pod_dir(p.id()), ec);
    if (ec) log::warn("pod " + p.id() + ": remove " + d.pod_dir(p.id()) + ": " + ec.message());
}

void recover_pods(Daemon& d) {
    for (const auto& e : d.pods.load_errors()) log::warn("pod records: " + e);
    for (auto c : d.pods.containers()) {
        if (!c.creating()) continue;
        log::info("container " + c.id() + ": removing what a create left half done");
        try {
            auto shim = pod_shim(d, c.pod_id());
            try {
                shim.kill(c.id(), SIGKILL, true);
            } catch (const Error&) {
            }
            remove_container_locked(d, c);
        } catch (const std::exception& e) {
            log::warn("container " + c.id() + ": " + e.what());
        }
    }
    for (auto p : d.pods.pods()) {
        if (p.creating()) {
            log::info("pod " + p.id() + ": removing what a RunPodSandbox left half done");
            try {
                teardown_pod(d, p);
                d.pods.erase_pod(p.id());
            } catch (const std::exception& e) {
                // Its network could not be deleted: kept, listed as NOTREADY,
                // for RemovePodSandbox to finish.
                log::error("pod " + p.id() + ": " + e.what());
                p.set_creating(false);
                p.set_state(runtime::v1::SANDBOX_NOTREADY);
                d.pods.put(p);
            }
            continue;
        }
        if (p.state() == runtime::v1::SANDBOX_READY && !pod_shim(d, p.id()).alive()) {
            log::warn("pod " + p.id() + ": its shim is gone; the pod is not ready");
            p.set_state(runtime::v1::SANDBOX_NOTREADY);
            d.pods.put(p);
        }
        for (auto c : d.pods.containers(p.id())) {
            try {
                refresh_container(d, c);
            } catch (const std::exception& e) {
                log::warn("container " + c.id() + ": " + e.what());
            }
        }
    }
}

} // namespace berth::cri
