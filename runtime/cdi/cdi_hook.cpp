// The createContainer hook `berth cdi hook update-ldcache`: after the
// driver libraries are mounted into the rootfs, rebuild the rootfs's ld
// cache so they resolve. It runs in the container's mount namespace before
// pivot_root, so ROOT (from the bundle) shows the container's mounts.
#include "cdi_devices.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "json.hpp"
#include "path_resolve.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace berth::cdi {

namespace {

// ROOT/etc/ld.so.conf.d/00-berth-cdi.conf, resolved inside ROOT, so a
// later ldconfig in the container keeps the folders. Only where the image
// has that dir (its ld.so.conf includes it).
void write_conf(const std::string& root, const std::vector<std::string>& folders) {
    UniqueFd rootfd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rootfd) throw_errno("open " + root);
    UniqueFd dir;
    try {
        dir = open_in_root(rootfd.get(), "/etc/ld.so.conf.d", O_PATH | O_DIRECTORY);
    } catch (const Error&) {
        return;
    }
    std::string text;
    for (const auto& f : folders) text += f + "\n";
    UniqueFd f(::openat(dir.get(), "00-berth-cdi.conf", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!f) throw_errno("create /etc/ld.so.conf.d/00-berth-cdi.conf in " + root);
    if (::write(f.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        throw_errno("write /etc/ld.so.conf.d/00-berth-cdi.conf");
}

} // namespace

void update_ldcache(const std::string& state_json, const std::vector<std::string>& folders,
                    const std::string& ldconfig) {
    json::Document st(state_json, "container state (stdin)");
    std::string bundle = st.root().get("bundle").as_string();
    std::string cfg_text = read_file(bundle + "/config.json");
    json::Document cfg(cfg_text, bundle + "/config.json");
    std::string root = cfg.root().get("root").get("path").as_string();
    if (root.empty() || root.front() != '/') root = bundle + "/" + root;

    for (const auto& f : folders)
        if (f.empty() || f.front() != '/') throw Error(EINVAL, "--folder " + f + ": not absolute");
    write_conf(root, folders);

    // ldconfig chroots into ROOT itself (-r), and the folders are read there.
    std::vector<std::string> args = {ldconfig, "-r", root};
    args.insert(args.end(), folders.begin(), folders.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    int rc = ::posix_spawn(&pid, ldconfig.c_str(), nullptr, nullptr, argv.data(), environ);
    if (rc != 0) throw_errno(rc, "run " + ldconfig);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw_errno("wait for " + ldconfig);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error(EIO, ldconfig + " -r " + root + " failed (status " + std::to_string(status) + ")");
}

} // namespace berth::cdi
