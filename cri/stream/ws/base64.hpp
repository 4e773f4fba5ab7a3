// Base64 with the standard alphabet and padding (RFC 4648 §4), as Go's
// base64.StdEncoding reads and writes it: the WebSocket accept key and the
// base64.channel.k8s.io protocols.
#pragma once

#include <string>
#include <string_view>

namespace berth::stream {

std::string base64_encode(std::string_view data);

// Decode; like Go's StdEncoding, CR and LF anywhere are skipped and padding
// is required. Throws berth::Error(EINVAL, "invalid base64 at offset N")
// naming the first offending input byte.
std::string base64_decode(std::string_view text);

} // namespace berth::stream
