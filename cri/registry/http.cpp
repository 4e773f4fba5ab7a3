// One HTTP exchange on libcurl (http.hpp).
#include "http.hpp"

#include "error.hpp"
#include "file_util.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <exception>
#include <mutex>

namespace berth::image {

namespace {

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error(ENOMEM, "libcurl: global init failed");
    });
}

struct Slist {
    curl_slist* l = nullptr;
    ~Slist() { curl_slist_free_all(l); }
    void add(const std::string& s) {
        curl_slist* n = curl_slist_append(l, s.c_str());
        if (!n) throw Error(ENOMEM, "libcurl: out of memory");
        l = n;
    }
};

struct Exchange {
    const HttpRequest& req;
    CURL* h = nullptr;
    HttpResponse resp;
    bool begun = false;
    bool streaming = false;
    bool dropped_rest = false;   // a kept body hit its cap and the rest was refused
    std::exception_ptr error;
};

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
    return std::string(s);
}

size_t on_header(char* b, size_t size, size_t n, void* ud) {
    auto* x = static_cast<Exchange*>(ud);
    std::string_view line(b, size * n);
    if (line.starts_with("HTTP/")) {   // a new response (after a 1xx): start over
        x->resp.headers.clear();
        auto sp = line.find(' ');
        if (sp != std::string_view::npos) {
            auto rest = line.substr(sp + 1);
            auto sp2 = rest.find(' ');
            x->resp.reason = sp2 == std::string_view::npos ? "" : trim(rest.substr(sp2 + 1));
        }
        return line.size();
    }
    auto colon = line.find(':');
    if (colon != std::string_view::npos && colon > 0) {
        std::string name(line.substr(0, colon));
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        x->resp.headers[name].push_back(trim(line.substr(colon + 1)));
    }
    return line.size();
}

constexpr size_t kErrorBodyMax = 16 << 10;

// The headers are complete once the first body byte (or the end) arrives.
void begin(Exchange& x) {
    x.begun = true;
    curl_easy_getinfo(x.h, CURLINFO_RESPONSE_CODE, &x.resp.status);
    bool ok = x.resp.status >= 200 && x.resp.status < 300;
    if (ok && x.req.on_data) {
        if (x.req.on_start) x.req.on_start(x.resp);
        x.streaming = true;
    } else if (ok) {
        curl_off_t len = -1;
        curl_easy_getinfo(x.h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
        if (len > 0 && static_cast<uint64_t>(len) > x.req.keep_body_max && x.req.on_too_big) x.req.on_too_big(x.resp);
    }
}

size_t on_body(char* p, size_t size, size_t n, void* ud) {
    auto* x = static_cast<Exchange*>(ud);
    size_t len = size * n;
    try {
        if (!x->begun) begin(*x);
        if (x->streaming) {
            x->req.on_data(p, len);
            return len;
        }
        bool ok = x->resp.status >= 200 && x->resp.status < 300;
        size_t cap = ok ? x->req.keep_body_max : kErrorBodyMax;
        if (x->resp.body.size() + len > cap) {
            if (ok && x->req.on_too_big) x->req.on_too_big(x->resp);
            x->resp.body.append(p, cap - x->resp.body.size());
            x->resp.body_truncated = true;
            x->dropped_rest = true;
            return 0;   // stop reading it
        }
        x->resp.body.append(p, len);
        return len;
    } catch (...) {
        x->error = std::current_exception();
        return 0;
    }
}

int on_progress(void* ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* x = static_cast<Exchange*>(ud);
    try {
        if (x->req.cancelled && x->req.cancelled()) throw Error(ECANCELED, "cancelled");
        if (std::chrono::steady_clock::now() >= x->req.deadline) throw Error(ETIMEDOUT, "deadline passed");
    } catch (...) {
        x->error = std::current_exception();
        return 1;
    }
    return 0;
}

// host[:port] of scheme://host[:port]/...
std::string url_host(const std::string& url) {
    auto sep = url.find("://");
    if (sep == std::string::npos) return {};
    auto end = url.find_first_of("/?#", sep + 3);
    std::string hp = url.substr(sep + 3, end == std::string::npos ? std::string::npos : end - sep - 3);
    if (auto at = hp.rfind('@'); at != std::string::npos) hp = hp.substr(at + 1);
    return hp;
}

template <class T>
void setopt(CURL* h, CURLoption o, T v) {
    if (CURLcode c = curl_easy_setopt(h, o, v); c != CURLE_OK)
        throw Error(EINVAL, std::string("libcurl: setting an option failed: ") + curl_easy_strerror(c));
}

bool connect_failure(CURLcode c) {
    switch (c) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_USE_SSL_FAILED:
        return true;
    default:
        return false;
    }
}

} // namespace

struct HttpShare::Impl {
    CURLSH* sh = nullptr;
    std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
};

