#include "binary_logger.hpp"

#include "error.hpp"
#include "file_util.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

extern char** environ;

namespace berth::shim {

namespace {

std::string percent_decode(const std::string& s, const std::string& uri) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out.push_back(' ');
        } else if (s[i] == '%') {
            if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
                !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
                throw Error(EINVAL, "log uri " + uri + ": bad %-escape");
            out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

// The fd as 3, 4 or 5 in the child (which has none of its own above 2
// but these).
void place(int fd, int target) {
    if (fd == target) {
        int fl = ::fcntl(fd, F_GETFD);
        ::fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
    } else if (::dup2(fd, target) < 0) {
        _exit(127);
    }
}

} // namespace

std::vector<std::string> binary_logger_argv(const std::string& uri) {
    const std::string scheme = "binary://";
    if (uri.rfind(scheme, 0) != 0) throw Error(EINVAL, "log uri " + uri + ": not binary://");
    std::string rest = uri.substr(scheme.size());
    std::string query;
    if (auto q = rest.find('?'); q != std::string::npos) {
        query = rest.substr(q + 1);
        rest.resize(q);
    }
    std::string path = percent_decode(rest, uri);
    if (path.empty() || path[0] != '/') throw Error(EINVAL, "log uri " + uri + ": the binary's path must be absolute");
    std::vector<std::string> argv{path};
    size_t pos = 0;
    while (pos < query.size()) {
        size_t amp = query.find('&', pos);
        std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        pos = amp == std::string::npos ? query.size() : amp + 1;
        if (kv.empty()) continue;
        auto eq = kv.find('=');
        argv.push_back(percent_decode(kv.substr(0, eq), uri));
        if (eq != std::string::npos) argv.push_back(percent_decode(kv.substr(eq + 1), uri));
    }
    return argv;
}

BinaryLogger start_binary_logger(const std::string& uri, const std::string& container_id, const std::string& ns,
                                 int timeout_ms) {
    std::vector<std::string> args = binary_logger_argv(uri);
    BinaryLogger bl;
    UniqueFd out_r, err_r, ready_r, ready_w, exec_r, exec_w;
    make_pipe(out_r, bl.out);
    make_pipe(err_r, bl.err);
    make_pipe(ready_r, ready_w);
    make_pipe(exec_r, exec_w);   // close-on-exec: EOF once the exec worked
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) {
        std::string v = *e;
        if (v.rfind("CONTAINER_ID=", 0) != 0 && v.rfind("CONTAINER_NAMESPACE=", 0) != 0) env_s.push_back(v);
    }
    env_s.push_back("CONTAINER_ID=" + container_id);
    env_s.push_back("CONTAINER_NAMESPACE=" + ns);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork log binary");
    if (pid == 0) {
        // Above 5 first, so placing one cannot clobber another (or the
        // exec-error pipe).
        int exec_err = ::fcntl(exec_w.get(), F_DUPFD_CLOEXEC, 10);
        int fds[3] = {::fcntl(out_r.get(), F_DUPFD_CLOEXEC, 10), ::fcntl(err_r.get(), F_DUPFD_CLOEXEC, 10),
                      ::fcntl(ready_w.get(), F_DUPFD_CLOEXEC, 10)};
        for (int i = 0; i < 3; ++i) {
            if (fds[i] < 0) _exit(127);
            place(fds[i], 3 + i);
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::setpgid(0, 0);   // not in the shim's group: a signal to it spares the logger
        ::execve(argv[0], argv.data(), envp.data());
        int e = errno;
        [[maybe_unused]] ssize_t n = ::write(exec_err, &e, sizeof e);
        _exit(127);
    }
    out_r.reset();
    err_r.reset();
    ready_w.reset();
    exec_w.reset();
    auto fail = [&](int err, const std::string& why) {
        int st;
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        return Error(err, "log binary " + args[0] + ": " + why);
    };
    // The exec's outcome first: its errno, or EOF once it worked.
    int exec_errno = 0;
    ssize_t n;
    while ((n = ::read(exec_r.get(), &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
    }
    if (n > 0) throw fail(exec_errno, std::string("exec: ") + std::strerror(exec_errno));
    // Then ready: fd 5 closed (EOF; also if it exited).
    pollfd p{ready_r.get(), POLLIN, 0};
    int r;
    while ((r = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (r <= 0) throw fail(ETIMEDOUT, "not ready in time");
    bl.pid = pid;
    return bl;
}

} // namespace berth::shim
