// The OCI distribution client (registry.hpp): hosts in order, auth,
// redirects, manifests with a size cap and digest checks, blobs with resume.
#include "registry.hpp"

#include "auth.hpp"
#include "digest.hpp"
#include "error.hpp"
#include "hosts.hpp"
#include "http.hpp"
#include "image.hpp"
#include "json.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace berth::image {

namespace {

using Clock = std::chrono::steady_clock;
namespace media = spec::image::media;

constexpr int kMaxRedirects = 10;
constexpr uint64_t kFreeRetryProgress = 1 << 20;

// Schema 1 is listed so that a registry holding only that sends it and the
// error says so, instead of a bare 404.
const std::string kManifestAccept = "Accept: " + std::string(media::oci_index) + ", " + std::string(media::oci_manifest) +
                                    ", " + std::string(media::docker_list) + ", " + std::string(media::docker_manifest) +
                                    ", " + std::string(media::docker_schema1_signed) + ";q=0.1, " +
                                    std::string(media::docker_schema1) + ";q=0.1";

// A host's failure; how the host loop reacts depends on the kind.
struct HostError {
    enum Kind {
        connect,     // no connection: next host
        transient,   // 5xx, 429, reset, stall, short body: next host, and another round
        answer,      // the host answered no (404, 401, 403, bad content): final unless a mirror
    };
    int err;
    std::string msg;
    Kind kind;
};

std::string percent_encode(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// scheme://host[:port], lower case: where Authorization may be sent.
std::string origin_of(const std::string& url) {
    auto sep = url.find("://");
    if (sep == std::string::npos) return {};
    auto end = url.find_first_of("/?#", sep + 3);
    std::string o = url.substr(0, end);
    std::transform(o.begin(), o.end(), o.begin(), [](unsigned char c) { return std::tolower(c); });
    return o;
}

// The registry's own words from an error body ({"errors":[{code,message}]}).
std::string registry_error(const HttpResponse& r) {
    if (r.body.empty()) return {};
    try {
        json::Document doc(r.body, "");
        auto errs = doc.root().get("errors");
        std::string out;
        for (auto& e : errs.as_array()) {
            std::string code = e.find("code") ? e.get("code").as_string() : "";
            std::string msg = e.find("message") ? e.get("message").as_string() : "";
            if (!out.empty()) out += "; ";
            out += code.empty() ? msg : code + (msg.empty() ? "" : ": " + msg);
        }
        if (out.size() > 300) out = out.substr(0, 300) + "...";
        return out;
    } catch (const std::exception&) {
        return {};
    }
}

HostError status_failure(const std::string& host, const HttpResponse& r, const std::string& what) {
    std::string msg = host + ": " + what + ": " + std::to_string(r.status) + (r.reason.empty() ? "" : " " + r.reason);
    if (auto words = registry_error(r); !words.empty()) msg += " (" + words + ")";
    switch (r.status) {
    case 401: return {EKEYREJECTED, msg + ": the registry wants (other) credentials", HostError::answer};
    case 403: return {EACCES, msg, HostError::answer};
    case 404: return {ENOENT, msg, HostError::answer};
    case 400: return {EINVAL, msg, HostError::answer};
    case 408:
    case 429: return {EIO, msg, HostError::transient};
    default:
        if (r.status >= 500) return {EIO, msg, HostError::transient};
        if (r.status >= 300 && r.status < 400) return {EIO, msg + ": a redirect without a Location", HostError::answer};
        return {EIO, msg, HostError::answer};
    }
}

bool valid_tag(std::string_view t) {
    if (t.empty() || t.size() > 128) return false;
    for (char c : t)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
    return t.front() != '.' && t.front() != '-';
}

struct Auth {
    std::string header;   // "Bearer ..." / "Basic ..."; empty: none
    std::string key, token;   // the TokenCache entry it came from
};

} // namespace

struct RegistryClient::Impl {
    RegistryOptions o;
    std::shared_ptr<TokenCache> tokens;
    HttpShare share;
    std::optional<std::pair<std::string, std::string>> basic;
    std::string who;   // identifies the credentials in token cache keys

