// The streaming server's tokens: Exec, Attach and PortForward hand out
// URLs /exec/TOKEN, /attach/TOKEN, /portforward/TOKEN; each token is
// random, used once, and expires after a minute unused, as containerd's
// (kubelet's streaming cache). A bad, used or expired token is 404.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace berth::stream {

struct ExecRequest {
    std::string container_id;
    std::vector<std::string> cmd;
    bool tty = false, stdin = false, stdout = false, stderr = false;
};
struct AttachRequest {
    std::string container_id;
    bool tty = false, stdin = false, stdout = false, stderr = false;
};
struct PortForwardRequest {
    std::string pod_id;
    std::vector<int32_t> ports;   // empty: any port the client names
};
using Request = std::variant<ExecRequest, AttachRequest, PortForwardRequest>;

class Tokens {
public:
    using Clock = std::chrono::steady_clock;
    explicit Tokens(std::chrono::seconds ttl = std::chrono::seconds(60), size_t max_pending = 4096)
        : ttl_(ttl), max_(max_pending) {}

    // A new token for r. Error(EAGAIN) when max_pending are waiting (a
    // client asking for URLs it never opens).
    std::string put(Request r);
    // The request, once: the token is gone afterwards. nullopt for an
    // unknown, used or expired one.
    std::optional<Request> take(const std::string& token);
    size_t pending();

private:
    void expire_locked(Clock::time_point now);
    struct Entry {
        Request req;
        Clock::time_point expires;
    };
    std::chrono::seconds ttl_;
    size_t max_;
    std::mutex mu_;
    std::map<std::string, Entry> entries_;
};

// 32 random bytes (getrandom), base64url without padding: 43 characters.
std::string random_token();

} // namespace berth::stream
