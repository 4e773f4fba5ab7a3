#include "state.hpp"

#include "cgroup.hpp"
#include "error.hpp"
#include "file_util.hpp"
#include "json.hpp"
#include "proc.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace berth {

const char* status_name(Status s) {
    switch (s) {
    case Status::creating: return "creating";
    case Status::created: return "created";
    case Status::running: return "running";
    case Status::paused: return "paused";
    case Status::stopped: return "stopped";
    }
    return "unknown";
}

void validate_id(const std::string& id) {
    if (id.empty()) throw Error(EINVAL, "container id must not be empty");
    if (id.size() > 1024) throw Error(EINVAL, "container id is longer than 1024 characters");
    if (id == "." || id == "..") throw Error(EINVAL, "invalid container id \"" + id + "\"");
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.' || c == '+';
        if (!ok) throw Error(EINVAL, "invalid container id \"" + id + "\": only [A-Za-z0-9_.+-] are allowed");
    }
}

namespace {

void write_hooks(json::Writer& w, const char* key, const std::vector<spec::Hook>& hooks) {
    if (hooks.empty()) return;
    w.key(key).begin_array();
    for (const auto& h : hooks) {
        w.begin_object().kv("path", h.path).key("args").string_array(h.args).key("env").string_array(h.env);
        if (h.timeout) w.kv("timeout", static_cast<int64_t>(*h.timeout));
        w.end_object();
    }
    w.end_array();
}

std::vector<spec::Hook> read_hooks(const json::Value& v) {
    std::vector<spec::Hook> out;
    if (v.is_null()) return out;
    for (const auto& e : v.as_array()) {
        spec::Hook h;
        h.path = e.get("path").as_string();
        if (e.has("args")) h.args = e.get("args").as_string_array();
        if (e.has("env")) h.env = e.get("env").as_string_array();
        if (e.has("timeout")) h.timeout = e.get("timeout").as_int32();
        out.push_back(std::move(h));
    }
    return out;
}

void mkdir_p(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return;
    if (errno != ENOENT) throw_errno("create " + path);
    auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) throw_errno("create " + path);
    mkdir_p(path.substr(0, slash), mode);
    if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) throw_errno("create " + path);
}

UniqueFd lock_dir(const std::string& path, bool shared) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open " + path);
    while (::flock(fd.get(), shared ? LOCK_SH : LOCK_EX) < 0)
        if (errno != EINTR) throw_errno("lock " + path);
    return fd;
}

} // namespace

StateDir StateDir::create(const std::string& root, const std::string& id) {
    validate_id(id);
    mkdir_p(root, 0700);
    std::string path = root + "/" + id;
    if (::mkdir(path.c_str(), 0700) < 0) {
        if (errno == EEXIST) throw Error(EEXIST, "container \"" + id + "\" already exists");
        throw_errno("create " + path);
    }
    return StateDir(path, lock_dir(path, false));
}

StateDir StateDir::open(const std::string& root, const std::string& id, bool shared) {
    validate_id(id);
    std::string path = root + "/" + id;
    UniqueFd fd;
    try {
        fd = lock_dir(path, shared);
    } catch (const Error& e) {
        if (e.err() == ENOENT) throw Error(ENOENT, "container \"" + id + "\" does not exist");
        throw;
    }
    // A create that failed while we waited for the lock removed the dir.
    if (::faccessat(fd.get(), "state.json", F_OK, 0) < 0)
        throw Error(ENOENT, "container \"" + id + "\" does not exist");
    return StateDir(path, std::move(fd));
}

bool StateDir::fifo_exists() const { return ::faccessat(dirfd_.get(), "exec.fifo", F_OK, 0) == 0; }

void StateDir::save(const ContainerState& s) const {
    json::Writer w;
    w.begin_object()
        .kv("ociVersion", s.oci_version)
        .kv("id", s.id)
        .kv("pid", static_cast<int64_t>(s.pid))
        .kv("pidStartTime", s.pid_start)
        .kv("bundle", s.bundle)
        .kv("rootfs", s.rootfs)
        .kv("created", s.created)
        .kv("owner", s.owner)
        .key("annotations").string_map(s.annotations)
        .kv("cgroupPath", s.cgroup_path)
        .key("cgroupCreated").string_array(s.cgroup_created)
        .kv("ownPidNamespace", s.own_pid_ns);
    if (s.cgroup_driver == cgroup::Driver::systemd)
        w.kv("cgroupDriver", cgroup::driver_name(s.cgroup_driver)).kv("systemdUnit", s.cgroup_unit);
    write_hooks(w, "poststart", s.poststart);
    write_hooks(w, "poststop", s.poststop);
    w.end_object();
    write_file_atomic(path_ + "/state.json", w.str(), 0600);
}

