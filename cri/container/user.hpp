// The container's user from the image's own /etc/passwd and /etc/group:
// run_as_username, the image config's User ("name", "uid", "uid:gid",
// "name:group") and the user's supplementary groups, as containerd's
// oci.WithUser / WithAdditionalGIDs resolve them. The rootfs is the image's
// and hostile: both files are opened inside it (openat2 RESOLVE_IN_ROOT), so
// a symlink never leads to a host file, and only regular files are read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::cri {

struct PasswdEntry {
    std::string name;
    uint32_t uid = 0, gid = 0;
};

struct GroupEntry {
    std::string name;
    uint32_t gid = 0;
    std::vector<std::string> members;
};

// Lines that don't parse (comments, NIS "+" entries, bad ids) are skipped, as
// libc and Go's os/user do.
std::vector<PasswdEntry> parse_passwd(std::string_view text);
std::vector<GroupEntry> parse_group(std::string_view text);

// The two files of one rootfs; a file the image lacks reads as empty.
struct RootfsUsers {
    std::vector<PasswdEntry> passwd;
    std::vector<GroupEntry> group;
    bool has_passwd = false, has_group = false;

    // Read ROOTFS/etc/passwd and ROOTFS/etc/group, resolved inside ROOTFS.
    // Throws Error naming the file when one exists but can't be read (not a
    // regular file, a symlink loop, too big).
    static RootfsUsers load(const std::string& rootfs);

    const PasswdEntry* user_by_name(std::string_view name) const;
    const PasswdEntry* user_by_uid(uint32_t uid) const;
    const GroupEntry* group_by_name(std::string_view name) const;
};

struct ResolvedUser {
    uint32_t uid = 0, gid = 0;
};

// A user string as Docker and containerd take it: "name", "uid", "uid:gid",
// "name:group" (each side a number or a name). A numeric uid needs no passwd
// entry (gid then comes from its entry, else 0); a name that isn't there is
// an Error(EINVAL) starting with `field`, e.g.
// `linux.security_context.run_as_username: user "nobody2" not found in the
// image's /etc/passwd`.
ResolvedUser resolve_user(const RootfsUsers& users, std::string_view spec, std::string_view field);

// The gids of the /etc/group groups listing `user` (a name, or a uid whose
// passwd entry gives the name) as a member, in file order; none when the
// user is unknown. Groups named like the user are its primary group, left
// out (as containerd does).
std::vector<uint32_t> member_gids(const RootfsUsers& users, std::string_view user);

} // namespace berth::cri
