// syscall-probe NR...: make each raw syscall (all arguments 0) and print
// "NR=RESULT" per line: "ok" or the errno's name (ENOSYS, EPERM, ...).
// Linked statically and copied into test rootfs, to see what a seccomp
// filter answers for numbers busybox never uses.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        long nr = std::strtol(argv[i], nullptr, 10);
        errno = 0;
        long r = syscall(nr, 0, 0, 0, 0, 0, 0);
        const char* name = r >= 0 ? "ok" : strerrorname_np(errno);
        std::printf("%ld=%s\n", nr, name ? name : "?");
    }
    return 0;
}
