// Subprotocol negotiation as Kubernetes does it, for both upgrades:
//  - SPDY (apimachinery httpstream.Handshake): the client lists
//    X-Stream-Protocol-Version, possibly in several fields, each possibly
//    comma-separated;
//  - WebSocket (apimachinery wsstream handshake): Sec-WebSocket-Protocol,
//    comma-separated.
// Both take the first of the CLIENT's protocols that the server supports:
// the client's preference order wins. A client that names none is the
// legacy (Kubernetes 1.0) case: kubelet then speaks the unversioned
// protocol (SPDY channel.k8s.io, WebSocket binary channel.k8s.io) and sends
// no protocol header back; newer apimachinery refuses it for SPDY (400).
#pragma once

#include "http_request.hpp"
#include "http_response.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace berth::stream {

enum class Transport { spdy, websocket };

struct Negotiation {
    enum class Outcome {
        chosen,          // protocol is the one both sides speak
        none_requested,  // the client named no protocol (legacy); protocol is empty
        no_common,       // nothing in common: answer refusal()
    };
    Outcome outcome = Outcome::none_requested;
    std::string protocol;
    std::vector<std::string> offered;   // the client's list, in its order
};

// The client's protocols for a transport, in order (X-Stream-Protocol-Version
// or Sec-WebSocket-Protocol fields, split on commas, trimmed, empties dropped).
std::vector<std::string> requested_protocols(const HttpHeaders& headers, Transport t);

Negotiation negotiate(const HttpHeaders& headers, Transport t, std::span<const std::string_view> supported);

// The 403 Kubernetes answers when nothing is in common: for SPDY with one
// X-Accepted-Stream-Protocol-Versions field per supported protocol; the body
// names what the client asked for and what the server accepts.
HttpResponse negotiation_refusal(const Negotiation& n, Transport t, std::span<const std::string_view> supported);

} // namespace berth::stream
