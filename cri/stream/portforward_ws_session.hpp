// Port-forward over WebSocket, as kubelet's CRI streaming server serves it
// (pkg/kubelet/cri/streaming/portforward/websocket.go on apimachinery's
// wsstream.Conn). The ports are fixed when the connection opens: port i
// gets channel 2i (data, both ways) and 2i+1 (error, server to client),
// and the server first writes the port as 2 little-endian bytes on both.
// Then one TCP connection per port into the pod, copied both ways; an
// error goes on the error channel as text. The client's data carries no
// prefix. v4 has no half-close: the client's side of every port ends with
// the WebSocket, and when every port is done the server closes it (1000).
#pragma once

#include "http_request.hpp"
#include "portforward_session.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::stream {

// At most this many ports in one request: their channels must fit the
// base64 protocols' channel character ('0' + 2i + 1 <= 255).
inline constexpr size_t kMaxWsForwardPorts = 100;

// The ports of a WebSocket port-forward request: the query's port
// parameters (each a port or a comma-separated list), read as kubelet's
// portforward.NewV4Options reads them; without any, the CRI request's own
// ports (kubelet's CRI server forwards pf.Port). Error(EINVAL) with
// kubelet's message ("query parameter \"port\" is required", "unable to
// parse ... as a port: ...", "port \"0\" must be > 0"): a 400.
std::vector<uint16_t> portforward_ws_ports(const HttpRequest& req, const std::vector<int32_t>& requested);

struct WsForwardLimits {
    // After the pod's side ends, the client's data still goes to the pod
    // this long before the port is done (containerd's grace for the other
    // direction; v4 gives the client no way to say it is done).
    std::chrono::milliseconds linger{1000};
    // Pod data is not read while more than this waits for the client.
    size_t output_high_water = 256 * 1024;
    // The client is not read while a port holds more than this for its pod.
    size_t to_pod_high_water = 64 * 1024;
    // Waiting for the client's answer to the server's close.
    std::chrono::milliseconds close_wait{2000};
};

// Serve one upgraded connection: `initial` are bytes read past the request
// head, `protocol` the negotiated subprotocol ("" = binary). `allowed`: the
// ports the CRI request named (empty: any); a port outside it is refused on
// its error channel, as over SPDY. `what` names the pod in messages.
void run_portforward_ws_session(int sock, std::string_view initial, const std::string& protocol,
                                const std::vector<uint16_t>& ports, const std::vector<int32_t>& allowed,
                                const PortConnect& connect, const std::string& what, WsForwardLimits limits = {});

} // namespace berth::stream
