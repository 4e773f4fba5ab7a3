#include "process.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "strings.hpp"

#include <grp.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>


namespace berth {

void apply_rlimits(const spec::Process& p) {
    for (const auto& r : p.rlimits) {
        int res = spec::rlimit_resource(r.type);
        if (res < 0) throw Error(EINVAL, "process.rlimits: unknown type \"" + r.type + "\"");
        rlimit lim{r.soft, r.hard};
        if (::setrlimit(res, &lim) < 0) {
            int err = errno;
            std::string what = "process.rlimits " + r.type + " (soft " + std::to_string(r.soft) + ", hard " +
                               std::to_string(r.hard) + ")";
            if (err == EPERM) what += ": raising a hard limit needs CAP_SYS_RESOURCE";
            throw Error(err, what);
        }
    }
}

void apply_personality(const spec::Linux& l) {
    if (!l.personality) return;
    unsigned long pers = 0;
    if (l.personality->domain == "LINUX") pers = PER_LINUX;
    else if (l.personality->domain == "LINUX32") pers = PER_LINUX32;
    else throw Error(EINVAL, "linux.personality.domain: unknown domain \"" + l.personality->domain + "\"");
    if (::personality(pers) < 0) throw_errno("linux.personality");
}

void become_userns_root() {
    if (::setresgid(0, 0, 0) < 0) throw_errno("setgid 0 in the user namespace (is gid 0 mapped?)");
    if (::setresuid(0, 0, 0) < 0) throw_errno("setuid 0 in the user namespace (is uid 0 mapped?)");
}

void join_session_keyring(const std::string& id) {
    constexpr int KEYCTL_JOIN_SESSION_KEYRING = 1;
    std::string name = "_ses." + id;
    if (::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.c_str()) < 0 && errno != ENOSYS)
        throw_errno("create session keyring");
}

void apply_user(const spec::Process& p, bool setgroups_denied) {
    const auto& u = p.user;
    std::vector<gid_t> groups(u.additionalGids.begin(), u.additionalGids.end());
    if (setgroups_denied) {
        if (!groups.empty())
            throw Error(EPERM, "process.user.additionalGids: not available to a rootless container "
                               "(setgroups is denied in its user namespace)");
    } else if (::setgroups(groups.size(), groups.data()) < 0) {
        throw_errno("process.user.additionalGids: setgroups");
    }
    if (::setresgid(u.gid, u.gid, u.gid) < 0) throw_errno("process.user.gid: setgid " + std::to_string(u.gid));
    if (::setresuid(u.uid, u.uid, u.uid) < 0) throw_errno("process.user.uid: setuid " + std::to_string(u.uid));
}

namespace {

std::string env_value(const std::vector<std::string>& env, std::string_view key) {
    for (const auto& e : env)
        if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=')
            return e.substr(key.size() + 1);
    return {};
}

bool is_executable_file(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

} // namespace

std::string find_executable(const spec::Process& p) {
    const auto& name = p.args.front();
    // In runc's (Go's) words, which Docker and podman match to tell a
    // command not found (exit 127) from one that can't be run (126).
    if (name.find('/') != std::string::npos) {
        struct stat st;
        if (::stat(name.c_str(), &st) < 0) {
            if (errno == ENOENT) throw Error(ENOENT, "exec \"" + name + "\": stat " + name + ": no such file or directory");
            throw_errno("exec \"" + name + "\"");
        }
        if (S_ISDIR(st.st_mode)) throw Error(EACCES, "exec \"" + name + "\": is a directory: permission denied");
        if (::access(name.c_str(), X_OK) < 0) throw Error(EACCES, "exec \"" + name + "\": permission denied");
        return name;
    }
    std::string path = env_value(p.env, "PATH");
    if (path.empty()) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const auto& dir : split(path, ':')) {
        std::string cand = (dir.empty() ? "." : dir) + "/" + name;
        if (is_executable_file(cand)) return cand;
    }
    throw Error(ENOENT, "exec \"" + name + "\": executable file not found in $PATH");
}

void exec_process(const std::string& exe, const std::vector<std::string>& args, const std::vector<std::string>& env) {
    std::vector<char*> argv, envp;
    for (auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    for (auto& s : env) envp.push_back(const_cast<char*>(s.c_str()));
    envp.push_back(nullptr);
    ::execve(exe.c_str(), argv.data(), envp.data());
}

std::vector<std::string> process_env(const spec::Process& p) {
    std::vector<std::string> env = p.env;
    for (const auto& e : env)
        if (e.starts_with("HOME=")) return env;
    std::string home = "/";
    try {
        for (const auto& line : split(read_file("/etc/passwd"), '\n')) {
            // name:pw:uid:gid:gecos:home:shell
            auto f = split(line, ':');
            if (f.size() >= 6 && f[2] == std::to_string(p.user.uid)) {
                home = f[5];
                break;
            }
        }
    } catch (const Error&) {
        // No /etc/passwd in the image: HOME=/ as runc does.
    }
    env.push_back("HOME=" + home);
    return env;
}

} // namespace berth
