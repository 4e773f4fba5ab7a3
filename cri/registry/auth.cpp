// WWW-Authenticate parsing, token responses, the token cache, credentials.
#include "auth.hpp"

#include "error.hpp"
#include "json.hpp"

#include <openssl/evp.h>

#include <time.h>

#include <algorithm>
#include <cmath>

namespace berth::image {

namespace {

bool tchar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool ows(char c) { return c == ' ' || c == '\t'; }

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

class ChallengeParser {
public:
    explicit ChallengeParser(std::string_view s) : s_(s) {}

    std::vector<AuthChallenge> parse() {
        std::vector<AuthChallenge> out;
        while (true) {
            skip_separators();
            if (at_end()) break;
            std::string scheme = token();
            if (scheme.empty()) {   // junk: skip to the next comma
                while (!at_end() && s_[i_] != ',') ++i_;
                continue;
            }
            AuthChallenge c;
            c.scheme = lower(scheme);
            params(c);
            out.push_back(std::move(c));
        }
        return out;
    }

private:
    bool at_end() const { return i_ >= s_.size(); }
    void skip_ows() {
        while (!at_end() && ows(s_[i_])) ++i_;
    }
    void skip_separators() {
        while (!at_end() && (ows(s_[i_]) || s_[i_] == ',')) ++i_;
    }
    std::string token() {
        size_t b = i_;
        while (!at_end() && tchar(s_[i_])) ++i_;
        return std::string(s_.substr(b, i_ - b));
    }
    // Is there `name =` at the cursor (after separators)? Leaves the cursor alone.
    bool param_ahead() const {
        size_t j = i_;
        while (j < s_.size() && (ows(s_[j]) || s_[j] == ',')) ++j;
        size_t b = j;
        while (j < s_.size() && tchar(s_[j])) ++j;
        if (j == b) return false;
        while (j < s_.size() && ows(s_[j])) ++j;
        if (j >= s_.size() || s_[j] != '=') return false;
        // "name==" or "name=" then a separator is the tail of a token68.
        ++j;
        return j < s_.size() && s_[j] != '=';
    }
    std::string quoted() {
        std::string v;
        ++i_;   // opening quote
        while (!at_end() && s_[i_] != '"') {
            if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
            v += s_[i_++];
        }
        if (!at_end()) ++i_;   // closing quote
        return v;
    }
    void params(AuthChallenge& c) {
        skip_ows();
        // A token68 ("Basic dXNlcg==") right after the scheme: skip it.
        if (!at_end() && s_[i_] != ',' && !param_ahead()) {
            while (!at_end() && s_[i_] != ',') ++i_;
        }
        while (param_ahead()) {
            skip_separators();
            std::string name = lower(token());
            skip_ows();
            ++i_;   // '='
            skip_ows();
            std::string value;
            if (!at_end() && s_[i_] == '"') {
                value = quoted();
            } else {   // a token; some servers leave URLs unquoted
                size_t b = i_;
                while (!at_end() && s_[i_] != ',' && !ows(s_[i_])) ++i_;
                value = std::string(s_.substr(b, i_ - b));
            }
            c.params.emplace(name, value);   // the first of a repeated name wins
            skip_ows();
            if (!at_end() && s_[i_] != ',') {   // garbage after a value: skip it
                while (!at_end() && s_[i_] != ',') ++i_;
            }
        }
    }

    std::string_view s_;
    size_t i_ = 0;
};

// RFC 3339: 2006-01-02T15:04:05[.frac](Z|+hh:mm|-hh:mm); nullopt when not
// that, or not in 1970 to 2099: system_clock counts nanoseconds in 64 bits,
// which end in 2262, and a token server's clock is not centuries off.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& s) {
    struct tm tm {};
    int y, mo, d, h, mi, sec;
    int n = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n < 19)
        return std::nullopt;
    size_t i = static_cast<size_t>(n);
    if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    }
    long offset = 0;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
        ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
        offset = (s[i] == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = ::timegm(&tm);
    if (t == -1) return std::nullopt;
    t -= offset;
    if (t < 0 || t >= 4102444800)   // 2100-01-01T00:00:00Z
        return std::nullopt;
    return std::chrono::system_clock::from_time_t(t);
}

std::string base64_decode(std::string_view s, bool& ok) {
    ok = false;
    if (s.empty() || s.size() % 4 != 0) return {};
    std::string out(s.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(s.data()),
                            static_cast<int>(s.size()));
    if (n < 0) return {};
    size_t pad = 0;
    if (s.back() == '=') ++pad;
    if (s.size() > 1 && s[s.size() - 2] == '=') ++pad;
    out.resize(static_cast<size_t>(n) - pad);
    ok = true;
    return out;
}

} // namespace

