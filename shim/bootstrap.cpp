#include "bootstrap.hpp"

#include "bootstrap.pb.h"
#include "introspection.pb.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace berth::shim {

namespace {
namespace pb = berth::bootstrap;
using Clock = std::chrono::steady_clock;

constexpr int task_api_version = 3;   // containerd.task.v3.Task
constexpr const char* runtime_name = "io.containerd.berth.v2";
// containerd's typeurl name for runtime-spec's features.Features.
constexpr const char* features_type_url = "types.containerd.io/opencontainers/runtime-spec/1/features/Features";
} // namespace

std::optional<BootstrapParams> parse_bootstrap(const std::string& input, const std::string& id,
                                               const std::string& ns) {
    pb::BootstrapParams m;
    if (input.empty() || id.empty() || !m.ParseFromString(input)) return std::nullopt;
    if (m.instance_id() != id || m.namespace_() != ns) return std::nullopt;
    BootstrapParams p;
    p.instance_id = m.instance_id();
    p.ns = m.namespace_();
    p.log_level = static_cast<int32_t>(m.log_level());
    p.containerd_version = m.containerd_version();
    p.ttrpc_address = m.containerd_ttrpc_address();
    p.grpc_address = m.containerd_grpc_address();
    p.containerd_binary = m.containerd_binary();
    if (m.has_socket_dir()) p.socket_dir = m.socket_dir();
    return p;
}

std::string start_reply(bool modern, const std::string& address) {
    if (!modern) return address;
    pb::BootstrapResult r;
    r.set_version(task_api_version);
    r.set_address(address);
    r.set_protocol("ttrpc");
    return r.SerializeAsString();
}

std::string runtime_info(const std::string& options_input, const std::string& version,
                         const std::string& features_json) {
    berth::types::RuntimeInfo info;
    info.set_name(runtime_name);
    info.mutable_version()->set_version(version);
    berth::ttrpc::Any opts;
    if (!options_input.empty() && opts.ParseFromString(options_input) && !opts.type_url().empty())
        *info.mutable_options() = std::move(opts);
    info.mutable_features()->set_type_url(features_type_url);
    info.mutable_features()->set_value(features_json);
    return info.SerializeAsString();
}

std::string read_input(int fd, size_t limit, int timeout_ms) {
    if (::isatty(fd)) return {};
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string in;
    char buf[16384];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, left > 0 ? static_cast<int>(left) : 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return {};   // an error, or no EOF in time
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) return {};
        if (n == 0) return in;
        if (in.size() + static_cast<size_t>(n) > limit) return {};
        in.append(buf, static_cast<size_t>(n));
    }
}

} // namespace berth::shim
