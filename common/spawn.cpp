#include "spawn.hpp"

#include "error.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

namespace berth {

pid_t spawn_process(const std::string& binary, const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    const SpawnOptions& o, const std::string& what) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    struct FaFree {
        posix_spawn_file_actions_t* fa;
        ~FaFree() { posix_spawn_file_actions_destroy(fa); }
    } fa_free{&fa};
    for (int fd : o.dev_null) posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
    for (auto [from, to] : o.dup2s) posix_spawn_file_actions_adddup2(&fa, from, to);
    if (!o.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, o.cwd.c_str());
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    struct AttrFree {
        posix_spawnattr_t* a;
        ~AttrFree() { posix_spawnattr_destroy(a); }
    } attr_free{&attr};
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (o.own_process_group) {
        posix_spawnattr_setpgroup(&attr, 0);
        flags |= POSIX_SPAWN_SETPGROUP;
    }
    posix_spawnattr_setflags(&attr, flags);
    std::vector<char*> av, ev;
    for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
    av.push_back(nullptr);
    for (const auto& e : env) ev.push_back(const_cast<char*>(e.c_str()));
    ev.push_back(nullptr);
    pid_t pid;
    int rc = ::posix_spawn(&pid, binary.c_str(), &fa, &attr, av.data(), ev.data());
    if (rc != 0) throw_errno(rc, what);
    return pid;
}

} // namespace berth