ContainerState StateDir::load() const {
    std::string file = path_ + "/state.json";
    return with_context(file, [&] {
        json::Document doc(read_file(file), "state.json");
        auto r = doc.root();
        ContainerState s;
        s.oci_version = r.get("ociVersion").as_string();
        s.id = r.get("id").as_string();
        s.pid = static_cast<pid_t>(r.get("pid").as_int64());
        s.pid_start = r.get("pidStartTime").as_uint64();
        s.bundle = r.get("bundle").as_string();
        s.rootfs = r.get("rootfs").as_string();
        s.created = r.get("created").as_string();
        s.owner = r.get("owner").as_string();
        if (r.has("annotations")) s.annotations = r.get("annotations").as_string_map();
        s.cgroup_path = r.get("cgroupPath").as_string();
        if (r.has("cgroupCreated")) s.cgroup_created = r.get("cgroupCreated").as_string_array();
        s.own_pid_ns = r.get("ownPidNamespace").as_bool();
        if (r.has("cgroupDriver")) {
            auto d = r.get("cgroupDriver").as_string();
            if (d == "systemd") s.cgroup_driver = cgroup::Driver::systemd;
            else if (d != "cgroupfs") throw Error(EINVAL, "cgroupDriver: unknown driver \"" + d + "\"");
            if (r.has("systemdUnit")) s.cgroup_unit = r.get("systemdUnit").as_string();
        }
        s.poststart = read_hooks(r.get("poststart"));
        s.poststop = read_hooks(r.get("poststop"));
        return s;
    });
}

void StateDir::save_config(const std::string& text) const {
    write_file_atomic(path_ + "/config.json", text, 0600);   // env may hold secrets
}

std::string StateDir::load_config() const {
    std::string file = path_ + "/config.json";
    if (::faccessat(dirfd_.get(), "config.json", F_OK, 0) < 0) return {};
    return read_file(file);
}

void StateDir::remove() {
    for (const char* f : {"state.json", "state.json.tmp", "config.json", "config.json.tmp", "exec.fifo",
                          "notify/notify.sock"})
        if (::unlinkat(dirfd_.get(), f, 0) < 0 && errno != ENOENT) throw_errno("remove " + path_ + "/" + f);
    if (::unlinkat(dirfd_.get(), "notify", AT_REMOVEDIR) < 0 && errno != ENOENT)
        throw_errno("remove " + path_ + "/notify");
    if (::rmdir(path_.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + path_);
    dirfd_.reset();
}

std::vector<std::string> list_ids(const std::string& root) {
    std::vector<std::string> ids;
    DIR* d = ::opendir(root.c_str());
    if (!d) {
        if (errno == ENOENT) return ids;
        throw_errno("open " + root);
    }
    while (auto* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        if (::faccessat(dirfd(d), (name + "/state.json").c_str(), F_OK, 0) == 0) ids.push_back(name);
    }
    ::closedir(d);
    std::sort(ids.begin(), ids.end());
    return ids;
}

Status current_status(const ContainerState& s, const StateDir& dir, const cgroup::Manager* cg) {
    if (!process_alive(s.pid, s.pid_start)) return Status::stopped;
    if (dir.fifo_exists()) return Status::created;
    if (cg) return cg->frozen() ? Status::paused : Status::running;
    return open_cgroup(s)->frozen() ? Status::paused : Status::running;
}

std::unique_ptr<cgroup::Manager> open_cgroup(const ContainerState& s) {
    return cgroup::open(s.cgroup_path, s.cgroup_created, s.cgroup_driver);
}

std::string oci_state_json(const ContainerState& s, Status st, bool pretty) {
    json::Writer w(pretty);
    w.begin_object()
        .kv("ociVersion", s.oci_version)
        .kv("id", s.id)
        .kv("pid", static_cast<int64_t>(st == Status::stopped ? 0 : s.pid))
        .kv("status", status_name(st))
        .kv("bundle", s.bundle)
        .kv("rootfs", s.rootfs)
        .kv("created", s.created)
        .kv("owner", s.owner);
    if (!s.annotations.empty()) w.key("annotations").string_map(s.annotations);
    w.end_object();
    return w.str();
}

std::string spec_state_json(const ContainerState& s, Status st) {
    json::Writer w;
    w.begin_object().kv("ociVersion", s.oci_version).kv("id", s.id).kv("status", status_name(st));
    if (st != Status::stopped) w.kv("pid", static_cast<int64_t>(s.pid));
    w.kv("bundle", s.bundle);
    if (!s.annotations.empty()) w.key("annotations").string_map(s.annotations);
    w.end_object();
    return w.str();
}

} // namespace berth
