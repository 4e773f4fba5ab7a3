// What berth-shim tells containerd about itself outside the Task API: the
// `start` handshake and `-info`.
//
// containerd 2.3+ writes a BootstrapParams protobuf on start's stdin and
// reads a BootstrapResult from its stdout; 1.6 to 2.2 pass flags and env
// (and maybe runtime options on stdin) and read the plain address, which
// is also what they get back, as containerd 1.7 rejects a version 3 reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace berth::shim {

// The fields of containerd's BootstrapParams the shim uses. Empty means
// not sent: keep the flag's or env's value.
struct BootstrapParams {
    std::string instance_id, ns;
    int32_t log_level = 0;   // INFO 0; negative is more verbose (DEBUG -4)
    std::string containerd_version, ttrpc_address, grpc_address, containerd_binary;
    std::optional<std::string> socket_dir;
};

// stdin as BootstrapParams, when it is that: it parses and names the
// instance and namespace the flags name. Runtime options from an older
// containerd (a protobuf Any) may parse too, hence the identity check.
std::optional<BootstrapParams> parse_bootstrap(const std::string& input, const std::string& id,
                                               const std::string& ns);

// What start prints: for a 2.3+ containerd (modern), a BootstrapResult
// (version 3, i.e. containerd.task.v3.Task, over ttrpc); else the address.
std::string start_reply(bool modern, const std::string& address);

// -info's RuntimeInfo (serialized). options_input: stdin, echoed back as
// options when it is a protobuf Any, as containerd's runc shim does.
std::string runtime_info(const std::string& options_input, const std::string& version,
                         const std::string& features_json);

// All of fd up to EOF, or nothing: when fd is a terminal (no one will
// write an EOF), holds more than `limit` bytes, reaches no EOF within
// timeout_ms, or fails to read. containerd closes the pipe it writes.
std::string read_input(int fd, size_t limit, int timeout_ms);

} // namespace berth::shim
