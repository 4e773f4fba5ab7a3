// A service error with its ttrpc (gRPC) status code, for what an errno
// cannot say (FailedPrecondition, a NotFound naming the id). The services
// throw it; TaskService::handle turns it into the call's status.
#pragma once

#include "ttrpc.hpp"

#include <string>

namespace berth::shim {

struct RpcError {
    berth::ttrpc::Code code;
    std::string message;
};

[[noreturn]] inline void fail(berth::ttrpc::Code code, std::string msg) { throw RpcError{code, std::move(msg)}; }

} // namespace berth::shim
