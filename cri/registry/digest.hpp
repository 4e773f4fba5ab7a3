// Content digests ("sha256:<64 lowercase hex>"), computed with OpenSSL's
// EVP interface while bytes stream, never over a whole blob in memory.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace berth::image {

// True for "sha256:" followed by exactly 64 lowercase hex digits. Other
// algorithms (sha512) are refused as unsupported by the callers.
bool valid_digest(std::string_view d);
// Throws Error(EINVAL, "<what>: invalid digest \"...\"") unless valid.
void check_digest(std::string_view d, std::string_view what);
// The 64 hex digits of a valid digest.
std::string digest_hex(std::string_view d);

class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;
    void update(const void* data, size_t n);
    // "sha256:<hex>"; the hasher is spent afterwards.
    std::string finish();

private:
    struct Ctx;
    std::unique_ptr<Ctx> ctx_;
};

std::string sha256_digest(std::string_view data);   // "sha256:<hex>"

} // namespace berth::image
