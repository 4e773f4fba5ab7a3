#include "rootfs.hpp"

#include "error.hpp"
#include "fd.hpp"
#include "rootfs_copy.hpp"
#include "strings.hpp"
#include "tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>

namespace berth::image {

namespace {

constexpr const char* kLeases = "leases";

void check_id(const std::string& id) {
    bool ok = !id.empty() && id.size() <= 128 && id != "." && id != ".." &&
              std::all_of(id.begin(), id.end(), [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                         c == '-' || c == '.';
              });
    if (!ok) throw Error(EINVAL, "container id \"" + id.substr(0, 130) + "\": letters, digits, '_', '-' and '.' only");
}

// overlayfs splits its options on ',' and lowerdir on ':'.
void check_path(const std::string& p) {
    if (p.find_first_of(",:\\") != std::string::npos)
        throw Error(EINVAL, "\"" + p + "\": a path with ',', ':' or '\\' cannot be an overlay layer");
}

// "index=off" where the kernel has the option (containerd passes it too): a
// layer shared by many rootfs must not be tied to one upper dir's index.
bool has_index_option() { return ::access("/sys/module/overlay/parameters/index", F_OK) == 0; }

std::string fs_context_log(int fsfd) {
    std::string out;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(fsfd, buf, sizeof buf);
        if (n <= 0) break;
        if (!out.empty()) out += "; ";
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

// The new mount API with one "lowerdir+" per layer (Linux 6.8): no page-size
// limit on the number of layers. false when the kernel lacks it.
// Asked once: a kernel without it logs every refused attempt.
std::atomic<bool> no_lowerdir_plus{false};

bool mount_overlay_fsopen(const std::vector<std::string>& lowers_top_first, const std::string& upper,
                          const std::string& work, const std::string& merged, const RootfsOptions& o) {
    if (no_lowerdir_plus) return false;
    UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
    if (!fs) {
        if (errno == ENOSYS) return false;
        throw_errno("fsopen overlay");
    }
    auto set = [&](const char* key, const std::string& value) {
        if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) == 0) return true;
        int err = errno;
        std::string log = fs_context_log(fs.get());
        throw Error(err, std::string("overlay option ") + key + "=" + value + (log.empty() ? "" : " (" + log + ")"), true);
    };
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", lowers_top_first[0].c_str(), 0) < 0) {
        if (errno == EINVAL) {   // before 6.8
            no_lowerdir_plus = true;
            return false;
        }
        throw_errno("overlay option lowerdir+=" + lowers_top_first[0]);
    }
    for (size_t i = 1; i < lowers_top_first.size(); ++i) set("lowerdir+", lowers_top_first[i]);
    set("upperdir", upper);
    set("workdir", work);
    if (has_index_option()) set("index", "off");
    if (!o.mount_label.empty()) set("context", o.mount_label);
    set("source", "overlay");
    if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) {
        int err = errno;
        std::string log = fs_context_log(fs.get());
        // Before 6.5 overlayfs took its options as one legacy string: an
        // unknown "lowerdir+" is only refused here (Debian 12's 6.1). The
        // caller tries the classic mount, and says why if that fails too.
        if (err == EINVAL) return false;
        throw Error(err, "create the overlay" + (log.empty() ? "" : " (" + log + ")"), true);
    }
    UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
    if (!mnt) throw_errno("fsmount overlay");
    if (::move_mount(mnt.get(), "", AT_FDCWD, merged.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
        throw_errno("move the overlay to " + merged);
    return true;
}

void mount_overlay(const std::vector<std::string>& lowers_top_first, const std::string& upper, const std::string& work,
                   const std::string& merged, const RootfsOptions& o) {
    for (const auto& p : lowers_top_first) check_path(p);
    check_path(upper);
    check_path(work);
    bool tried_new = !o.legacy_mount && !no_lowerdir_plus;
    if (!o.legacy_mount && mount_overlay_fsopen(lowers_top_first, upper, work, merged, o)) return;
    std::string opts = has_index_option() ? "index=off," : "";
    opts += "lowerdir=";
    for (size_t i = 0; i < lowers_top_first.size(); ++i) opts += (i ? ":" : "") + lowers_top_first[i];
    opts += ",upperdir=" + upper + ",workdir=" + work;
    if (!o.mount_label.empty()) opts += ",context=\"" + o.mount_label + "\"";
    if (opts.size() >= static_cast<size_t>(::sysconf(_SC_PAGESIZE)))
        throw Error(E2BIG, std::to_string(lowers_top_first.size()) + " layers: too many for one overlay mount on this kernel");
    if (::mount("overlay", merged.c_str(), "overlay", 0, opts.c_str()) < 0) throw_errno("mount overlay on " + merged);
    if (tried_new) no_lowerdir_plus = true;   // the new way failed where this worked: don't ask again
}

// Unmounts whatever is mounted on path (stacked mounts too); lazily when busy.
void unmount_all(const std::string& path) {
    for (int i = 0; i < 64; ++i) {
        if (::umount2(path.c_str(), UMOUNT_NOFOLLOW) == 0) continue;
        if (errno == EBUSY && ::umount2(path.c_str(), UMOUNT_NOFOLLOW | MNT_DETACH) == 0) continue;
        if (errno == EINVAL || errno == ENOENT) return;   // not (or no longer) a mount point
        throw_errno("unmount " + path);
    }
}

void mkdir_mode(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) < 0) throw_errno("mkdir " + path);
    if (::chmod(path.c_str(), mode) < 0) throw_errno("chmod " + path);   // whatever the umask
}

} // namespace

