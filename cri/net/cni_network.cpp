#include "cni_network.hpp"

#include "cni_plugin.hpp"
#include "cni_result.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "json.hpp"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

namespace berth::cri::net {

namespace {

constexpr int kDelAttempts = 3;
constexpr std::chrono::milliseconds kDelBackoff{500};
constexpr const char* kCacheKind = "berth-cni-cache/v1";

// What a pod's cache holds: enough to run DEL and CHECK exactly as ADD ran.
struct Cached {
    NetworkList list;
    std::map<std::string, std::string> caps;
    std::string result;   // "" until ADD finished
    PluginCall call;
};

std::string text_of(const json::Value& v) {
    json::Writer w;
    w.value(v);
    return w.str();
}

std::string cache_text(const NetworkList& list, const PodNetwork& pod, const PluginCall& call,
                       const std::string& result) {
    json::Document net(list.text, list.file);
    json::Writer w(true);
    w.begin_object().kv("kind", kCacheKind).kv("file", list.file).kv("containerId", pod.pod_id);
    w.kv("ifName", call.ifname).kv("netns", call.netns).kv("args", call.args);
    w.key("network").value(net.root());
    w.key("capabilities").begin_object();
    for (const auto& [k, text] : pod.caps) {
        json::Document v(text, "capability " + k);
        w.key(k).value(v.root());
    }
    w.end_object();
    if (!result.empty()) {
        json::Document r(result, "result");
        w.key("result").value(r.root());
    }
    w.end_object();
    return w.str();
}

void run_list(const Cached& c, const std::string& command, bool reverse) {
    PluginCall call = c.call;
    call.command = command;
    size_t n = c.list.plugins.size();
    for (size_t k = 0; k < n; ++k) {
        size_t i = reverse ? n - 1 - k : k;
        run_plugin(c.list.plugins[i].type, plugin_config(c.list, i, c.caps, c.result), call);
    }
}

} // namespace

std::string k8s_args(const PodNetwork& pod) {
    return "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + pod.namespace_ + ";K8S_POD_NAME=" + pod.name +
           ";K8S_POD_INFRA_CONTAINER_ID=" + pod.pod_id + ";K8S_POD_UID=" + pod.uid;
}

CniNetwork::CniNetwork(CniSettings s) : s_(std::move(s)) {
    std::filesystem::create_directories(s_.cache_dir);
    ::chmod(s_.cache_dir.c_str(), 0700);
}

std::string CniNetwork::cache_path(const std::string& pod_id) const { return s_.cache_dir + "/" + pod_id + ".json"; }

void CniNetwork::reload_locked() {
    std::string why;
    auto found = find_network(s_.conf_dir, why);
    current_ = found ? std::make_shared<const NetworkList>(std::move(*found)) : nullptr;
    why_ = found ? "" : why;
    loaded_ = true;
}

std::shared_ptr<const NetworkList> CniNetwork::current(std::string* why) {
    std::lock_guard g(mu_);
    bool changed = !loaded_;
    if (!watch_) {
        // A dir that appears later is watched from then on; until then each
        // call looks again (a failing opendir is cheap).
        UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (fd && ::inotify_add_watch(fd.get(), s_.conf_dir.c_str(),
                                      IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                                          IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) >= 0)
            watch_ = std::move(fd);
        changed = true;
    } else {
        alignas(inotify_event) char buf[4096];
        for (;;) {
            ssize_t r = ::read(watch_.get(), buf, sizeof buf);
            if (r <= 0) break;
            changed = true;
            for (char* p = buf; p < buf + r;) {
                auto* e = reinterpret_cast<inotify_event*>(p);
                if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) watch_.reset();
                p += sizeof(inotify_event) + e->len;
            }
            if (!watch_) break;
        }
    }
    if (changed) reload_locked();
    if (why) *why = why_;
    return current_;
}

