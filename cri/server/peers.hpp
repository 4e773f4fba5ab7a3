// Who is calling: berthd accepts every connection on its socket itself,
// reads the peer's credentials (SO_PEERCRED: pid, uid, gid) and its groups
// (getgrouplist on the uid's user), and hands the connection to gRPC by
// fd. gRPC names such a connection's peer "fd:N", so a call finds its
// caller by that number. gRPC closes fd N only once the last call on the
// connection is gone, so a number is not reused under a live call; the
// socket's inode is checked as well, and a call whose connection cannot be
// matched has no caller (and is refused).
#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace grpc {
class ServerContext;
}

namespace berth::cri {

struct Caller {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;   // the primary group first
    std::string user;            // the uid's name; "uid N" when it has none
    std::string tls_name;        // over TCP: the client certificate's Common Name
    bool root() const { return uid == 0; }
    bool in_group(gid_t g) const;
    // "alice (uid 1000, pid 4242)", for messages and the audit log.
    std::string describe() const;
};

class Peers {
public:
    // A connection just accepted (before gRPC has it): its credentials
    // are read now. Throws Error when the kernel gives none.
    void add(int fd);
    // The caller of a call, or nullopt when its connection is not one of
    // ours (or no longer is), or a TLS client no mapping names.
    std::optional<Caller> caller(const grpc::ServerContext& ctx) const;
    // The identities of TLS clients, by their certificate's Common Name
    // (set once, before serving).
    void set_tls_clients(std::unordered_map<std::string, Caller> clients) { tls_ = std::move(clients); }
    // The same for a connection's fd (the tests').
    std::optional<Caller> caller_of_fd(int fd) const;

private:
    struct Entry {
        ino_t ino = 0;
        dev_t dev = 0;
        Caller caller;
    };
    mutable std::mutex mu_;
    std::unordered_map<int, Entry> by_fd_;
    std::unordered_map<std::string, Caller> tls_;
};

// The caller's identity from the system: its user's name and groups.
Caller caller_from_credentials(pid_t pid, uid_t uid, gid_t gid);
// A TLS client's identity: a local user (Error(EINVAL) when there is
// none) with its groups and the groups named (Error naming one that does
// not exist).
Caller tls_caller(const std::string& common_name, const std::string& user, const std::vector<std::string>& groups);

} // namespace berth::cri
