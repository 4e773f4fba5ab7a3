// One HTTP exchange on libcurl, for the registry client: no redirects
// followed (the caller decides, and where Authorization may go), TLS from
// a RegistryHost, a deadline, cancellation and a stall timeout, and the
// body either streamed to a callback (2xx) or kept, up to a cap. Connections,
// DNS and TLS sessions are shared between threads through one HttpShare.
#pragma once

#include "hosts.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace berth::image {

class HttpShare {
public:
    HttpShare();
    ~HttpShare();
    HttpShare(const HttpShare&) = delete;
    HttpShare& operator=(const HttpShare&) = delete;
    void* handle() const;   // CURLSH*

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct HttpResponse {
    long status = 0;
    std::string reason;                                     // "Not Found"
    std::map<std::string, std::vector<std::string>> headers;   // names lower case
    std::string body;            // kept when the request had no on_data (or status is not 2xx)
    bool body_truncated = false;   // a non-2xx body beyond the kept part was dropped
    std::string redirect_url;    // absolute, for a 3xx with Location
    std::string header(const std::string& lower_name) const;   // the first value, or ""
};

// Why no response came back. Thrown by Http::perform as this type (not
// berth::Error) so the client can tell a host that is down from one that
// answered badly.
struct TransportError {
    enum Kind {
        connect,   // DNS, refused, unreachable, TLS handshake or certificate
        broken,    // reset, cut mid-body, stalled, empty reply: worth a retry
    } kind;
    std::string message;
};

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;   // "Name: value"
    std::string post_body;              // sent with POST
    const RegistryHost* tls = nullptr;  // CAs, client certs, skip_verify, dial timeout, proxy
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    std::function<bool()> cancelled;
    std::chrono::seconds stall_timeout{30};
    size_t keep_body_max = 64 << 10;   // the cap on a kept body; over it: on_too_big
    std::function<void(const HttpResponse&)> on_too_big;   // throws; unset: keep the first part, drop the rest
    // For a 2xx: on_start once the headers are in (may throw to refuse
    // the response), then on_data for each chunk (may throw).
    std::function<void(const HttpResponse&)> on_start;
    std::function<void(const char*, size_t)> on_data;
};

// Runs the exchange. Exceptions from the callbacks pass through; a passed
// deadline is Error(ETIMEDOUT), cancellation Error(ECANCELED); transport
// failures are TransportError.
HttpResponse http_perform(const HttpShare& share, const HttpRequest& req);

} // namespace berth::image