    explicit Impl(RegistryOptions opts) : o(std::move(opts)) {
        tokens = o.tokens ? o.tokens : make_token_cache();
        basic = basic_credentials(o.credentials);
        const auto& c = o.credentials;
        who = sha256_digest((basic ? basic->first + "\n" + basic->second : std::string("\n")) + "\n" + c.identity_token);
    }

    HttpRequest base_request(const RegistryHost& h) const {
        HttpRequest r;
        r.tls = &h;
        r.deadline = o.deadline;
        r.cancelled = o.cancelled;
        r.stall_timeout = o.stall_timeout;
        r.headers.push_back("User-Agent: " + o.user_agent);
        for (auto& [k, v] : h.headers) r.headers.push_back(k + ": " + v);
        return r;
    }

    static std::string base_url(const RegistryHost& h, const Reference& ref) {
        return h.scheme + "://" + h.host + h.api_prefix + "/" + ref.path;
    }
    // A mirror learns which registry is meant, as containerd tells it.
    static std::string ns_query(const RegistryHost& h, const Reference& ref) {
        return h.mirror ? "?ns=" + percent_encode(ref.domain) : "";
    }

    TokenResponse fetch_token(const RegistryHost& h, const std::string& realm, const std::string& service,
                              const std::vector<std::string>& scopes) {
        if (!realm.starts_with("http://") && !realm.starts_with("https://"))
            throw HostError{EBADMSG, h.host + ": bearer challenge with realm \"" + realm + "\" (an http(s) URL expected)",
                            HostError::answer};
        std::string what = "token from " + realm;
        auto send = [&](bool post) {
            HttpRequest r = base_request(h);
            std::string params;
            auto add = [&](const std::string& k, const std::string& v) {
                params += (params.empty() ? "" : "&") + k + "=" + percent_encode(v);
            };
            if (post) {
                // OAuth2 refresh_token grant, as docker and containerd send an identity token.
                add("grant_type", "refresh_token");
                add("refresh_token", o.credentials.identity_token);
                add("client_id", "berthd");
                if (!service.empty()) add("service", service);
                std::string joined;
                for (auto& s : scopes) joined += (joined.empty() ? "" : " ") + s;
                if (!joined.empty()) add("scope", joined);
                r.method = "POST";
                r.url = realm;
                r.post_body = params;
                r.headers.push_back("Content-Type: application/x-www-form-urlencoded; charset=utf-8");
            } else {
                if (!service.empty()) add("service", service);
                for (auto& s : scopes) add("scope", s);
                r.url = realm + (params.empty() ? "" : (realm.find('?') == std::string::npos ? "?" : "&") + params);
                if (basic) r.headers.push_back("Authorization: Basic " + base64_encode(basic->first + ":" + basic->second));
                else if (!o.credentials.identity_token.empty())
                    r.headers.push_back("Authorization: Basic " + base64_encode(":" + o.credentials.identity_token));
            }
            try {
                return http_perform(share, r);
            } catch (const TransportError& t) {
                throw HostError{EIO, h.host + ": " + what + ": " + t.message,
                                t.kind == TransportError::connect ? HostError::connect : HostError::transient};
            }
        };
        bool post = !o.credentials.identity_token.empty() && !basic;
        HttpResponse resp = send(post);
        // Token servers without the POST form answer these; try GET, as containerd does.
        if (post && (resp.status == 400 || resp.status == 401 || resp.status == 404 || resp.status == 405))
            resp = send(false);
        if (resp.status < 200 || resp.status >= 300) {
            HostError e = status_failure(h.host, resp, what);
            if (resp.status == 401) e.msg = h.host + ": " + what + ": 401: the credentials were refused";
            throw e;
        }
        try {
            return parse_token_response(resp.body, std::chrono::system_clock::now(), h.host + ": " + what);
        } catch (const Error& e) {
            throw HostError{EBADMSG, e.context(), HostError::answer};
        }
    }

