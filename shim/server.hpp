// The ttrpc server side: accepts connections on the shim's socket (from
// the same user only), reassembles Request frames and hands them to the
// service, which answers at once or later (Wait) through reply().
#pragma once

#include "event_loop.hpp"
#include "fd.hpp"
#include "ttrpc.hpp"
#include "ttrpc.pb.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

namespace berth::shim {

// Where a pending answer goes: a connection and the call's stream id.
struct CallRef {
    uint64_t conn = 0;
    uint32_t stream = 0;
};

class TtrpcServer {
public:
    using Handler = std::function<void(const CallRef&, const berth::ttrpc::Request&)>;
    TtrpcServer(EventLoop& loop, UniqueFd listener, Handler h);
    ~TtrpcServer();
    // Drops the answer if the connection has gone.
    void reply(const CallRef& call, const berth::ttrpc::Response& resp);
    void reply_error(const CallRef& call, int32_t code, const std::string& message);
    size_t connections() const { return conns_.size(); }

private:
    struct Conn {
        UniqueFd fd;
        berth::ttrpc::FrameDecoder dec;
        std::string out;
        bool want_out = false;
    };
    void on_accept();
    void on_conn(uint64_t id, uint32_t events);
    void flush(uint64_t id);
    void drop(uint64_t id);
    EventLoop& loop_;
    UniqueFd listener_;
    Handler handler_;
    std::map<uint64_t, std::unique_ptr<Conn>> conns_;
    uint64_t next_id_ = 1;
};

} // namespace berth::shim
