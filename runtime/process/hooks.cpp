#include "hooks.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "fd.hpp"
#include "proc.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

namespace berth {


void run_hook(const spec::Hook& h, const std::string& state_json, const std::string& field, const std::string& cwd) {
    UniqueFd in_r, in_w, err_r, err_w;
    make_pipe(in_r, in_w);
    make_pipe(err_r, err_w);
    std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : h.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) throw_errno(field + ": fork");
    if (pid == 0) {
        // The child: stdin from the state pipe, stderr to ours for errors,
        // stdout to our stderr too (a hook's chatter must not mix with the
        // runtime's own stdout, which clients parse).
        ::dup2(in_r.get(), 0);
        ::dup2(err_w.get(), 2);
        ::dup2(err_w.get(), 1);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (!cwd.empty() && ::chdir(cwd.c_str()) < 0) {
            dprintf(2, "chdir %s: %s", cwd.c_str(), strerror(errno));
            _exit(126);
        }
        ::execve(h.path.c_str(), argv.data(), envp.data());
        _exit(127);
    }
    in_r.reset();
    err_w.reset();
    UniqueFd pidfd = pidfd_open(pid);
    // The state is small next to a pipe buffer; a hook that does not read
    // it just gets EPIPE-free silence (SIGPIPE is ignored for the write).
    struct sigaction ign{}, old{};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, &old);
    for (size_t off = 0; off < state_json.size();) {
        ssize_t n = ::write(in_w.get(), state_json.data() + off, state_json.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
    }
    ::sigaction(SIGPIPE, &old, nullptr);
    in_w.reset();

    std::string err;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(h.timeout.value_or(0));
    bool timed_out = false;
    pollfd fds[2] = {{err_r.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    for (;;) {
        int wait_ms = -1;
        if (h.timeout) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            wait_ms = left.count() > 0 ? static_cast<int>(left.count()) : 0;
        }
        int r = ::poll(fds, 2, wait_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {
            timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        if (fds[0].fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP))) {
            char buf[4096];
            ssize_t n = ::read(err_r.get(), buf, sizeof buf);
            if (n > 0 && err.size() < 65536) err.append(buf, static_cast<size_t>(n));
            if (n <= 0) fds[0].fd = -1;
        }
        if (fds[1].revents & POLLIN) break;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    std::string tail = err.empty() ? "" : ": " + err;
    if (timed_out)
        throw Error(ETIMEDOUT, field + " (" + h.path + "): timed out after " + std::to_string(*h.timeout) + "s" + tail);
    if (WIFSIGNALED(status))
        throw Error(EINTR, field + " (" + h.path + "): killed by signal " + std::to_string(WTERMSIG(status)) + tail);
    if (WEXITSTATUS(status) == 127 && ::access(h.path.c_str(), X_OK) != 0)
        throw Error(ENOENT, field + ": cannot execute " + h.path);
    if (WEXITSTATUS(status) != 0)
        throw Error(EIO, field + " (" + h.path + "): exit status " + std::to_string(WEXITSTATUS(status)) + tail);
}

namespace {
std::string hook_field(const std::string& kind, size_t i) { return "hooks." + kind + "[" + std::to_string(i) + "]"; }
} // namespace

void run_hooks(const std::vector<spec::Hook>& hooks, const std::string& state_json, const std::string& kind,
               const std::string& cwd) {
    for (size_t i = 0; i < hooks.size(); ++i) run_hook(hooks[i], state_json, hook_field(kind, i), cwd);
}

void run_hooks_warn(const std::vector<spec::Hook>& hooks, const std::string& state_json, const std::string& kind,
                    const std::string& cwd, const std::function<void(const std::string&)>& warn) {
    for (size_t i = 0; i < hooks.size(); ++i) {
        try {
            run_hook(hooks[i], state_json, hook_field(kind, i), cwd);
        } catch (const Error& e) {
            warn(e.what());
        }
    }
}

} // namespace berth