    // For challenge c; its scope is added when it came with this request
    // (a remembered one may name another repository's).
    Auth authorize(const Reference& ref, const RegistryHost& h, const AuthChallenge& c, bool fresh) {
        if (c.scheme == "basic") {
            if (!basic)
                throw HostError{EKEYREJECTED, h.host + ": the registry wants a username and password (Basic auth); none given",
                                HostError::answer};
            return {"Basic " + base64_encode(basic->first + ":" + basic->second), "", ""};
        }
        if (c.scheme != "bearer")
            throw HostError{EKEYREJECTED, h.host + ": unsupported authentication scheme \"" + c.scheme + "\"",
                            HostError::answer};
        if (!o.credentials.registry_token.empty()) return {"Bearer " + o.credentials.registry_token, "", ""};
        std::string realm = c.param("realm"), service = c.param("service");
        if (realm.empty())
            throw HostError{EBADMSG, h.host + ": bearer challenge without a realm", HostError::answer};
        std::vector<std::string> scopes{"repository:" + ref.path + ":pull"};
        if (fresh)
            for (auto& s : split_scopes(c.param("scope")))
                if (std::find(scopes.begin(), scopes.end(), s) == scopes.end()) scopes.push_back(s);
        std::string key = realm + "\n" + service + "\n" + who;
        for (auto& s : scopes) key += "\n" + s;
        std::string token = tokens->get(key, [&] { return fetch_token(h, realm, service, scopes); });
        return {"Bearer " + token, key, token};
    }

    static std::vector<std::string> split_scopes(const std::string& s) {
        std::vector<std::string> out;
        size_t i = 0;
        while (i < s.size()) {
            auto j = s.find(' ', i);
            if (j == std::string::npos) j = s.size();
            if (j > i) out.push_back(s.substr(i, j - i));
            i = j + 1;
        }
        return out;
    }

    // What to send before any 401: a registry token, or what the host's
    // last challenge (remembered in the shared cache) calls for.
    Auth preemptive(const Reference& ref, const RegistryHost& h) {
        if (!o.credentials.registry_token.empty()) return {"Bearer " + o.credentials.registry_token, "", ""};
        if (auto c = tokens->challenge(h.url)) return authorize(ref, h, *c, false);
        return {};
    }

    // One request to a host, through redirects and one authentication
    // round trip. Authorization goes only to the host's own origin.
    HttpResponse exchange(const Reference& ref, const RegistryHost& h, const std::string& url0, const HttpRequest& proto) {
        Auth auth = preemptive(ref, h);
        const std::string home = origin_of(url0);
        std::string url = url0;
        bool authenticated_again = false;
        int redirects = 0;
        while (true) {
            HttpRequest r = proto;
            r.url = url;
            bool home_origin = origin_of(url) == home;
            if (!auth.header.empty() && home_origin) r.headers.push_back("Authorization: " + auth.header);
            HttpResponse resp;
            try {
                resp = http_perform(share, r);
            } catch (const TransportError& t) {
                throw HostError{EIO, h.host + ": " + t.message,
                                t.kind == TransportError::connect ? HostError::connect : HostError::transient};
            }
            if (resp.status >= 300 && resp.status < 400 && !resp.redirect_url.empty()) {
                if (++redirects > kMaxRedirects)
                    throw HostError{ELOOP, h.host + ": more than " + std::to_string(kMaxRedirects) + " redirects (the last to " +
                                               resp.redirect_url.substr(0, 200) + ")",
                                    HostError::answer};
                url = resp.redirect_url;
                continue;
            }
            if (resp.status == 401 && home_origin && !authenticated_again) {
                std::string all;
                if (auto it = resp.headers.find("www-authenticate"); it != resp.headers.end())
                    for (auto& v : it->second) all += (all.empty() ? "" : ", ") + v;
                auto challenges = parse_www_authenticate(all);
                const AuthChallenge* pick = nullptr;
                for (auto& c : challenges)
                    if (c.scheme == "bearer") pick = &c;
                if (!pick)
                    for (auto& c : challenges)
                        if (c.scheme == "basic") pick = &c;
                if (!pick) return resp;
                if (!auth.key.empty()) tokens->forget(auth.key, auth.token);
                tokens->set_challenge(h.url, *pick);
                auth = authorize(ref, h, *pick, true);
                authenticated_again = true;
                url = url0;
                redirects = 0;
                continue;
            }
            return resp;
        }
    }

