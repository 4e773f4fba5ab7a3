#include "sealed_helper.hpp"

#include "error.hpp"
#include "exe_seal.hpp"
#include "file_util.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace berth::shim {

namespace {

// Fixed fd numbers in the helper.
constexpr int kConsoleFd = 3, kResultFd = 4, kProcessFd = 5;

const char* driver_arg(cgroup::Driver d) { return d == cgroup::Driver::systemd ? "systemd" : "cgroupfs"; }

// Put `fd` at `target` without close-on-exec (in the forked child).
void place(int fd, int target) {
    if (fd < 0) return;
    if (fd == target) {
        ::fcntl(fd, F_SETFD, 0);
        return;
    }
    if (::dup2(fd, target) < 0) _exit(125);
}

// Fork; the child re-executes the sealed shim with argv and the fds given
// (console, process json; -1: none). Returns what the helper reported.
pid_t run_helper(std::vector<std::string> args, int console_fd, int process_fd) {
    UniqueFd rd, wr;
    with_context("sealed helper", [&] { make_pipe(rd, wr); });
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("sealed helper: fork");
    if (pid == 0) {
        // Above every fd we place, so no dup2 clobbers a source.
        int c = console_fd >= 0 ? ::fcntl(console_fd, F_DUPFD_CLOEXEC, 10) : -1;
        int r = ::fcntl(wr.get(), F_DUPFD_CLOEXEC, 10);
        int j = process_fd >= 0 ? ::fcntl(process_fd, F_DUPFD_CLOEXEC, 10) : -1;
        place(c, kConsoleFd);
        place(r, kResultFd);
        place(j, kProcessFd);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        try {
            reexec_sealed(argv.data());
        } catch (const std::exception& e) {
            std::string msg = std::string("err 0 ") + e.what();
            (void)!::write(kResultFd, msg.data(), msg.size());
        }
        _exit(1);
    }
    wr.reset();
    // Wait for the helper, then take its one short message: reading to EOF
    // would hang, as the init it cloned holds the pipe until it execs.
    int ws = 0;
    while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    if (::fcntl(rd.get(), F_SETFL, O_NONBLOCK) < 0) throw_errno("sealed helper: pipe");
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n > 0) out.append(buf, static_cast<size_t>(n));
        else if (n < 0 && errno == EINTR) continue;
        else break;
    }
    if (out.starts_with("ok ")) return static_cast<pid_t>(std::atoi(out.c_str() + 3));
    if (out.starts_with("err ")) {
        char* end = nullptr;
        long err = std::strtol(out.c_str() + 4, &end, 10);
        std::string msg = (end && *end == ' ') ? std::string(end + 1) : out;
        throw Error(static_cast<int>(err), msg);
    }
    throw Error(EIO, "sealed helper exited (status " + std::to_string(ws) + ") without a result");
}

void report(const std::string& text) { (void)!::write(kResultFd, text.data(), text.size()); }

bool has_ptrace(const std::optional<spec::Capabilities>& c) {
    if (!c) return false;
    for (const auto* set : {&c->bounding, &c->effective, &c->permitted})
        if (std::find(set->begin(), set->end(), "CAP_SYS_PTRACE") != set->end()) return true;
    return false;
}

} // namespace

bool needs_sealed_create(const std::string& bundle) {
    return needs_sealed_exe(spec::load_bundle_config(bundle));
}

bool needs_sealed_exec(const std::string& bundle, const spec::Process& p) {
    return needs_sealed_create(bundle) || has_ptrace(p.capabilities);
}

pid_t sealed_create(const RuntimeContext& ctx, const std::string& id, const std::string& bundle, int console_fd) {
    return run_helper({"berth-shim", "_create", ctx.root, driver_arg(ctx.cgroup_driver), id, bundle,
                       console_fd >= 0 ? "1" : "0"},
                      console_fd, -1);
}

pid_t sealed_exec(const RuntimeContext& ctx, const std::string& id, const std::string& process_json, bool terminal,
                  int console_fd) {
    UniqueFd mem(::memfd_create("exec-process", MFD_CLOEXEC));
    if (!mem) throw_errno("sealed helper: memfd for the process");
    if (::write(mem.get(), process_json.data(), process_json.size()) != static_cast<ssize_t>(process_json.size()))
        throw_errno("sealed helper: write the process");
    return run_helper({"berth-shim", "_exec", ctx.root, driver_arg(ctx.cgroup_driver), id, terminal ? "1" : "0",
                       console_fd >= 0 ? "1" : "0"},
                      console_fd, mem.get());
}

int sealed_helper_main(int argc, char** argv) {
    try {
        if (argc != 7) throw Error(EINVAL, "usage: berth-shim _create|_exec ROOT DRIVER ID ARG CONSOLE");
        std::string what = argv[1];
        RuntimeContext ctx;
        ctx.root = argv[2];
        ctx.cgroup_driver = std::strcmp(argv[3], "systemd") == 0 ? cgroup::Driver::systemd : cgroup::Driver::cgroupfs;
        std::string id = argv[4];
        int console = std::strcmp(argv[6], "1") == 0 ? kConsoleFd : -1;
        sigset_t none;
        sigemptyset(&none);
        pid_t pid = 0;
        if (!exe_is_sealed()) throw Error(EPERM, "berth-shim " + what + " runs only from a sealed copy");
        if (what == "_create") {
            CreateOptions o;
            o.bundle = argv[5];
            o.console_fd = console;
            pid = create_container(ctx, id, o, &none);
        } else if (what == "_exec") {
            std::string json;
            char buf[16384];
            ::lseek(kProcessFd, 0, SEEK_SET);
            for (ssize_t n; (n = ::read(kProcessFd, buf, sizeof buf)) > 0;) json.append(buf, static_cast<size_t>(n));
            ExecOptions eo;
            eo.process = spec::parse_process(json, "exec spec");
            eo.process.terminal = std::strcmp(argv[5], "1") == 0;
            eo.console_fd = console;
            eo.detach = true;
            eo.sigmask = &none;
            eo.pid_out = &pid;
            exec_container(ctx, id, eo);
        } else {
            throw Error(EINVAL, "unknown helper action " + what);
        }
        report("ok " + std::to_string(pid));
        return 0;
    } catch (const Error& e) {
        report("err " + std::to_string(e.err()) + " " + e.what());
    } catch (const std::exception& e) {
        report(std::string("err 0 ") + e.what());
    }
    return 1;
}

} // namespace berth::shim
