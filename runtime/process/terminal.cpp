#include "terminal.hpp"

#include "error.hpp"
#include "fd_passing.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

namespace berth {

UniqueFd connect_console_socket(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path)
        throw Error(EINVAL, "--console-socket: invalid path \"" + path + "\"");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("--console-socket: socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        throw_errno("--console-socket: connect " + path);
    return fd;
}

void send_fd(int sock, int fd, const std::string& name) {
    send_with_fd(sock, name.data(), name.size(), fd, "pty master to the console socket");
}

UniqueFd recv_fd(int sock, std::string* name) {
    char buf[4096];
    UniqueFd fd;
    size_t n = recv_with_fd(sock, buf, sizeof buf, fd, "pty master");
    if (!fd) throw Error(EPROTO, "console socket: expected exactly one fd");
    if (name) name->assign(buf, n);
    return fd;
}

void setup_terminal(int sock, const spec::Process& p, bool bind_console) {
    UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master) throw_errno("process.terminal: open /dev/ptmx");
    int unlock = 0;
    if (::ioctl(master.get(), TIOCSPTLCK, &unlock) < 0) throw_errno("process.terminal: unlock pty");
    // TIOCGPTPEER opens the slave through the master, not by a path the
    // container could have swapped.
    UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave) throw_errno("process.terminal: open pty slave");
    if (p.consoleSize) {
        winsize ws{};
        ws.ws_row = static_cast<unsigned short>(p.consoleSize->height);
        ws.ws_col = static_cast<unsigned short>(p.consoleSize->width);
        if (::ioctl(master.get(), TIOCSWINSZ, &ws) < 0) throw_errno("process.consoleSize");
    }
    int n = 0;
    if (::ioctl(master.get(), TIOCGPTN, &n) < 0) throw_errno("process.terminal: pty number");
    std::string pts = "/dev/pts/" + std::to_string(n);

    // /dev/console is the pty: a bind over an empty file.
    if (bind_console) {
        int cf = ::open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (cf < 0 && errno != EEXIST) throw_errno("create /dev/console");
        if (cf >= 0) ::close(cf);
        if (::mount(pts.c_str(), "/dev/console", nullptr, MS_BIND, nullptr) < 0)
            throw_errno("bind " + pts + " on /dev/console");
    }

    send_fd(sock, master.get(), "/dev/ptmx");
    master.reset();

    if (::setsid() < 0) throw_errno("setsid");
    if (::ioctl(slave.get(), TIOCSCTTY, 0) < 0) throw_errno("set controlling terminal");
    for (int fd = 0; fd < 3; ++fd)
        if (::dup3(slave.get(), fd, 0) < 0) throw_errno("dup pty slave to fd " + std::to_string(fd));
}

} // namespace berth
