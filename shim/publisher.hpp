// Task events to containerd: a ttrpc client of containerd's Events service
// (Forward, at TTRPC_ADDRESS, as containerd's own shims do), or, without
// that address, `PUBLISH-BINARY --address ADDR publish --topic T
// --namespace NS` with the event's protobuf Any on stdin (the older form).
#pragma once

#include "fd.hpp"

#include <string>

namespace google::protobuf {
class MessageLite;
}

namespace berth::shim {

class Publisher {
public:
    Publisher(std::string ttrpc_address, std::string publish_binary, std::string address, std::string ns);
    // topic: "/tasks/exit"; name: the event's message name ("TaskExit").
    // Failures are logged, not thrown: a lost event must not fail the task.
    void publish(const std::string& topic, const std::string& name, const google::protobuf::MessageLite& event);

private:
    bool forward(const std::string& request);
    void run_binary(const std::string& topic, const std::string& any);
    std::string ttrpc_address_, publish_binary_, address_, ns_;
    UniqueFd conn_;
    uint32_t next_stream_ = 1;
};

} // namespace berth::shim
