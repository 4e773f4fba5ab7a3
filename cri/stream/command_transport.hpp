// exec and attach after the HTTP upgrade: Kubernetes' remotecommand
// streams (stdin, stdout, stderr, error, resize) over SPDY/3.1 or over
// WebSocket channels, behind one interface, so the session that runs the
// process (command_session.hpp) does not know which one carries them.
// State machines without I/O, like the codecs under them.
#pragma once

#include "channel.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace berth::stream {

// Which streams the request asked for.
struct CommandStreams {
    bool stdin = false, stdout = false, stderr = false, tty = false;
};

struct CommandInput {
    enum class Kind {
        stdin_data,    // data for the process's stdin
        stdin_closed,  // the client will send no more stdin
        resize,        // a terminal size
        gone,          // the client went away or broke the protocol: detail says how
    };
    Kind kind = Kind::stdin_data;
    std::string data;
    TerminalSize size;
    std::string detail;
};

class CommandTransport {
public:
    virtual ~CommandTransport() = default;

    // Bytes read from the connection; what they mean for the process.
    virtual void feed(std::string_view bytes, std::vector<CommandInput>& out) = 0;
    // Every stream the request needs is there (SPDY: the client opens them
    // after the upgrade); the process starts only then.
    virtual bool ready() const = 0;
    // Room for output on stdout (1) or stderr (2) now, and sending it.
    virtual size_t writable(uint8_t channel) const = 0;
    virtual void send(uint8_t channel, std::string_view data) = 0;
    // Stdin data the process has taken (SPDY credits its windows then).
    virtual void consumed_stdin(size_t n) = 0;
    // The end: the exit code (or an error that kept the command from
    // running, when error is not empty) on the error stream, every stream
    // closed. Then drain the output and close the connection.
    virtual void finish(int exit_code, const std::string& error) = 0;
    virtual std::string_view pending_output() const = 0;
    virtual void consume_output(size_t n) = 0;
    // Nothing more to write: the owner closes the connection.
    virtual bool done() const = 0;
};

// What the error stream carries at the end, by remotecommand version:
// v4 and later a metav1.Status (Success, NonZeroExitCode, or the error
// that kept the command from running); before v4 a failure's text only.
std::string end_status(int version, int exit_code, const std::string& error);

// protocol: the negotiated subprotocol ("" for a client that named none).
std::unique_ptr<CommandTransport> spdy_command_transport(const std::string& protocol, CommandStreams s);
std::unique_ptr<CommandTransport> websocket_command_transport(const std::string& protocol, CommandStreams s);

} // namespace berth::stream
