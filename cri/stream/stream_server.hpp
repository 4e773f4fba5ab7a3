// berthd's streaming server: the HTTP server the URLs of Exec, Attach and
// PortForward point to (kubelet proxies kubectl's connection to it). Each
// is served over SPDY/3.1 or WebSocket: exec and attach as remotecommand
// (command_session), port-forward as stream pairs over SPDY
// (portforward_session) or channel pairs over WebSocket
// (portforward_ws_session). One thread per connection: streams are few and
// long, and each blocks in poll() on its socket and its process or pod
// sockets. The thread never enters a namespace; what has to (port-forward's
// connect) is a helper process.
#pragma once

#include "command_session.hpp"
#include "fd.hpp"
#include "stream_tokens.hpp"

#include <condition_variable>
#include <mutex>
#include <set>
#include <memory>
#include <string>
#include <thread>

namespace berth::stream {

// What the server runs requests on; berthd's side (the pod shims).
class StreamBackend {
public:
    virtual ~StreamBackend() = default;
    // Checked when the client comes (the container may have stopped since
    // the URL was handed out): Error(ENOENT) and the like become the
    // error stream's message.
    virtual std::unique_ptr<CommandProcess> exec(const ExecRequest& r) = 0;
    virtual std::unique_ptr<CommandProcess> attach(const AttachRequest& r) = 0;
    // A socket connected to the port inside the request's pod.
    virtual UniqueFd port_connect(const PortForwardRequest& r, uint16_t port) = 0;
};

class StreamServer {
public:
    // address: "HOST:PORT" ("127.0.0.1:0": an ephemeral port) or
    // "[V6]:PORT". Binds now: Error naming the address.
    StreamServer(const std::string& address, StreamBackend& backend);
    ~StreamServer();
    StreamServer(const StreamServer&) = delete;
    StreamServer& operator=(const StreamServer&) = delete;

    // http://HOST:PORT, the port the kernel gave.
    const std::string& base_url() const { return base_url_; }
    // The URL for a request: BASE/exec/TOKEN, /attach/TOKEN, /portforward/TOKEN.
    std::string url_for(Request r);

    Tokens& tokens() { return tokens_; }

private:
    void accept_loop();
    void serve(int fd);

    StreamBackend& backend_;
    Tokens tokens_;
    UniqueFd listen_;
    UniqueFd stop_r_, stop_w_;
    std::string base_url_;
    std::thread acceptor_;
    // Live connections, shut down when the server goes (berthd stopping):
    // their threads end (an exec is killed) before the backend does.
    std::mutex conns_mu_;
    std::condition_variable conns_cv_;
    std::set<int> conns_;
};

} // namespace berth::stream
