#include "stream_tokens.hpp"

#include "error.hpp"
#include "random.hpp"

namespace berth::stream {

std::string random_token() {
    unsigned char b[32];
    random_bytes(b, sizeof b);
    static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : b) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += abc[(acc >> bits) & 63];
        }
    }
    if (bits > 0) out += abc[(acc << (6 - bits)) & 63];
    return out;
}

void Tokens::expire_locked(Clock::time_point now) {
    for (auto it = entries_.begin(); it != entries_.end();)
        it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
}

std::string Tokens::put(Request r) {
    std::lock_guard g(mu_);
    auto now = Clock::now();
    expire_locked(now);
    if (entries_.size() >= max_)
        throw Error(EAGAIN, "too many streaming requests waiting for their client (" + std::to_string(max_) + ")");
    std::string t = random_token();
    entries_[t] = Entry{std::move(r), now + ttl_};
    return t;
}

std::optional<Request> Tokens::take(const std::string& token) {
    std::lock_guard g(mu_);
    expire_locked(Clock::now());
    auto it = entries_.find(token);
    if (it == entries_.end()) return std::nullopt;
    Request r = std::move(it->second.req);
    entries_.erase(it);
    return r;
}

size_t Tokens::pending() {
    std::lock_guard g(mu_);
    expire_locked(Clock::now());
    return entries_.size();
}

} // namespace berth::stream
