// sd-notify MESSAGE: send MESSAGE to $NOTIFY_SOCKET, as sd_notify(3) does.
// Linked statically and copied into test rootfs (busybox has no such tool).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (argc != 2 || !path || !*path || std::strlen(path) >= sizeof(sockaddr_un::sun_path)) {
        std::fprintf(stderr, "usage: NOTIFY_SOCKET=PATH sd-notify MESSAGE\n");
        return 2;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, path);
    if (fd < 0 || sendto(fd, argv[1], std::strlen(argv[1]), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
        std::perror("sd-notify");
        return 1;
    }
    return 0;
}
