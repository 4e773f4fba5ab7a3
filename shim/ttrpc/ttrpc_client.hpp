// A synchronous ttrpc client for unary calls: one Request frame out on an
// odd stream id, its Response frame back (frames of other streams are
// skipped). For the shim's events to containerd, berthd driving its shims,
// and the shim tests' berth-shimctl.
// Not thread-safe: one call at a time per Client.
#pragma once

#include "error.hpp"
#include "fd.hpp"
#include "ttrpc.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace berth::ttrpc {

// A call that did not succeed: the server's google.rpc.Status (code and
// message), or one made up here for a transport failure (unavailable: no
// connection, or it broke; deadline_exceeded: no answer in time). err()
// is an errno for the code (ENOENT for not_found, ...).
class StatusError : public Error {
public:
    static constexpr int32_t deadline_exceeded = 4;
    StatusError(int32_t code, std::string message);
    StatusError(int32_t code, int err, std::string message);
    int32_t code() const noexcept { return code_; }

private:
    int32_t code_;
};

using Metadata = std::vector<std::pair<std::string, std::string>>;

// A connected, non-blocking socket to address (a path or unix://PATH).
// Throws StatusError (unavailable; deadline_exceeded after timeout, 0: none).
UniqueFd dial_socket(const std::string& address, std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

// A Request frame for a unary call on stream (odd), ready to write;
// timeout, when not 0, goes to the server as the call's deadline.
std::string encode_request(uint32_t stream, const std::string& service, const std::string& method,
                           const std::string& payload, std::chrono::milliseconds timeout, const Metadata& metadata);

class Client {
public:
    // address: a socket path or unix://PATH. Throws StatusError
    // (unavailable; deadline_exceeded after timeout, 0: none).
    static Client dial(const std::string& address, std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
    explicit Client(UniqueFd conn);

    // The Response payload, or StatusError. timeout 0: wait as long as it
    // takes (Wait); otherwise it is also sent to the server as the call's
    // deadline. After a transport failure the client is closed and every
    // later call fails with unavailable.
    std::string call(const std::string& service, const std::string& method, const std::string& payload,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
                     const Metadata& metadata = {});

    bool connected() const { return static_cast<bool>(conn_); }
    int fd() const { return conn_.get(); }
    void close() { conn_.reset(); }

private:
    UniqueFd conn_;
    FrameDecoder dec_{max_berth_payload};   // berth-shim's ExecSync replies
    uint32_t next_stream_ = 1;
};

} // namespace berth::ttrpc
