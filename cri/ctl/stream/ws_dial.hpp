// berthctl's way onto a streaming URL (the one Exec, Attach or
// PortForward returned): TCP to its host and port, the WebSocket upgrade,
// and the subprotocol the server chose. Plain http only: berthd's and
// containerd's streaming servers listen on loopback without TLS by default.
#pragma once

#include "fd.hpp"

#include <chrono>
#include <span>
#include <string>
#include <string_view>

namespace berth::ctl {

struct WsConnection {
    UniqueFd fd;             // non-blocking, connected, upgraded
    std::string protocol;    // the server's choice; "" when it named none
    std::string rest;        // bytes read past the 101, the first WebSocket frames
};

// Dials url with `query` ("port=80", or empty) added to it and asks for
// the protocols, in order. The whole of it (resolve, connect, the 101) must
// finish within timeout. Throws Error naming the URL: a refusal quotes the
// server's status and body (a used or expired token is "404 Not Found").
WsConnection ws_dial(const std::string& url, std::string_view query, std::span<const std::string_view> protocols,
                     std::chrono::milliseconds timeout);

} // namespace berth::ctl