std::string prepare_rootfs(const std::string& root, const std::string& id, const std::vector<std::string>& lowers,
                           const std::vector<std::string>& chain_ids, const RootfsOptions& o) {
    check_id(id);
    return with_context("rootfs of container " + id, [&] {
        make_dirs(root);
        std::string dir = root + "/" + id;
        if (::mkdir(dir.c_str(), 0700) < 0) {
            if (errno == EEXIST) throw Error(EEXIST, dir + " exists");
            throw_errno("mkdir " + dir);
        }
        std::string merged = dir + "/merged";
        try {
            // The leases first: GC must see them before anything uses the layers.
            std::string leases;
            for (const auto& c : chain_ids) leases += c + "\n";
            write_file_durable(dir, kLeases, leases);
            mkdir_mode(merged, 0755);
            bool copy = o.copy;
            if (!copy) {
                std::string upper = dir + "/upper", work = dir + "/work";
                mkdir_mode(upper, 0755);
                mkdir_mode(work, 0711);
                std::vector<std::string> top_first(lowers.rbegin(), lowers.rend());
                if (top_first.empty()) {   // overlayfs needs a lower dir
                    mkdir_mode(dir + "/lower", 0755);
                    top_first.push_back(dir + "/lower");
                } else {
                    // merged/ itself shows the upper dir: give it the image's root's owner and mode.
                    struct stat st;
                    if (::stat(top_first[0].c_str(), &st) < 0) throw_errno("stat " + top_first[0]);
                    if (::chown(upper.c_str(), st.st_uid, st.st_gid) < 0 && ::geteuid() == 0) throw_errno("chown " + upper);
                    if (::chmod(upper.c_str(), st.st_mode & 07777) < 0) throw_errno("chmod " + upper);
                }
                try {
                    mount_overlay(top_first, upper, work, merged, o);
                } catch (const Error& e) {
                    if (e.err() != ENODEV) throw;
                    // No overlayfs in this kernel: the copy, in merged/ itself.
                    remove_tree(upper);
                    remove_tree(work);
                    remove_tree(dir + "/lower");
                    copy = true;
                }
            }
            if (copy) copy_layers(lowers, merged);
            return merged;
        } catch (...) {
            try {
                unmount_all(merged);
                remove_tree(dir);
            } catch (const Error&) {
            }
            throw;
        }
    });
}

void remove_rootfs(const std::string& root, const std::string& id) {
    check_id(id);
    with_context("remove the rootfs of container " + id, [&] {
        std::string dir = root + "/" + id;
        struct stat st;
        if (::lstat(dir.c_str(), &st) < 0) {
            if (errno == ENOENT) return;
            throw_errno("stat " + dir);
        }
        unmount_all(dir + "/merged");
        remove_tree(dir);
    });
}

std::vector<std::string> rootfs_leases(const std::string& root) {
    std::set<std::string> all;
    DIR* d = ::opendir(root.c_str());
    if (!d) {
        if (errno == ENOENT) return {};
        throw_errno("open " + root);
    }
    std::vector<std::string> ids;
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") ids.emplace_back(n);
    }
    ::closedir(d);
    for (const auto& id : ids) {
        std::string p = root + "/" + id + "/" + kLeases;
        UniqueFd fd(::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) continue;   // being made (leases come first) or removed
        std::string text;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
        for (auto& c : split(text, '\n'))
            if (!c.empty()) all.insert(c);
    }
    return {all.begin(), all.end()};
}

Usage writable_layer_usage(const std::string& root, const std::string& id) {
    check_id(id);
    std::string dir = root + "/" + id;
    std::string upper = dir + "/upper";
    struct stat st;
    // The copy fallback has no upper dir: everything in merged/ is the container's.
    TreeUsage u = tree_usage(::lstat(upper.c_str(), &st) == 0 ? upper : dir + "/merged");
    return {u.bytes, u.inodes};
}

} // namespace berth::image
