// berth::Error -> gRPC status, by errno (see cri/registry/registry.hpp for
// the registry's), so every RPC answers the code CRI clients act on.
#pragma once

#include <grpcpp/support/status.h>

#include <exception>
#include <functional>
#include <string>

namespace berth::cri {

grpc::Status to_status(const std::exception& e);

// Run an RPC's work; any exception becomes its status (and is logged
// with the method's name unless it is NotFound).
grpc::Status guarded(const char* method, const std::function<void()>& work);

} // namespace berth::cri
