// One exec or attach connection, after its upgrade: the streams
// (command_transport.hpp) joined to the process (an exec berth-shim runs,
// or a container's stdio), until the process exits and its output is out
// or the client goes. Runs on the connection's own thread, blocking in
// poll(); backpressure both ways (output is read only while the client
// takes it, stdin only while the process does).
#pragma once

#include "channel.hpp"
#include "command_transport.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::stream {

class CommandProcess {
public:
    virtual ~CommandProcess() = default;
    // Start the process (or attach) once the client's streams are there.
    // Throws Error: the client gets it on the error stream.
    // A terminal starts at `size` when the client sent one.
    virtual void start(std::optional<TerminalSize> size) = 0;
    // Output sources to poll, and the channel each carries (0: the data
    // says, a first byte 1 or 2, as an attach socket's packets).
    virtual std::vector<std::pair<int, uint8_t>> outputs() const = 0;
    // Read at most max bytes from an output; false at its end.
    virtual bool read_output(int fd, size_t max, uint8_t& channel, std::string& data) = 0;
    // Where stdin goes (-1: nowhere); non-blocking.
    virtual int stdin_fd() const = 0;
    virtual void close_stdin() = 0;
    virtual void resize(TerminalSize size) = 0;
    // Readable once the process has exited; then exit_code(). -1: it ends
    // when its outputs do (attach).
    virtual int exit_fd() const = 0;
    virtual int exit_code() = 0;
    // The client went away before the end (exec: the process is killed,
    // as containerd does; attach: the session just ends).
    virtual void abandon() = 0;
};

struct SessionLimits {
    std::chrono::milliseconds stream_wait{30000};   // for the client's streams after the upgrade (kubelet's)
    std::chrono::milliseconds drain{5000};          // for more output after the exit, with none coming
    std::chrono::milliseconds first_size{1000};     // for a terminal's first size, once the streams are there
    std::chrono::milliseconds linger{10000};        // for the client to take the last bytes
};

// `initial`: bytes the client sent after its request head.
void run_command_session(int sock, std::string_view initial, CommandTransport& t, CommandProcess& p, bool tty,
                         SessionLimits limits = {});

} // namespace berth::stream
