#include "ctl.hpp"

#include "error.hpp"
#include "file_util.hpp"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include <cstdlib>

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

namespace {

// --host tcp://HOST:PORT with mutual TLS: our certificate and key, and the
// CA that must have signed berthd's (whose name must match HOST).
std::shared_ptr<grpc::Channel> tls_channel(const Global& g, const grpc::ChannelArguments& args) {
    if (g.host.rfind("tcp://", 0) != 0)
        throw Error(EINVAL, "--host: expected tcp://HOST:PORT (or unix:///PATH), got \"" + g.host + "\"");
    if (!g.tls_verify)
        throw Error(EINVAL, "--host " + g.host + ": berthd serves TCP with mutual TLS only; add --tlsverify (or BERTH_TLS_VERIFY=1)");
    std::string dir;
    if (!g.tls_dir.empty()) dir = g.tls_dir;
    else if (const char* p = std::getenv("BERTH_CERT_PATH"); p && *p) dir = p;
    else if (const char* h = std::getenv("HOME"); h && *h) dir = std::string(h) + "/.berth";
    auto pem = [&](const std::string& given, const char* name, const char* flag) {
        std::string path = given.empty() ? dir + "/" + name : given;
        try {
            return read_file(path);
        } catch (const Error& e) {
            throw Error(e.err(), std::string(flag) + ": " + e.what());
        }
    };
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = pem(g.tls_ca, "ca.pem", "--tlscacert");
    o.pem_cert_chain = pem(g.tls_cert, "cert.pem", "--tlscert");
    o.pem_private_key = pem(g.tls_key, "key.pem", "--tlskey");
    return grpc::CreateCustomChannel(g.host.substr(6), grpc::SslCredentials(o), args);
}

} // namespace

Global for_host(const Global& g, const Host& h) {
    Global one = g;
    one.hosts.clear();
    one.host = h.url;
    if (!h.tls_dir.empty()) one.tls_dir = h.tls_dir;
    one.tls_verify = g.tls_verify || h.tls_verify;
    return one;
}

Client::Client(const Global& g) : g_(g) {
    // kubelet's limit (16 MiB), so ExecSync output up to it arrives.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(40 << 20);   // ExecSync: two 16 MiB streams
    args.SetMaxSendMessageSize(16 << 20);
    std::shared_ptr<grpc::Channel> rt, img;
    if (g.host.rfind("unix://", 0) == 0) {
        rt = img = grpc::CreateCustomChannel(grpc_target(g.host), grpc::InsecureChannelCredentials(), args);
    } else if (!g.host.empty()) {
        rt = img = tls_channel(g, args);
    } else {
        rt = grpc::CreateCustomChannel(grpc_target(g.runtime_endpoint), grpc::InsecureChannelCredentials(), args);
        img = g.image_endpoint.empty() || g.image_endpoint == g.runtime_endpoint
                  ? rt
                  : grpc::CreateCustomChannel(grpc_target(g.image_endpoint), grpc::InsecureChannelCredentials(), args);
    }
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
