#include "status.hpp"

#include "error.hpp"
#include "log.hpp"

#include <cerrno>

namespace berth::cri {

grpc::Status to_status(const std::exception& e) {
    int err = 0;
    if (auto* be = dynamic_cast<const Error*>(&e)) err = be->err();
    grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
    switch (err) {
    case ENOENT: code = grpc::StatusCode::NOT_FOUND; break;
    case EINVAL: code = grpc::StatusCode::INVALID_ARGUMENT; break;
    case EKEYREJECTED: code = grpc::StatusCode::UNAUTHENTICATED; break;
    case EACCES:
    case EPERM: code = grpc::StatusCode::PERMISSION_DENIED; break;
    case EEXIST: code = grpc::StatusCode::ALREADY_EXISTS; break;
    // Content that is not what it claims (a digest mismatch, a truncated
    // or corrupt layer stream): corrupt data, not berthd's own fault.
    case EBADMSG: code = grpc::StatusCode::DATA_LOSS; break;
    case ETIMEDOUT: code = grpc::StatusCode::DEADLINE_EXCEEDED; break;
    case ECANCELED: code = grpc::StatusCode::CANCELLED; break;
    case ENOSYS:
    case ENOTSUP: code = grpc::StatusCode::UNIMPLEMENTED; break;
    case ENOSPC:
    case EFBIG: code = grpc::StatusCode::RESOURCE_EXHAUSTED; break;   // EFBIG: over a size cap
    case EBUSY: code = grpc::StatusCode::FAILED_PRECONDITION; break;
    case EHOSTUNREACH:
    case ECONNREFUSED:
    case EIO:     // the registry failed (5xx, broken transfers) after the retries
    case ELOOP:   // the registry redirects in a loop
        code = grpc::StatusCode::UNAVAILABLE;
        break;
    default: code = err ? grpc::StatusCode::INTERNAL : grpc::StatusCode::UNKNOWN; break;
    }
    return grpc::Status(code, e.what());
}

grpc::Status guarded(const char* method, const std::function<void()>& work) {
    try {
        work();
        return grpc::Status::OK;
    } catch (const std::exception& e) {
        auto s = to_status(e);
        if (s.error_code() != grpc::StatusCode::NOT_FOUND) log::error(std::string(method) + ": " + e.what());
        return s;
    }
}

} // namespace berth::cri
