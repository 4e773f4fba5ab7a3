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
//   EINVAL        bad reference, schema 1, bad digest/size,  -> InvalidArgument
//                 a 400 from the registry
//   EFBIG         a manifest over max_manifest_bytes, a blob over its size
//                                                            -> ResourceExhausted
//   EBADMSG       content that does not match its digest     -> DataLoss
//   EBADMSG       also: a token endpoint's answer that is not a token
//   ELOOP         too many redirects (more than 10)          -> Unavailable
//   ETIMEDOUT     the deadline passed                        -> DeadlineExceeded
//   ECANCELED     cancelled                                  -> Cancelled
//   EHOSTUNREACH  the server (the last host) failed to connect (refused, DNS,
//                 TLS handshake or certificate) and no mirror served it; the
//                 message has each host's error
//   EIO           5xx, 429 or a broken transfer, still so after the retries,
//                 or another unexpected status                -> Unavailable
// Messages name the reference and the host that answered.
//
// Hosts are tried in order (hosts.hpp): a host that does not connect, fails
// transiently or is a mirror that answers 404/401/403 (or bad content) passes
// to the next; the server's own 401/403/404 are final. Authorization is never
// sent to another host on a redirect. The credentials go to every host of
// the registry's hosts.toml and to the token realms they name, as
// containerd sends them. A RegistryClient may be used from several threads
// at once; connections are reused within one client.
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
    // "sha256:<hex>" of the bytes written since the last restart(), or ""
    // for a sink that does not hash. get_blob asks once all `size` bytes
    // are in (so a sink may finish its hasher then) and checks it: a
    // mismatch restarts the sink and is EBADMSG (a mirror's bad copy
    // passes to the next host).
    virtual std::string digest() { return {}; }
};

struct Fetched {
    std::string content_type;   // as the registry sent it
    std::string digest;         // sha256 of body (verified against the reference's digest if it had one)
    std::string body;
};

// Bearer tokens, shared by every pull of a daemon (thread-safe; auth.hpp).
class TokenCache;
std::shared_ptr<TokenCache> make_token_cache();

struct RegistryOptions {
    std::shared_ptr<TokenCache> tokens;   // null: a private cache
    std::string config_dir;     // --registry-config: DIR/<host>/hosts.toml; empty: none
    Credentials credentials;
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    std::function<bool()> cancelled;   // polled while transferring; may be empty
    size_t max_manifest_bytes = 4 << 20;
    int retries = 3;                   // rounds over the hosts after transient failures (blobs resume with
                                       // Range; a round that moved 1 MiB or more is not counted)
    std::chrono::seconds stall_timeout{30};   // a response below 1 KiB/s for this long is dropped (and retried)
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
    // `size` bytes are accepted (size < 0: unknown, no cap). The digest is
    // checked here when the sink hashes (BlobSink::digest), else by the
    // caller. Retries transient failures (connection reset, 5xx, short
    // reads, stalls) with Range.
    void get_blob(const Reference& ref, const std::string& digest, int64_t size, BlobSink& sink);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace berth::image