std::vector<std::string> CniNetwork::setup(const NetworkList& list, const PodNetwork& pod) {
    PluginCall call;
    call.container_id = pod.pod_id;
    call.netns = pod.netns;
    call.args = k8s_args(pod);
    call.bin_dirs = s_.bin_dirs;
    call.timeout = s_.plugin_timeout;
    call.command = "ADD";
    // The cache first: a berthd killed during ADD finds it and deletes
    // whatever the plugins made.
    std::string path = cache_path(pod.pod_id);
    write_file_atomic(path, cache_text(list, pod, call, ""), 0600);
    std::string prev;
    try {
        for (size_t i = 0; i < list.plugins.size(); ++i) {
            std::string out = run_plugin(list.plugins[i].type, plugin_config(list, i, pod.caps, prev), call);
            json::Document check(out, "the result of CNI plugin " + list.plugins[i].type);
            prev = std::move(out);
        }
        if (prev.empty()) throw Error(EIO, "CNI network " + list.name + ": no result from its plugins");
        auto ips = result_ips(prev, "the result of CNI network " + list.name);
        write_file_atomic(path, cache_text(list, pod, call, prev), 0600);
        return ips;
    } catch (const Error& e) {
        Cached c{list, pod.caps, prev, call};
        try {
            run_list(c, "DEL", true);
            ::unlink(path.c_str());
        } catch (const Error& del) {
            throw Error(e.err(), std::string(e.what()) + "; deleting what it added failed too: " + del.what());
        }
        throw;
    }
}

bool CniNetwork::has_state(const std::string& pod_id) const {
    return ::access(cache_path(pod_id).c_str(), F_OK) == 0;
}

namespace {

std::optional<Cached> load_cache(const std::string& path, const CniSettings& s) {
    std::string text;
    try {
        text = read_file(path);
    } catch (const Error& e) {
        if (e.err() == ENOENT) return std::nullopt;
        throw;
    }
    return with_context("CNI cache " + path, [&] {
        json::Document doc(text, "");
        json::Value r = doc.root();
        if (r.get("kind").as_string() != kCacheKind) r.get("kind").fail("not a berth CNI cache");
        Cached c{parse_network_list(text_of(r.get("network")), r.get("file").as_string() + " (as cached)", false), {}, "", {}};
        for (auto& [k, v] : r.get("capabilities").members()) c.caps[k] = text_of(v);
        if (auto res = r.find("result")) c.result = text_of(*res);
        c.call.container_id = r.get("containerId").as_string();
        c.call.ifname = r.get("ifName").as_string();
        c.call.netns = r.get("netns").as_string();
        c.call.args = r.get("args").as_string();
        c.call.bin_dirs = s.bin_dirs;
        c.call.timeout = s.plugin_timeout;
        // A namespace gone (a reboot) is passed as none: plugins then
        // release what they hold outside it.
        if (!c.call.netns.empty() && ::access(c.call.netns.c_str(), F_OK) != 0) c.call.netns.clear();
        return c;
    });
}

} // namespace

void CniNetwork::teardown(const std::string& pod_id) {
    std::string path = cache_path(pod_id);
    auto c = load_cache(path, s_);
    if (!c) return;
    std::string last;
    for (int attempt = 1; attempt <= kDelAttempts; ++attempt) {
        try {
            run_list(*c, "DEL", true);
            if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + path);
            return;
        } catch (const Error& e) {
            last = e.what();
        }
        if (attempt < kDelAttempts) std::this_thread::sleep_for(kDelBackoff * attempt);
    }
    throw Error(EIO, "CNI DEL of network " + c->list.name + ": " + last + " (tried " + std::to_string(kDelAttempts) +
                         " times; the pod keeps its network state until it succeeds)");
}

std::optional<std::string> CniNetwork::check(const std::string& pod_id) {
    auto c = load_cache(cache_path(pod_id), s_);
    if (!c || c->result.empty() || c->list.disable_check || !version_at_least(c->list.cni_version, 0, 4, 0))
        return std::nullopt;
    try {
        run_list(*c, "CHECK", false);
        return std::string();
    } catch (const Error& e) {
        return std::string(e.what());
    }
}

} // namespace berth::cri::net
