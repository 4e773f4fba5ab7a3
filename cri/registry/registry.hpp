// An OCI distribution client on libcurl: what a pull needs from a registry
// (GET manifests and blobs), through the hosts a registry config dir names
// (containerd's hosts.toml layout, hosts.hpp), with authentication (Basic,
// and Bearer tokens from the WWW-Authenticate challenge, cached per realm,
// service and scope until they expire) and TLS (system CAs, per-host CAs
// and client certificates, skip_verify). Registries on localhost,
// 127.0.0.0/8 and ::1 speak plain HTTP unless configured otherwise.
//
// Errors are berth::Error with an errno the gRPC layer maps to a code:
//   ENOENT        404, or the reference names nothing        -> NotFound
//   EKEYREJECTED  401 (no or wrong credentials)              -> Unauthenticated
//   EACCES        403                                        -> PermissionDenied
//   EINVAL        bad reference, schema 1, bad digest/size   -> InvalidArgument
//   EFBIG         a manifest over max_manifest_bytes, a blob over its size
//   EBADMSG       content that does not match its digest
//   ELOOP         too many redirects
//   ETIMEDOUT     the deadline passed                        -> DeadlineExceeded
//   ECANCELED     cancelled                                  -> Cancelled
//   EHOSTUNREACH  every host failed to connect (the last error in the message)
// Messages name the reference and the host that answered.
#pragma once

#include "reference.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace berth::image {

// CRI AuthConfig's fields: username/password, auth (base64 "user:pass"),
// identity_token (an OAuth2 refresh token for the token endpoint),
// registry_token (a bearer token used as is).
struct Credentials {
    std::string username, password, auth, identity_token, registry_token;
    bool empty() const;
};

// Where bytes of a blob go. A pull resumes a broken transfer from offset()
// with an HTTP Range request; a server that ignores Range makes the client
// call restart() and send everything again.
class BlobSink {
public:
    virtual ~BlobSink() = default;
    virtual uint64_t offset() const = 0;
    virtual void write(const char* data, size_t n) = 0;
    virtual void restart() = 0;
};

struct Fetched {
    std::string content_type;   // as the registry sent it
    std::string digest;         // sha256 of body (verified against the reference's digest if it had one)
    std::string body;
};

// Bearer tokens, shared by every pull of a daemon (thread-safe).
class TokenCache;
std::shared_ptr<TokenCache> make_token_cache();

struct RegistryOptions {
    std::shared_ptr<TokenCache> tokens;   // null: a private cache
    std::string config_dir;     // --registry-config: DIR/<host>/hosts.toml; empty: none
    Credentials credentials;
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    std::function<bool()> cancelled;   // polled while transferring; may be empty
    size_t max_manifest_bytes = 4 << 20;
    int retries = 3;                   // per blob, for transient failures, with Range resume
    std::string user_agent = "berthd";
};

class RegistryClient {
public:
    explicit RegistryClient(RegistryOptions o);
    ~RegistryClient();
    RegistryClient(const RegistryClient&) = delete;
    RegistryClient& operator=(const RegistryClient&) = delete;

    // GET /v2/<path>/manifests/<tag_or_digest> with Accept for OCI and
    // Docker schema 2 manifests and indexes. The body is capped at
    // max_manifest_bytes; a digest in the request is verified.
    Fetched get_manifest(const Reference& ref, const std::string& tag_or_digest);

    // GET /v2/<path>/blobs/<digest> into sink, from sink.offset(); at most
    // `size` bytes are accepted. The caller verifies the digest (the sink
    // hashes as it writes). Retries transient failures (connection reset,
    // 5xx, short reads) with Range.
    void get_blob(const Reference& ref, const std::string& digest, int64_t size, BlobSink& sink);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace berth::image
