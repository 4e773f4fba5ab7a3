#include "peers.hpp"

#include "error.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/server_context.h>

#include <algorithm>
#include <cstdlib>

namespace berth::cri {

bool Caller::in_group(gid_t g) const { return std::find(groups.begin(), groups.end(), g) != groups.end(); }

std::string Caller::describe() const {
    if (!tls_name.empty()) return user + " (uid " + std::to_string(uid) + ", TLS client " + tls_name + ")";
    return user + " (uid " + std::to_string(uid) + ", pid " + std::to_string(pid) + ")";
}

Caller tls_caller(const std::string& common_name, const std::string& user, const std::vector<std::string>& groups) {
    passwd pw{}, *res = nullptr;
    std::vector<char> buf(16384);
    if (::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &res) != 0 || !res)
        throw Error(EINVAL, "tls.clients." + common_name + ".user: no such user \"" + user + "\"");
    Caller c = caller_from_credentials(0, pw.pw_uid, pw.pw_gid);
    c.tls_name = common_name;
    for (const auto& g : groups) {
        group gr{}, *gres = nullptr;
        std::vector<char> gbuf(16384);
        if (::getgrnam_r(g.c_str(), &gr, gbuf.data(), gbuf.size(), &gres) != 0 || !gres)
            throw Error(EINVAL, "tls.clients." + common_name + ".groups: no such group \"" + g + "\"");
        if (!c.in_group(gr.gr_gid)) c.groups.push_back(gr.gr_gid);
    }
    return c;
}

Caller caller_from_credentials(pid_t pid, uid_t uid, gid_t gid) {
    Caller c;
    c.pid = pid;
    c.uid = uid;
    c.gid = gid;
    c.groups = {gid};
    passwd pw{}, *res = nullptr;
    std::vector<char> buf(16384);
    if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == 0 && res) {
        c.user = pw.pw_name;
        // The user's groups as the system lists them; a user in many groups
        // is asked again with room for all.
        int n = 64;
        std::vector<gid_t> gs(static_cast<size_t>(n));
        if (::getgrouplist(pw.pw_name, gid, gs.data(), &n) < 0) {
            gs.resize(static_cast<size_t>(n));
            if (::getgrouplist(pw.pw_name, gid, gs.data(), &n) < 0) n = 0;
        }
        for (int i = 0; i < n; ++i)
            if (!c.in_group(gs[static_cast<size_t>(i)])) c.groups.push_back(gs[static_cast<size_t>(i)]);
    } else {
        c.user = "uid " + std::to_string(uid);
    }
    return c;
}

void Peers::add(int fd) {
    ucred cr{};
    socklen_t len = sizeof cr;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) throw_errno("SO_PEERCRED");
    struct stat st;
    if (::fstat(fd, &st) < 0) throw_errno("fstat of a new connection");
    Entry e{st.st_ino, st.st_dev, caller_from_credentials(cr.pid, cr.uid, cr.gid)};
    std::lock_guard g(mu_);
    by_fd_[fd] = std::move(e);
}

std::optional<Caller> Peers::caller_of_fd(int fd) const {
    struct stat st;
    if (::fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) return std::nullopt;
    std::lock_guard g(mu_);
    auto it = by_fd_.find(fd);
    if (it == by_fd_.end() || it->second.ino != st.st_ino || it->second.dev != st.st_dev) return std::nullopt;
    return it->second.caller;
}

std::optional<Caller> Peers::caller(const grpc::ServerContext& ctx) const {
    std::string peer = ctx.peer();
    if (peer.rfind("fd:", 0) != 0) {
        // Over TCP: only a client whose certificate the CA signed (the
        // handshake required one) and whose Common Name is mapped.
        auto auth = ctx.auth_context();
        if (!auth || !auth->IsPeerAuthenticated()) return std::nullopt;
        auto cn = auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
        if (cn.size() != 1) return std::nullopt;
        auto it = tls_.find(std::string(cn[0].data(), cn[0].size()));
        if (it == tls_.end()) return std::nullopt;
        return it->second;
    }
    char* end = nullptr;
    long fd = std::strtol(peer.c_str() + 3, &end, 10);
    if (end == peer.c_str() + 3 || *end || fd < 0) return std::nullopt;
    return caller_of_fd(static_cast<int>(fd));
}

} // namespace berth::cri
