#include "pod_store.hpp"

#include "random.hpp"

#include "error.hpp"
#include "file_util.hpp"

#include <dirent.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace berth::cri {

namespace {

constexpr const char* pod_file = "pod.pb";
constexpr const char* containers_dir = "containers";

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        if (errno == ENOENT) return out;
        throw_errno("open " + dir);
    }
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

template <class Msg>
bool load(const std::string& path, Msg& m, std::vector<std::string>& errors) {
    try {
        if (!m.ParseFromString(read_file(path))) {
            errors.push_back(path + ": not a valid record");
            return false;
        }
        return true;
    } catch (const Error& e) {
        errors.push_back(e.what());
        return false;
    }
}

} // namespace

PodStore::PodStore(std::string dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    for (const auto& id : entries(dir_)) {
        std::string pd = pod_dir(id);
        if (id.find(".tmp") != std::string::npos) continue;
        PodRecord p;
        if (!load(pd + "/" + pod_file, p, load_errors_)) continue;
        if (p.id() != id) {
            load_errors_.push_back(pd + ": record names pod " + p.id());
            continue;
        }
        names_[pod_name_key(p.config().metadata())] = id;
        pods_[id] = std::move(p);
        for (const auto& f : entries(pd + "/" + containers_dir)) {
            if (!ends_with(f, ".pb")) continue;   // write_file_atomic's temp files
            ContainerRecord c;
            if (!load(pd + "/" + containers_dir + "/" + f, c, load_errors_)) continue;
            if (c.pod_id() != id || c.id() + ".pb" != f) {
                load_errors_.push_back(pd + "/" + containers_dir + "/" + f + ": record names container " + c.id());
                continue;
            }
            names_[container_name_key(id, c.config().metadata())] = c.id();
            containers_[c.id()] = std::move(c);
        }
    }
}

void PodStore::put(const PodRecord& p) {
    std::lock_guard l(mu_);
    std::string pd = pod_dir(p.id());
    if (::mkdir(pd.c_str(), 0700) < 0 && errno != EEXIST) throw_errno("create " + pd);
    if (::mkdir((pd + "/" + containers_dir).c_str(), 0700) < 0 && errno != EEXIST)
        throw_errno("create " + pd + "/" + containers_dir);
    write_file_atomic(pd + "/" + pod_file, p.SerializeAsString(), 0600);
    pods_[p.id()] = p;
}

void PodStore::put(const ContainerRecord& c) {
    std::lock_guard l(mu_);
    if (!pods_.count(c.pod_id())) throw Error(ENOENT, "pod sandbox " + c.pod_id() + ": not found");
    write_file_atomic(pod_dir(c.pod_id()) + "/" + containers_dir + "/" + c.id() + ".pb", c.SerializeAsString(), 0600);
    containers_[c.id()] = c;
}

void PodStore::erase_pod(const std::string& id) {
    std::lock_guard l(mu_);
    for (auto it = containers_.begin(); it != containers_.end();) {
        if (it->second.pod_id() == id) {
            locks_.erase(it->first);
            std::erase_if(names_, [&](const auto& kv) { return kv.second == it->first; });
            it = containers_.erase(it);
        } else {
            ++it;
        }
    }
    pods_.erase(id);
    locks_.erase(id);
    std::erase_if(names_, [&](const auto& kv) { return kv.second == id; });
    std::error_code ec;
    std::filesystem::remove_all(pod_dir(id), ec);
    if (ec) throw Error(ec.value(), "remove " + pod_dir(id) + ": " + ec.message());
}

void PodStore::erase_container(const std::string& id) {
    std::lock_guard l(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return;
    std::string path = pod_dir(it->second.pod_id()) + "/" + containers_dir + "/" + id + ".pb";
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + path);
    containers_.erase(it);
    locks_.erase(id);
    std::erase_if(names_, [&](const auto& kv) { return kv.second == id; });
}

std::optional<PodRecord> PodStore::pod(const std::string& id) const {
    std::lock_guard l(mu_);
    auto it = pods_.find(id);
    if (it == pods_.end()) return std::nullopt;
    return it->second;
}

std::optional<ContainerRecord> PodStore::container(const std::string& id) const {
    std::lock_guard l(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return std::nullopt;
    return it->second;
}

std::vector<PodRecord> PodStore::pods() const {
    std::lock_guard l(mu_);
    std::vector<PodRecord> out;
    for (const auto& [id, p] : pods_) out.push_back(p);
    return out;
}

std::vector<ContainerRecord> PodStore::containers(const std::string& pod_id) const {
    std::lock_guard l(mu_);
    std::vector<ContainerRecord> out;
    for (const auto& [id, c] : containers_)
        if (pod_id.empty() || c.pod_id() == pod_id) out.push_back(c);
    return out;
}

std::vector<std::pair<std::string, std::string>> PodStore::running_containers() const {
    std::lock_guard l(mu_);
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [id, c] : containers_)
        if (!c.creating() && c.state() == runtime::v1::CONTAINER_RUNNING) out.emplace_back(id, c.pod_id());
    return out;
}

std::string PodStore::resolve(const std::string& what, const std::string& id, bool pods) const {
    if (id.empty()) throw Error(EINVAL, what + " ID: must not be empty");
    std::lock_guard l(mu_);
    std::string found;
    auto scan = [&](const auto& m) {
        if (m.count(id)) {
            found = id;
            return;
        }
        for (auto it = m.lower_bound(id); it != m.end() && it->first.compare(0, id.size(), id) == 0; ++it) {
            if (!found.empty()) throw Error(EINVAL, what + " ID " + id + ": ambiguous (names more than one)");
            found = it->first;
        }
    };
    if (pods) scan(pods_);
    else scan(containers_);
    if (found.empty()) throw Error(ENOENT, what + " " + id + ": not found");
    return found;
}

std::string PodStore::resolve_pod(const std::string& id) const { return resolve("pod sandbox", id, true); }
std::string PodStore::resolve_container(const std::string& id) const { return resolve("container", id, false); }

void PodStore::reserve_pod_name(const std::string& key, const std::string& id) {
    std::lock_guard l(mu_);
    auto [it, fresh] = names_.emplace(key, id);
    if (!fresh && it->second != id)
        throw Error(EEXIST, "pod sandbox name " + key + ": already reserved by pod " + it->second);
}

void PodStore::reserve_container_name(const std::string& key, const std::string& id) {
    std::lock_guard l(mu_);
    auto [it, fresh] = names_.emplace(key, id);
    if (!fresh && it->second != id)
        throw Error(EEXIST, "container name " + key + ": already reserved by container " + it->second);
}

void PodStore::release_name(const std::string& key) {
    std::lock_guard l(mu_);
    names_.erase(key);
}

std::shared_ptr<PodStore::Locks> PodStore::locks(const std::string& id) {
    std::lock_guard l(mu_);
    auto& p = locks_[id];
    if (!p) p = std::make_shared<Locks>();
    return p;
}

// kubelet's names: containerd and CRI-O make them the same way.
std::string pod_name_key(const runtime::v1::PodSandboxMetadata& m) {
    return m.name() + "_" + m.namespace_() + "_" + m.uid() + "_" + std::to_string(m.attempt());
}

std::string container_name_key(const std::string& pod_id, const runtime::v1::ContainerMetadata& m) {
    return pod_id + "/" + m.name() + "_" + std::to_string(m.attempt());
}

std::string new_id() {
    unsigned char b[32];
    random_bytes(b, sizeof b);
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (unsigned char c : b) {
        s += hex[c >> 4];
        s += hex[c & 15];
    }
    return s;
}

int64_t now_ns() {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

} // namespace berth::cri
