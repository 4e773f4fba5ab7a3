#include "cni_plugin.hpp"

#include "error.hpp"
#include "fd.hpp"
#include "file_util.hpp"
#include "json.hpp"
#include "spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace berth::cri::net {

namespace {

constexpr size_t kMaxOutput = 4 << 20;   // a result is a few KiB; more is a broken plugin

int64_t mono_ms() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

std::string find_binary(const std::string& type, const std::vector<std::string>& dirs) {
    for (const auto& d : dirs) {
        std::string p = d + "/" + type;
        struct stat st;
        if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0) return p;
    }
    std::string list;
    for (const auto& d : dirs) list += (list.empty() ? "" : ", ") + d;
    throw Error(ENOENT, "CNI plugin \"" + type + "\" is not in the plugin dirs (" + list + ")");
}

std::string last_line(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    if (auto nl = s.rfind('\n'); nl != std::string::npos) s = s.substr(nl + 1);
    return s.size() > 500 ? s.substr(s.size() - 500) : s;
}

// The spec's error object: {"code": N, "msg": "...", "details": "..."}.
std::string plugin_error(const std::string& out, const std::string& err) {
    try {
        json::Document doc(out, "");
        auto r = doc.root();
        if (r.is_object() && r.has("msg")) {
            std::string m = r.get("msg").as_string();
            if (r.has("code")) m += " (code " + std::to_string(r.get("code").as_int64());
            if (r.has("details") && !r.get("details").as_string().empty())
                m += (r.has("code") ? "; " : " (") + r.get("details").as_string();
            if (r.has("code") || r.has("details")) m += ")";
            return m;
        }
    } catch (const Error&) {
    }
    std::string s = last_line(err.empty() ? out : err);
    return s.empty() ? "no error message" : s;
}

} // namespace

std::string run_plugin(const std::string& type, const std::string& config, const PluginCall& call) {
    std::string what = "CNI plugin " + type + " " + call.command;
    std::string binary = find_binary(type, call.bin_dirs);
    UniqueFd in_r, in_w, out_r, out_w, err_r, err_w;
    make_pipe(in_r, in_w);
    make_pipe(out_r, out_w);
    make_pipe(err_r, err_w);

    std::string path;
    for (const auto& d : call.bin_dirs) path += (path.empty() ? "" : ":") + d;
    std::vector<std::string> env = {
        "CNI_COMMAND=" + call.command,     "CNI_CONTAINERID=" + call.container_id, "CNI_NETNS=" + call.netns,
        "CNI_IFNAME=" + call.ifname,       "CNI_ARGS=" + call.args,                "CNI_PATH=" + path,
        // For the plugins that run iptables, ip or tc.
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    };
    SpawnOptions o;
    o.dup2s = {{in_r.get(), 0}, {out_w.get(), 1}, {err_w.get(), 2}};
    o.cwd = "/";
    o.own_process_group = true;   // a timeout kills what it started too
    pid_t pid = spawn_process(binary, {binary}, env, o, what + ": run " + binary);
    in_r.reset();
    out_w.reset();
    err_w.reset();
    ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);

    std::string out, err;
    size_t written = 0;
    int64_t deadline = mono_ms() + call.timeout.count();
    bool out_open = true, err_open = true;
    auto kill_all = [&] {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    };
    while (out_open || err_open) {
        int left = static_cast<int>(std::max<int64_t>(0, deadline - mono_ms()));
        pollfd p[3] = {{out_open ? out_r.get() : -1, POLLIN, 0},
                       {err_open ? err_r.get() : -1, POLLIN, 0},
                       {in_w ? in_w.get() : -1, POLLOUT, 0}};
        int n = ::poll(p, 3, left);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) {
            kill_all();
            throw Error(ETIMEDOUT, what + ": no answer in " + std::to_string(call.timeout.count() / 1000) +
                                       " s; killed");
        }
        if (p[2].revents) {
            // The plugin may exit without reading all of it (EPIPE: berthd
            // ignores SIGPIPE); what it says decides.
            ssize_t w = ::write(in_w.get(), config.data() + written, config.size() - written);
            if (w > 0) written += static_cast<size_t>(w);
            if (w < 0 && errno != EAGAIN && errno != EINTR) in_w.reset();
            if (written == config.size()) in_w.reset();
        }
        for (int i = 0; i < 2; ++i) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[8192];
            ssize_t r = ::read(p[i].fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                (i == 0 ? out_open : err_open) = false;
                continue;
            }
            std::string& dst = i == 0 ? out : err;
            if (dst.size() + static_cast<size_t>(r) > kMaxOutput) {
                kill_all();
                throw Error(EIO, what + ": wrote more than " + std::to_string(kMaxOutput >> 20) + " MiB");
            }
            dst.append(buf, static_cast<size_t>(r));
        }
    }
    in_w.reset();
    // Its stdout is closed; it is exiting, or left a child holding nothing
    // of ours. The deadline still holds.
    int status = 0;
    for (;;) {
        pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) throw_errno(what + ": wait");
        if (mono_ms() >= deadline) {
            kill_all();
            throw Error(ETIMEDOUT, what + ": did not exit in " + std::to_string(call.timeout.count() / 1000) + " s; killed");
        }
        ::usleep(2000);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return out;
    std::string how = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                          : "failed";
    throw Error(EIO, what + " " + how + ": " + plugin_error(out, err));
}

} // namespace berth::cri::net
