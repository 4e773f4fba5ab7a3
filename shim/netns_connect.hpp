// Port-forward's connect, for berthd (`berth-shim netns-connect NETNS
// PORT`, with fd 3 a SOCK_SEQPACKET socket of berthd's): enter the pod's
// network namespace, connect to its localhost:PORT (IPv4, then IPv6, as
// kubelet's runtimes do), and send the connected socket back over fd 3.
// berthd's threads never setns; this short-lived single-threaded process
// does, and the socket keeps working in the pod's namespace after it exits.
// The answer on fd 3 is one packet: "0" with the socket (SCM_RIGHTS), or
// "1" and the error's text.
#pragma once

namespace berth::shim {

int netns_connect(const char* netns, const char* port);

} // namespace berth::shim