std::string AuthChallenge::param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
}

std::vector<AuthChallenge> parse_www_authenticate(std::string_view header) { return ChallengeParser(header).parse(); }

TokenResponse parse_token_response(std::string_view body, std::chrono::system_clock::time_point now,
                                   std::string_view what) {
    TokenResponse r;
    try {
        json::Document doc(body, "");
        auto root = doc.root();
        if (!root.is_object()) root.fail("expected a JSON object");
        if (auto v = root.find("token")) r.token = v->as_string();
        if (auto v = root.find("access_token"); v && !v->as_string().empty()) r.token = v->as_string();
        if (auto v = root.find("refresh_token")) r.refresh_token = v->as_string();
        int64_t expires_in = 0;
        if (auto v = root.find("expires_in")) expires_in = v->as_int64();
        std::optional<std::chrono::system_clock::time_point> issued;
        if (auto v = root.find("issued_at")) {
            issued = parse_rfc3339(v->as_string());
            if (!issued) v->fail("not an RFC 3339 time from 1970 to 2099");
        }
        if (r.token.empty()) throw Error(EBADMSG, "no token in the response");
        // The token spec's minimum, and a cap against absurd values.
        expires_in = std::clamp<int64_t>(expires_in, 60, 86400 * 365);
        auto use_for = std::chrono::seconds(expires_in * 9 / 10);
        auto until = (issued ? *issued : now) + use_for;
        auto left = std::chrono::duration_cast<std::chrono::seconds>(until - now);
        // issued_at from a skewed clock: count from now instead.
        if (left <= std::chrono::seconds(0) || left > use_for) left = use_for;
        r.lifetime = left;
    } catch (const Error& e) {
        throw Error(EBADMSG, std::string(what) + ": bad token response: " + e.context());
    }
    return r;
}

std::string TokenCache::get(const std::string& key, const std::function<TokenResponse()>& fetch) {
    std::shared_ptr<Entry> e;
    {
        std::lock_guard l(mu_);
        if (tokens_.size() > 256) {   // drop expired entries nobody is using
            auto now = std::chrono::steady_clock::now();
            for (auto it = tokens_.begin(); it != tokens_.end();) {
                std::unique_lock el(it->second->fetching, std::try_to_lock);
                bool stale = el.owns_lock() && it->second.use_count() == 1 && it->second->expires <= now;
                el = {};
                it = stale ? tokens_.erase(it) : std::next(it);
            }
        }
        auto& slot = tokens_[key];
        if (!slot) slot = std::make_shared<Entry>();
        e = slot;
    }
    std::lock_guard fl(e->fetching);
    auto now = std::chrono::steady_clock::now();
    if (!e->token.empty() && now < e->expires) return e->token;
    TokenResponse r = fetch();
    e->token = r.token;
    e->expires = std::chrono::steady_clock::now() + r.lifetime;
    return e->token;
}

void TokenCache::forget(const std::string& key, const std::string& token) {
    std::shared_ptr<Entry> e;
    {
        std::lock_guard l(mu_);
        auto it = tokens_.find(key);
        if (it == tokens_.end()) return;
        e = it->second;
    }
    std::lock_guard fl(e->fetching);
    if (e->token == token) e->token.clear();
}

std::optional<AuthChallenge> TokenCache::challenge(const std::string& host_url) const {
    std::lock_guard l(mu_);
    auto it = challenges_.find(host_url);
    if (it == challenges_.end()) return std::nullopt;
    return it->second;
}

void TokenCache::set_challenge(const std::string& host_url, const AuthChallenge& c) {
    std::lock_guard l(mu_);
    challenges_[host_url] = c;
}

std::shared_ptr<TokenCache> make_token_cache() { return std::make_shared<TokenCache>(); }

bool Credentials::empty() const {
    return username.empty() && password.empty() && auth.empty() && identity_token.empty() && registry_token.empty();
}

std::optional<std::pair<std::string, std::string>> basic_credentials(const Credentials& c) {
    if (!c.username.empty() || !c.password.empty()) return std::make_pair(c.username, c.password);
    if (c.auth.empty()) return std::nullopt;
    bool ok = false;
    std::string plain = base64_decode(c.auth, ok);
    auto colon = plain.find(':');
    if (!ok || colon == std::string::npos)
        throw Error(EINVAL, "credentials: auth is not the base64 of \"username:password\"");
    return std::make_pair(plain.substr(0, colon), plain.substr(colon + 1));
}

std::string base64_encode(std::string_view s) {
    std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(s.data()),
                            static_cast<int>(s.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

} // namespace berth::image
