#include "user.hpp"

#include "error.hpp"
#include "fd.hpp"
#include "path_resolve.hpp"
#include "strings.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>

namespace berth::cri {

namespace {

// Bigger than any real passwd file; a hostile image can't make us read a
// huge one into memory.
constexpr size_t max_file_bytes = 16 << 20;

bool parse_id(std::string_view s, uint32_t& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

bool skip_line(std::string_view line) {
    return line.empty() || line[0] == '#' || line[0] == '+' || line[0] == '-';
}

// Read etc/NAME inside the rootfs; nullopt when it isn't there.
std::optional<std::string> read_in_root(int rootfd, const std::string& path) {
    UniqueFd fd;
    try {
        // O_NONBLOCK: a FIFO planted at the path must not block berthd.
        fd = open_in_root(rootfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    } catch (const Error& e) {
        if (e.err() == ENOENT || e.err() == ENOTDIR) return std::nullopt;
        throw Error(e.err(), "the image's " + path + ": " + e.context(), e.from_syscall());
    }
    struct stat st{};
    if (::fstat(fd.get(), &st) < 0) throw_errno("stat the image's " + path);
    if (!S_ISREG(st.st_mode)) throw Error(EINVAL, "the image's " + path + ": not a regular file");
    if (static_cast<uint64_t>(st.st_size) > max_file_bytes)
        throw Error(EFBIG, "the image's " + path + ": larger than " + std::to_string(max_file_bytes) + " bytes");
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read the image's " + path);
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max_file_bytes)
            throw Error(EFBIG, "the image's " + path + ": larger than " + std::to_string(max_file_bytes) + " bytes");
    }
    return out;
}

} // namespace

std::vector<PasswdEntry> parse_passwd(std::string_view text) {
    std::vector<PasswdEntry> out;
    for (const auto& line : split(text, '\n')) {
        if (skip_line(line)) continue;
        auto f = split(line, ':');   // name:passwd:uid:gid:gecos:home:shell
        PasswdEntry e;
        if (f.size() < 4 || f[0].empty() || !parse_id(f[2], e.uid) || !parse_id(f[3], e.gid)) continue;
        e.name = f[0];
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<GroupEntry> parse_group(std::string_view text) {
    std::vector<GroupEntry> out;
    for (const auto& line : split(text, '\n')) {
        if (skip_line(line)) continue;
        auto f = split(line, ':');   // name:passwd:gid:member,member
        GroupEntry e;
        if (f.size() < 3 || f[0].empty() || !parse_id(f[2], e.gid)) continue;
        e.name = f[0];
        if (f.size() > 3)
            for (auto& m : split(f[3], ','))
                if (!m.empty()) e.members.push_back(m);
        out.push_back(std::move(e));
    }
    return out;
}

RootfsUsers RootfsUsers::load(const std::string& rootfs) {
    UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_errno("open rootfs " + rootfs);
    RootfsUsers u;
    if (auto t = read_in_root(root.get(), "/etc/passwd")) {
        u.has_passwd = true;
        u.passwd = parse_passwd(*t);
    }
    if (auto t = read_in_root(root.get(), "/etc/group")) {
        u.has_group = true;
        u.group = parse_group(*t);
    }
    return u;
}

const PasswdEntry* RootfsUsers::user_by_name(std::string_view name) const {
    for (auto& e : passwd)
        if (e.name == name) return &e;
    return nullptr;
}

const PasswdEntry* RootfsUsers::user_by_uid(uint32_t uid) const {
    for (auto& e : passwd)
        if (e.uid == uid) return &e;
    return nullptr;
}

const GroupEntry* RootfsUsers::group_by_name(std::string_view name) const {
    for (auto& e : group)
        if (e.name == name) return &e;
    return nullptr;
}

ResolvedUser resolve_user(const RootfsUsers& users, std::string_view spec, std::string_view field) {
    auto fail = [&](const std::string& what) -> Error { return Error(EINVAL, std::string(field) + ": " + what); };
    auto parts = split(spec, ':');
    if (parts.empty() || parts.size() > 2 || parts[0].empty() || (parts.size() == 2 && parts[1].empty()))
        throw fail("invalid user \"" + std::string(spec) + "\": expected user, uid, user:group or uid:gid");
    ResolvedUser r;
    uint32_t id = 0;
    const PasswdEntry* pw = nullptr;
    if (parse_id(parts[0], id)) {
        r.uid = id;
        pw = users.user_by_uid(id);   // only for the default gid below
    } else {
        pw = users.user_by_name(parts[0]);
        if (!pw)
            throw fail("user \"" + parts[0] + "\" not found in the image's /etc/passwd" +
                       (users.has_passwd ? "" : " (the image has no /etc/passwd)"));
        r.uid = pw->uid;
    }
    if (parts.size() == 1) {
        r.gid = pw ? pw->gid : 0;
    } else if (parse_id(parts[1], id)) {
        r.gid = id;
    } else {
        const GroupEntry* g = users.group_by_name(parts[1]);
        if (!g)
            throw fail("group \"" + parts[1] + "\" not found in the image's /etc/group" +
                       (users.has_group ? "" : " (the image has no /etc/group)"));
        r.gid = g->gid;
    }
    return r;
}

std::vector<uint32_t> member_gids(const RootfsUsers& users, std::string_view user) {
    std::string name(user);
    uint32_t uid = 0;
    if (parse_id(user, uid)) {
        const PasswdEntry* pw = users.user_by_uid(uid);
        if (!pw) return {};
        name = pw->name;
    }
    std::vector<uint32_t> out;
    for (auto& g : users.group) {
        if (g.name == name) continue;
        for (auto& m : g.members)
            if (m == name) {
                out.push_back(g.gid);
                break;
            }
    }
    return out;
}

} // namespace berth::cri
