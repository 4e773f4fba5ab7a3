#include "notify_socket.hpp"

#include "error.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace berth {

namespace {

constexpr const char* kInContainer = "/run/notify/notify.sock";

// A unix address for path; "@name" is an abstract socket (systemd's form).
socklen_t unix_addr(const std::string& path, sockaddr_un& a, const std::string& what) {
    a = {};
    a.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof a.sun_path) throw Error(EINVAL, what + ": invalid socket path \"" + path + "\"");
    std::memcpy(a.sun_path, path.data(), path.size());
    if (path[0] == '@') a.sun_path[0] = '\0';
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '@' ? 0 : 1));
}

} // namespace

std::string host_notify_socket() {
    const char* s = std::getenv("NOTIFY_SOCKET");
    return s ? s : "";
}

void notify_setup_spec(spec::Config& cfg, const std::string& state_dir) {
    std::string dir = state_dir + "/notify";
    if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) throw_errno("NOTIFY_SOCKET: create " + dir);
    spec::Mount m;
    m.destination = "/run/notify";
    m.type = "bind";
    m.source = dir;
    m.options = {"bind", "nosuid", "noexec", "nodev", "ro"};
    cfg.mounts.push_back(std::move(m));
    auto& env = cfg.process->env;
    std::erase_if(env, [](const std::string& e) { return e.starts_with("NOTIFY_SOCKET="); });
    env.push_back(std::string("NOTIFY_SOCKET=") + kInContainer);
}

NotifyListener NotifyListener::bind(const std::string& state_dir) {
    NotifyListener l;
    std::string dir = state_dir + "/notify";
    struct stat st;
    if (::stat(dir.c_str(), &st) < 0) return l;
    std::string path = dir + "/notify.sock";
    ::unlink(path.c_str());
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("NOTIFY_SOCKET: socket");
    sockaddr_un a;
    socklen_t len = unix_addr(path, a, "NOTIFY_SOCKET");
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), len) < 0) throw_errno("NOTIFY_SOCKET: bind " + path);
    // Any user in the container (mapped or not) may notify.
    if (::chmod(path.c_str(), 0777) < 0) throw_errno("NOTIFY_SOCKET: chmod " + path);
    l.sock_ = std::move(fd);
    return l;
}

void NotifyListener::forward_ready(const std::string& host, int init_pidfd, pid_t pid) {
    pollfd fds[2] = {{sock_.get(), POLLIN, 0}, {init_pidfd, POLLIN, 0}};
    std::string ready;
    while (ready.empty()) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("NOTIFY_SOCKET: poll");
        }
        if (fds[0].revents & POLLIN) {
            char buf[4096];
            ssize_t n = ::recv(sock_.get(), buf, sizeof buf, 0);
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                throw_errno("NOTIFY_SOCKET: receive");
            }
            std::string_view msg(buf, static_cast<size_t>(n));
            for (size_t pos = 0; pos < msg.size();) {
                size_t end = msg.find('\n', pos);
                if (end == std::string_view::npos) end = msg.size();
                auto line = msg.substr(pos, end - pos);
                if (line.starts_with("READY=")) ready = line;
                pos = end + 1;
            }
            continue;
        }
        if (fds[1].revents & POLLIN) return;   // the container exited without being ready
    }
    UniqueFd out(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!out) throw_errno("NOTIFY_SOCKET: socket");
    sockaddr_un a;
    socklen_t len = unix_addr(host, a, "NOTIFY_SOCKET");
    std::string msg = ready + "\nMAINPID=" + std::to_string(pid) + "\n";
    if (::sendto(out.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&a), len) < 0)
        throw_errno("NOTIFY_SOCKET: send to " + host);
}

} // namespace berth
