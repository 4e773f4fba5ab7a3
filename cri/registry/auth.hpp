// Registry authentication pieces the client (registry.cpp) puts together:
// the WWW-Authenticate challenge (RFC 7235), token endpoint responses
// (distribution's token spec and its OAuth2 form), the shared TokenCache,
// and the Basic credentials a CRI AuthConfig gives.
#pragma once

#include "registry.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::image {

struct AuthChallenge {
    std::string scheme;                          // lower case: "bearer", "basic", ...
    std::map<std::string, std::string> params;   // names lower case; values unquoted
    std::string param(const std::string& name) const;
};

// Every challenge of one or more WWW-Authenticate values (a comma joins
// them, as HTTP does for repeated headers): `Bearer realm="https://a/token",
// service="reg",scope="repository:x:pull,push", Basic realm="r"`. Quoted
// values may hold commas and backslash escapes. Malformed parts are skipped.
std::vector<AuthChallenge> parse_www_authenticate(std::string_view header);

struct TokenResponse {
    std::string token;           // "token", or "access_token" when that is set
    std::string refresh_token;
    // How long to use it: 90% of expires_in (at least 60 s, as the token
    // spec says) counted from issued_at when given, else from `now`.
    std::chrono::seconds lifetime{0};
};
// Throws Error(EBADMSG, "<what>: ...") for a body that is not such a JSON
// object or has no token.
TokenResponse parse_token_response(std::string_view body, std::chrono::system_clock::time_point now,
                                   std::string_view what);

// Bearer tokens by key (realm, service, scope and who asked), and the
// challenge each registry host last sent, so later requests (and later
// pulls sharing the cache) authenticate up front. Thread-safe; callers
// asking for one key at once wait for a single fetch.
class TokenCache {
public:
    // The cached token for key, or fetch()'s, cached for its lifetime.
    // fetch's exceptions pass through and nothing is cached.
    std::string get(const std::string& key, const std::function<TokenResponse()>& fetch);
    // Drop key's token if it is still `token` (the registry refused it).
    void forget(const std::string& key, const std::string& token);
    std::optional<AuthChallenge> challenge(const std::string& host_url) const;
    void set_challenge(const std::string& host_url, const AuthChallenge& c);

private:
    struct Entry {
        std::mutex fetching;   // held while one caller fetches
        std::string token;
        std::chrono::steady_clock::time_point expires;
    };
    mutable std::mutex mu_;
    std::map<std::string, std::shared_ptr<Entry>> tokens_;
    std::map<std::string, AuthChallenge> challenges_;
};

// username and password from Credentials (or from `auth`, base64 of
// "user:password"); nullopt when neither is set. Throws Error(EINVAL) for
// an `auth` that does not decode to "user:password".
std::optional<std::pair<std::string, std::string>> basic_credentials(const Credentials& c);

std::string base64_encode(std::string_view s);

} // namespace berth::image