HttpShare::HttpShare() : impl_(std::make_unique<Impl>()) {
    global_init();
    impl_->sh = curl_share_init();
    if (!impl_->sh) throw Error(ENOMEM, "libcurl: share init failed");
    auto lock = [](CURL*, curl_lock_data d, curl_lock_access, void* ud) {
        static_cast<Impl*>(ud)->locks[d].lock();
    };
    auto unlock = [](CURL*, curl_lock_data d, void* ud) { static_cast<Impl*>(ud)->locks[d].unlock(); };
    curl_share_setopt(impl_->sh, CURLSHOPT_LOCKFUNC, static_cast<curl_lock_function>(lock));
    curl_share_setopt(impl_->sh, CURLSHOPT_UNLOCKFUNC, static_cast<curl_unlock_function>(unlock));
    curl_share_setopt(impl_->sh, CURLSHOPT_USERDATA, impl_.get());
    curl_share_setopt(impl_->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(impl_->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(impl_->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
}

HttpShare::~HttpShare() { curl_share_cleanup(impl_->sh); }

void* HttpShare::handle() const { return impl_->sh; }

std::string HttpResponse::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() || it->second.empty() ? std::string() : it->second.front();
}

HttpResponse http_perform(const HttpShare& share, const HttpRequest& req) {
    global_init();
    auto now = std::chrono::steady_clock::now();
    if (req.cancelled && req.cancelled()) throw Error(ECANCELED, "cancelled");
    if (now >= req.deadline) throw Error(ETIMEDOUT, "deadline passed");

    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy(curl_easy_init(), &curl_easy_cleanup);
    if (!easy) throw Error(ENOMEM, "libcurl: easy init failed");
    CURL* h = easy.get();
    Exchange x{req};
    x.h = h;
    char errbuf[CURL_ERROR_SIZE] = "";

    setopt(h, CURLOPT_SHARE, static_cast<CURLSH*>(share.handle()));
    setopt(h, CURLOPT_URL, req.url.c_str());
    setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    setopt(h, CURLOPT_NOSIGNAL, 1L);
    setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    setopt(h, CURLOPT_BUFFERSIZE, 256L << 10);
    setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    setopt(h, CURLOPT_HEADERDATA, &x);
    setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    setopt(h, CURLOPT_WRITEDATA, &x);
    setopt(h, CURLOPT_NOPROGRESS, 0L);
    setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    setopt(h, CURLOPT_XFERINFODATA, &x);
    // A response that trickles (slow-loris) or stops is dropped after
    // stall_timeout below 1 KiB/s; the caller retries or moves on.
    setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(std::max<int64_t>(1, req.stall_timeout.count())));
    auto dial = std::chrono::milliseconds(30000);
    if (req.tls) dial = req.tls->dial_timeout;
    if (req.deadline != std::chrono::steady_clock::time_point::max()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(req.deadline - now) + std::chrono::milliseconds(1);
        setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
        dial = std::min(dial, left);
    }
    setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(dial.count()));

    if (req.method == "POST") {
        setopt(h, CURLOPT_POST, 1L);
        setopt(h, CURLOPT_POSTFIELDS, req.post_body.c_str());
        setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.post_body.size()));
    } else if (req.method != "GET") {
        setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    Slist hdrs;
    for (auto& s : req.headers) hdrs.add(s);
    hdrs.add("Expect:");   // no 100-continue round trip for the token POST
    setopt(h, CURLOPT_HTTPHEADER, hdrs.l);

    std::string ca_pem;
    if (const RegistryHost* t = req.tls) {
        if (!t->ca_files.empty()) {
            // Added to the system CAs (libcurl loads both the blob and its
            // default bundle), as containerd adds them to the system pool.
            for (auto& f : t->ca_files) {
                ca_pem += with_context("registry host " + t->url + ": ca", [&] { return read_file(f); });
                ca_pem += "\n";
            }
            curl_blob blob{ca_pem.data(), ca_pem.size(), CURL_BLOB_NOCOPY};
            setopt(h, CURLOPT_CAINFO_BLOB, &blob);
        }
        if (!t->client_certs.empty()) {
            // libcurl presents one client certificate: the first pair.
            setopt(h, CURLOPT_SSLCERT, t->client_certs.front().first.c_str());
            if (!t->client_certs.front().second.empty()) setopt(h, CURLOPT_SSLKEY, t->client_certs.front().second.c_str());
        }
        if (t->skip_verify) {
            setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
            setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (!t->proxy.empty()) setopt(h, CURLOPT_PROXY, t->proxy.c_str());
    }
    // Like Go's ProxyFromEnvironment (containerd's): loopback is never
    // sent through an http_proxy from the environment.
    if ((!req.tls || req.tls->proxy.empty()) && is_loopback_host(url_host(req.url))) setopt(h, CURLOPT_PROXY, "");

    CURLcode rc = curl_easy_perform(h);
    if (x.error) std::rethrow_exception(x.error);
    if (rc == CURLE_WRITE_ERROR && x.dropped_rest) rc = CURLE_OK;
    if (rc == CURLE_OK) {
        if (!x.begun) begin(x);   // no body at all
        char* loc = nullptr;
        if (x.resp.status >= 300 && x.resp.status < 400 && curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK &&
            loc)
            x.resp.redirect_url = loc;
        return std::move(x.resp);
    }
    std::string msg = errbuf[0] ? trim(errbuf) : curl_easy_strerror(rc);
    if (rc == CURLE_OPERATION_TIMEDOUT && std::chrono::steady_clock::now() >= req.deadline)
        throw Error(ETIMEDOUT, "deadline passed");
    long sent = 0;   // bytes of request sent: 0 means it never got connected
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
    // A new TLS connection that fails before any byte of an answer was
    // refused in the handshake: TLS 1.3 servers refuse a client certificate
    // after the client thinks it is done, so the client sees an alert, or a
    // reset, on its first write or read. Not a break worth a retry.
    long fresh = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &fresh);
    bool tls_refused = (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING) && fresh > 0 &&
                       x.resp.headers.empty() && !x.begun && req.url.starts_with("https://");
    if (tls_refused && msg.find("alert") == std::string::npos)
        msg += " (the TLS connection closed before any answer: does the registry want a client certificate?)";
    if (connect_failure(rc) || tls_refused || (rc == CURLE_OPERATION_TIMEDOUT && sent == 0))
        throw TransportError{TransportError::connect, msg};
    if (rc == CURLE_OPERATION_TIMEDOUT)
        msg = "no progress for " + std::to_string(req.stall_timeout.count()) + " s (" + msg + ")";
    throw TransportError{TransportError::broken, msg};
}

} // namespace berth::image
