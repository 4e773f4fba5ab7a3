#include "negotiate.hpp"

namespace berth::stream {

namespace {

std::string_view header_name(Transport t) {
    return t == Transport::spdy ? "X-Stream-Protocol-Version" : "Sec-WebSocket-Protocol";
}

// Go's %v of a []string: "[a b c]".
template <class List>
std::string go_list(const List& items) {
    std::string out = "[";
    bool first = true;
    for (const auto& s : items) {
        if (!first) out += ' ';
        out += s;
        first = false;
    }
    return out + "]";
}

} // namespace

std::vector<std::string> requested_protocols(const HttpHeaders& headers, Transport t) {
    return headers.list(header_name(t));
}

Negotiation negotiate(const HttpHeaders& headers, Transport t, std::span<const std::string_view> supported) {
    Negotiation n;
    n.offered = requested_protocols(headers, t);
    if (n.offered.empty()) {
        n.outcome = Negotiation::Outcome::none_requested;
        return n;
    }
    for (const std::string& want : n.offered)
        for (std::string_view have : supported)
            if (want == have) {   // protocol names compare exactly, as in Go
                n.outcome = Negotiation::Outcome::chosen;
                n.protocol = want;
                return n;
            }
    n.outcome = Negotiation::Outcome::no_common;
    return n;
}

HttpResponse negotiation_refusal(const Negotiation& n, Transport t, std::span<const std::string_view> supported) {
    std::string msg = t == Transport::spdy
        ? "unable to upgrade: unable to negotiate protocol: client supports " + go_list(n.offered) +
              ", server accepts " + go_list(supported)
        : "unable to upgrade: requested protocol(s) are not supported: " + go_list(n.offered) + "; supports " +
              go_list(supported);
    HttpResponse r = text_response(403, msg);
    if (t == Transport::spdy)
        for (std::string_view p : supported) r.add("X-Accepted-Stream-Protocol-Versions", std::string(p));
    return r;
}

} // namespace berth::stream
