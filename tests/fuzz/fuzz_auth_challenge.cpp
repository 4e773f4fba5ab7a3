// libFuzzer target for what a registry's authentication answers
// (cri/registry/auth.hpp). Every input is tried as:
//   - a WWW-Authenticate value: parse_www_authenticate never throws; the
//     schemes and parameter names it returns are non-empty lower-case
//     tokens; the challenges written back (`scheme k="v", ...`, values
//     quoted with backslash escapes) parse to the same challenges;
//   - a token server's response body: parse_token_response rejects with
//     berth::Error, or answers a token with a lifetime between 1 s and 90%
//     of a year;
//   - a CRI AuthConfig's `auth`: basic_credentials rejects with
//     berth::Error or splits it at the first ':'; and the input itself as a
//     password, base64-encoded with a user, decodes back unchanged.
// Anything else (a sanitizer report, another exception) is a finding.
#include "auth.hpp"
#include "error.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace berth::image;

namespace {

[[noreturn]] void finding(const std::string& what, const std::string& a, const std::string& b = {}) {
    std::fprintf(stderr, "fuzz_auth_challenge: %s\n--- first:\n%s\n--- second:\n%s\n", what.c_str(), a.c_str(),
                 b.c_str());
    __builtin_trap();
}

bool verbose() {
    static const bool v = std::getenv("FUZZ_VERBOSE") != nullptr;   // why a seed is refused
    return v;
}

bool lower_token(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

std::string quote(const std::string& v) {
    std::string q = "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') q += '\\';
        q += c;
    }
    return q + "\"";
}

std::string write(const std::vector<AuthChallenge>& cs) {
    std::string out;
    for (const auto& c : cs) {
        if (!out.empty()) out += ", ";
        out += c.scheme;
        bool first = true;
        for (const auto& [k, v] : c.params) {
            out += first ? " " : ", ";
            out += k + "=" + quote(v);
            first = false;
        }
    }
    return out;
}

bool same(const std::vector<AuthChallenge>& a, const std::vector<AuthChallenge>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].scheme != b[i].scheme || a[i].params != b[i].params) return false;
    return true;
}

void challenges(const std::string& header) {
    std::vector<AuthChallenge> cs = parse_www_authenticate(header);
    for (const auto& c : cs) {
        if (!lower_token(c.scheme)) finding("scheme \"" + c.scheme + "\" is not a lower-case token", header);
        for (const auto& [k, v] : c.params)
            if (!lower_token(k)) finding("parameter name \"" + k + "\" is not a lower-case token", header);
    }
    std::string text = write(cs);
    std::vector<AuthChallenge> back = parse_www_authenticate(text);
    if (!same(cs, back)) finding("written back, the challenges parse differently", header, text + "\n" + write(back));
}

void token_response(const std::string& body) {
    // A fixed now: 2024-06-01T00:00:00Z.
    const auto now = std::chrono::system_clock::from_time_t(1717200000);
    TokenResponse r;
    try {
        r = parse_token_response(body, now, "fuzz");
    } catch (const berth::Error& e) {
        if (verbose()) std::fprintf(stderr, "token response rejected: %s\n", e.what());
        return;
    }
    if (r.token.empty()) finding("accepted a response without a token", body);
    if (r.lifetime.count() < 1 || r.lifetime.count() > 86400LL * 365 * 9 / 10)
        finding("token lifetime " + std::to_string(r.lifetime.count()) + " s", body);
}

void credentials(const std::string& input) {
    Credentials c;
    c.auth = input;
    try {
        auto up = basic_credentials(c);
        if (!up && !input.empty()) finding("a non-empty auth gave no credentials", input);
    } catch (const berth::Error& e) {
        if (verbose()) std::fprintf(stderr, "auth rejected: %s\n", e.what());
    }
    Credentials enc;
    enc.auth = base64_encode("user:" + input);
    std::optional<std::pair<std::string, std::string>> up;
    try {
        up = basic_credentials(enc);
    } catch (const berth::Error& e) {
        finding(std::string("base64_encode's output does not decode: ") + e.what(), input, enc.auth);
    }
    if (!up || up->first != "user" || up->second != input)
        finding("user:password does not survive base64", input, up ? up->first + ":" + up->second : "(none)");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string input(reinterpret_cast<const char*>(data), size);
    challenges(input);
    token_response(input);
    credentials(input);
    return 0;
}