    void backoff(int n, const Reference& ref, const std::vector<std::string>& failures) {
        auto until = Clock::now() + std::chrono::milliseconds(std::min(250 << std::min(n, 4), 4000));
        while (Clock::now() < until) {
            if (o.cancelled && o.cancelled()) throw Error(ECANCELED, ref.str() + ": cancelled");
            if (Clock::now() >= o.deadline)
                throw Error(ETIMEDOUT, ref.str() + ": deadline passed (" + (failures.empty() ? "" : failures.back()) + ")");
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    template <class Fn>
    auto over_hosts(const Reference& ref, const std::string& capability, const std::string& what, Fn&& attempt,
                    const std::function<uint64_t()>& progress = {}) -> decltype(attempt(std::declval<RegistryHost&>())) {
        std::vector<RegistryHost> hosts;
        for (auto& h : with_context(ref.str(), [&] { return registry_hosts(o.config_dir, ref.domain); }))
            if (h.can(capability)) hosts.push_back(std::move(h));
        if (hosts.empty())
            throw Error(EHOSTUNREACH, ref.str() + ": no host of " + ref.domain + " has the \"" + capability +
                                          "\" capability (see its hosts.toml)");
        int retries_left = o.retries;
        for (int round = 0;; ++round) {
            std::vector<std::string> failures;
            HostError last{0, "", HostError::connect};
            bool retry = false;
            uint64_t before = progress ? progress() : 0;
            for (auto& h : hosts) {
                try {
                    return attempt(h);
                } catch (const HostError& e) {
                    failures.push_back(e.msg);
                    if (e.kind == HostError::answer && !h.mirror) throw Error(e.err, ref.str() + ": " + e.msg);
                    if (e.kind == HostError::transient) retry = true;
                    last = e;
                } catch (Error& e) {
                    e.prefix(ref.str() + ": " + h.host + ": " + what);
                    throw;
                }
            }
            std::string msg = ref.str() + ": ";
            for (size_t i = 0; i < failures.size(); ++i) msg += (i ? "; " : "") + failures[i];
            bool moved = progress && progress() >= before + kFreeRetryProgress;
            // The server (last) decides the errno: unreachable, or what it said.
            if (!retry || (!moved && retries_left-- <= 0))
                throw Error(last.kind == HostError::connect ? EHOSTUNREACH : last.err, msg);
            backoff(round, ref, failures);
        }
    }
};

RegistryClient::RegistryClient(RegistryOptions o) : impl_(std::make_unique<Impl>(std::move(o))) {}
RegistryClient::~RegistryClient() = default;

Fetched RegistryClient::get_manifest(const Reference& ref, const std::string& tag_or_digest) {
    bool by_digest = tag_or_digest.find(':') != std::string::npos;
    if (by_digest) check_digest(tag_or_digest, ref.str() + ": manifest");
    else if (!valid_tag(tag_or_digest))
        throw Error(EINVAL, ref.str() + ": invalid tag \"" + tag_or_digest.substr(0, 200) + "\"");
    const std::string what = "manifest " + tag_or_digest;
    auto& I = *impl_;
    return I.over_hosts(ref, by_digest ? "pull" : "resolve", what, [&](const RegistryHost& h) {
        HttpRequest r = I.base_request(h);
        r.headers.push_back(kManifestAccept);
        r.keep_body_max = I.o.max_manifest_bytes;
        r.on_too_big = [&](const HttpResponse&) {
            throw HostError{EFBIG, h.host + ": " + what + ": larger than " + std::to_string(I.o.max_manifest_bytes) + " bytes",
                            HostError::answer};
        };
        HttpResponse resp = I.exchange(ref, h, Impl::base_url(h, ref) + "/manifests/" + tag_or_digest + Impl::ns_query(h, ref), r);
        if (resp.status < 200 || resp.status >= 300) throw status_failure(h.host, resp, what);
        Fetched f;
        f.content_type = resp.header("content-type");
        f.body = std::move(resp.body);
        f.digest = sha256_digest(f.body);
        if (by_digest && f.digest != tag_or_digest)
            throw HostError{EBADMSG, h.host + ": " + what + ": the content's digest is " + f.digest, HostError::answer};
        if (auto said = resp.header("docker-content-digest"); valid_digest(said) && said != f.digest)
            throw HostError{EBADMSG, h.host + ": " + what + ": Docker-Content-Digest " + said + " but the content's digest is " + f.digest,
                            HostError::answer};
        if (spec::image::classify(f.content_type, f.body) == spec::image::DocKind::schema1)
            throw HostError{EINVAL, h.host + ": " + what + " is a Docker schema 1 manifest, which is not supported "
                                    "(deprecated by Docker; push the image again with a current client)",
                            HostError::answer};
        return f;
    });
}

void RegistryClient::get_blob(const Reference& ref, const std::string& digest, int64_t size, BlobSink& sink) {
    check_digest(digest, ref.str() + ": blob");
    const std::string what = "blob " + digest;
    auto& I = *impl_;
    const bool capped = size >= 0;
    const uint64_t want = capped ? static_cast<uint64_t>(size) : 0;
    I.over_hosts(
        ref, "pull", what,
        [&](const RegistryHost& h) {
            uint64_t off = sink.offset();
            if (capped && off > want) {
                sink.restart();
                off = 0;
            }
            uint64_t start = off, got = 0;
            auto verify = [&] {
                std::string d = sink.digest();
                if (!d.empty() && d != digest) {
                    sink.restart();
                    throw HostError{EBADMSG, h.host + ": " + what + ": the content's digest is " + d, HostError::answer};
                }
            };
            if (capped && off == want && off > 0) return verify();
            HttpRequest r = I.base_request(h);
            if (off > 0) r.headers.push_back("Range: bytes=" + std::to_string(off) + "-");
            r.on_start = [&](const HttpResponse& resp) {
                start = 0;
                if (resp.status == 206 && off > 0) {
                    // Content-Range: bytes START-END/TOTAL must start where we are.
                    std::string cr = resp.header("content-range");
                    unsigned long long a = 0;
                    if (std::sscanf(cr.c_str(), "bytes %llu-", &a) != 1 || a != off) {
                        sink.restart();
                        throw HostError{EIO, h.host + ": " + what + ": asked for bytes from " + std::to_string(off) +
                                                 ", got Content-Range \"" + cr.substr(0, 100) + "\"",
                                        HostError::transient};
                    }
                    start = off;
                } else if (off > 0) {
                    sink.restart();   // the whole blob again
                }
                std::string cl = resp.header("content-length");
                if (capped && !cl.empty()) {
                    unsigned long long n = std::strtoull(cl.c_str(), nullptr, 10);
                    if (start + n > want)
                        throw HostError{EFBIG, h.host + ": " + what + ": " + std::to_string(start + n) +
                                                   " bytes offered, more than its size " + std::to_string(want),
                                        HostError::answer};
                }
            };
            r.on_data = [&](const char* p, size_t n) {
                if (capped && start + got + n > want) {
                    sink.restart();
                    throw HostError{EFBIG, h.host + ": " + what + ": more than its size of " + std::to_string(want) + " bytes",
                                    HostError::answer};
                }
                sink.write(p, n);
                got += n;
            };
            HttpResponse resp = I.exchange(ref, h, Impl::base_url(h, ref) + "/blobs/" + digest + Impl::ns_query(h, ref), r);
            if (resp.status == 416 && off > 0) {
                sink.restart();
                throw HostError{EIO, h.host + ": " + what + ": range from " + std::to_string(off) + " not satisfiable",
                                HostError::transient};
            }
            if (resp.status < 200 || resp.status >= 300) throw status_failure(h.host, resp, what);
            if (capped && start + got < want)
                throw HostError{EIO, h.host + ": " + what + ": the body ended after " + std::to_string(start + got) + " of " +
                                         std::to_string(want) + " bytes",
                                HostError::transient};
            verify();
        },
        [&] { return sink.offset(); });
}

} // namespace berth::image
