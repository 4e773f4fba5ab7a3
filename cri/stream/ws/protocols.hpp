// The subprotocol names Kubernetes streaming clients ask for, and the lists
// berthd's streaming server offers, as kubelet's does. Names are from
// k8s.io/apimachinery/pkg/util/remotecommand/constants.go and
// pkg/kubelet/cri/streaming/{remotecommand,portforward}.
#pragma once

#include <array>
#include <string_view>

namespace berth::stream::protocol {

// exec and attach over SPDY (X-Stream-Protocol-Version) and WebSocket
// (Sec-WebSocket-Protocol). v1 has known bugs (issues.k8s.io/13394 and
// 13395); v2 fixes them; v3 adds terminal resizing; v4 carries the exit code
// as a metav1.Status JSON on the error stream; v5 adds the CLOSE signal
// (channel 255) to half-close a stream.
inline constexpr std::string_view channel_v1 = "channel.k8s.io";
inline constexpr std::string_view channel_v2 = "v2.channel.k8s.io";
inline constexpr std::string_view channel_v3 = "v3.channel.k8s.io";
inline constexpr std::string_view channel_v4 = "v4.channel.k8s.io";
inline constexpr std::string_view channel_v5 = "v5.channel.k8s.io";
// WebSocket only: text messages, '0'+channel then base64 data.
inline constexpr std::string_view base64_channel_v1 = "base64.channel.k8s.io";
inline constexpr std::string_view base64_channel_v4 = "v4.base64.channel.k8s.io";
// port-forward over SPDY.
inline constexpr std::string_view portforward_v1 = "portforward.k8s.io";

// What kubelet serves. The client's order picks among them (negotiate.hpp).
// SPDY exec/attach: remotecommand.SupportedStreamingProtocols.
inline constexpr std::array<std::string_view, 4> spdy_remotecommand = {channel_v4, channel_v3, channel_v2,
                                                                       channel_v1};
// WebSocket exec/attach: remotecommand/websocket.go's map, plus v5
// (KEP-4006; client-go's NewWebSocketExecutor asks for it alone). Upstream
// kubelet's own server stops at v4; v5 is v4 plus the CLOSE signal, which
// lets a WebSocket client end stdin (kubectl cp).
inline constexpr std::array<std::string_view, 5> websocket_remotecommand = {
    channel_v5, channel_v4, base64_channel_v4, channel_v1, base64_channel_v1};
// SPDY port-forward: portforward.SupportedProtocols.
inline constexpr std::array<std::string_view, 1> spdy_portforward = {portforward_v1};
// WebSocket port-forward: portforward/websocket.go's map (two channels per
// port: data 2i, error 2i+1; see channel.hpp). Its "" entry, a client that
// names none (binary), is upgrade_websocket's allow_unnegotiated.
inline constexpr std::array<std::string_view, 2> websocket_portforward = {channel_v4, base64_channel_v4};

} // namespace berth::stream::protocol
