#include "ctl.hpp"

#include "error.hpp"

#include <grpcpp/grpcpp.h>

namespace berth::ctl {

namespace {
// crictl's endpoints are URLs: unix:///path; gRPC wants unix:/path.
std::string grpc_target(const std::string& endpoint) {
    if (endpoint.rfind("unix://", 0) == 0) return "unix:" + endpoint.substr(7);
    if (!endpoint.empty() && endpoint.front() == '/') return "unix:" + endpoint;
    return endpoint;
}
} // namespace

std::string Args::get(const std::string& f, const std::string& def) const {
    auto it = flags.find(f);
    return it == flags.end() || it->second.empty() ? def : it->second.back();
}

Format Args::format(Format def) const {
    std::string o = get("output");
    if (o.empty()) return def;
    if (o == "json") return Format::json;
    if (o == "yaml") return Format::yaml;
    if (o == "table") return Format::table;
    throw Error(EINVAL, "--output: unknown format \"" + o + "\" (json, yaml or table)");
}

Client::Client(const Global& g) : g_(g) {
    // kubelet's limit (16 MiB), so ExecSync output up to it arrives.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(40 << 20);   // ExecSync: two 16 MiB streams
    args.SetMaxSendMessageSize(16 << 20);
    auto rt = grpc::CreateCustomChannel(grpc_target(g.runtime_endpoint), grpc::InsecureChannelCredentials(), args);
    auto img = g.image_endpoint.empty() || g.image_endpoint == g.runtime_endpoint
                   ? rt
                   : grpc::CreateCustomChannel(grpc_target(g.image_endpoint), grpc::InsecureChannelCredentials(), args);
    rt_ = runtime::v1::RuntimeService::NewStub(rt);
    img_ = runtime::v1::ImageService::NewStub(img);
    berth_img_ = berth::v1::Images::NewStub(img);
    executions_ = berth::v1::Executions::NewStub(rt);
}

std::unique_ptr<grpc::ClientContext> Client::context(std::chrono::milliseconds timeout) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    auto t = timeout.count() < 0 ? g_.timeout : timeout;
    if (t.count() > 0) ctx->set_deadline(std::chrono::system_clock::now() + t);
    return ctx;
}

void Client::check(const grpc::Status& st, const char* method) {
    if (st.ok()) return;
    static const char* names[] = {"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
                                  "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
                                  "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
                                  "Unauthenticated"};
    int c = static_cast<int>(st.error_code());
    std::string code = c >= 0 && c <= 16 ? names[c] : std::to_string(c);
    throw Error(EIO, std::string(method) + ": rpc error: code = " + code + " desc = " + st.error_message());
}

} // namespace berth::ctl
