#include "digest.hpp"

#include "error.hpp"

#include <openssl/evp.h>

namespace berth::image {

namespace {
constexpr std::string_view kPrefix = "sha256:";

std::string hex(const unsigned char* p, size_t n) {
    static const char* d = "0123456789abcdef";
    std::string s(n * 2, '0');
    for (size_t i = 0; i < n; ++i) {
        s[2 * i] = d[p[i] >> 4];
        s[2 * i + 1] = d[p[i] & 15];
    }
    return s;
}
} // namespace

bool valid_digest(std::string_view d) {
    if (d.size() != kPrefix.size() + 64 || !d.starts_with(kPrefix)) return false;
    for (char c : d.substr(kPrefix.size()))
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

void check_digest(std::string_view d, std::string_view what) {
    if (!valid_digest(d))
        throw Error(EINVAL, std::string(what) + ": invalid digest \"" + std::string(d.substr(0, 100)) +
                                "\" (sha256:<64 lowercase hex digits> expected)");
}

std::string digest_hex(std::string_view d) {
    check_digest(d, "digest");
    return std::string(d.substr(kPrefix.size()));
}

struct Sha256::Ctx {
    EVP_MD_CTX* md = nullptr;
    ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
    ctx_->md = EVP_MD_CTX_new();
    if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1)
        throw Error(ENOMEM, "sha256: cannot initialise OpenSSL's digest");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t n) {
    if (n && EVP_DigestUpdate(ctx_->md, data, n) != 1) throw Error(EIO, "sha256: digest update failed");
}

std::string Sha256::finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (EVP_DigestFinal_ex(ctx_->md, out, &len) != 1) throw Error(EIO, "sha256: digest final failed");
    return std::string(kPrefix) + hex(out, len);
}

std::string sha256_digest(std::string_view data) {
    Sha256 h;
    h.update(data.data(), data.size());
    return h.finish();
}

} // namespace berth::image
