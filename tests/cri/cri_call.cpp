// cri-client's `call`: any RuntimeService or ImageService method (of
// runtime.v1, or of runtime.v1alpha2 as "v1alpha2/METHOD": the same
// messages on the wire), its
// request as protobuf JSON (crictl's field names), its answer printed as
// JSON; a failed call prints "CODE: message" on stderr and exits with the
// gRPC status code, so a test can check the code a server answers.
#include "cri_call.hpp"

#include "api.grpc.pb.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/rpc_method.h>

#include <cstdio>
#include <functional>
#include <map>

namespace berth::cri_test {

namespace {

using namespace runtime::v1;

struct Call {
    std::shared_ptr<grpc::Channel> ch;
    std::string version;   // "v1" or "v1alpha2": the same messages on the wire
};

template <class Req, class Resp>
int invoke(Call& call, const char* service, const char* method, const std::string& json, std::chrono::seconds timeout) {
    Req req;
    google::protobuf::util::JsonParseOptions po;
    auto ps = google::protobuf::util::JsonStringToMessage(json.empty() ? "{}" : json, &req, po);
    if (!ps.ok()) {
        std::fprintf(stderr, "request: %s\n", std::string(ps.message()).c_str());
        return 2;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    Resp resp;
    std::string path = "/runtime." + call.version + "." + service + "/" + method;
    grpc::internal::RpcMethod rpc(path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC, call.ch);
    grpc::Status st = grpc::internal::BlockingUnaryCall<Req, Resp>(call.ch.get(), rpc, &ctx, req, &resp);
    if (!st.ok()) {
        std::fprintf(stderr, "%d: %s\n", static_cast<int>(st.error_code()), st.error_message().c_str());
        return static_cast<int>(st.error_code());
    }
    std::string out;
    google::protobuf::util::JsonPrintOptions jo;
    jo.preserve_proto_field_names = false;
    jo.always_print_primitive_fields = true;   // a zero enum (SANDBOX_READY) is an answer too
    (void)google::protobuf::util::MessageToJsonString(resp, &out, jo);
    std::printf("%s\n", out.c_str());
    return 0;
}

#define RT(M)                                                                                                    \
    {#M, [](Call& c, const std::string& j, std::chrono::seconds t) {                                             \
         return invoke<M##Request, M##Response>(c, "RuntimeService", #M, j, t);                                  \
     }}
#define IMG(M)                                                                                                   \
    {#M, [](Call& c, const std::string& j, std::chrono::seconds t) {                                             \
         return invoke<M##Request, M##Response>(c, "ImageService", #M, j, t);                                    \
     }}

} // namespace

int call_json(const std::string& socket, std::string method, const std::string& json, std::chrono::seconds timeout) {
    static const std::map<std::string, std::function<int(Call&, const std::string&, std::chrono::seconds)>> table = {
        RT(Version), RT(Status), RT(RuntimeConfig), RT(UpdateRuntimeConfig), RT(RunPodSandbox), RT(StopPodSandbox),
        RT(RemovePodSandbox), RT(PodSandboxStatus), RT(ListPodSandbox), RT(CreateContainer), RT(StartContainer),
        RT(StopContainer), RT(RemoveContainer), RT(ListContainers), RT(ContainerStatus), RT(ExecSync), RT(Exec),
        RT(Attach), RT(PortForward), RT(ContainerStats), RT(ListContainerStats), RT(PodSandboxStats),
        RT(ListPodSandboxStats), RT(UpdateContainerResources), RT(ReopenContainerLog),
        IMG(ListImages), IMG(ImageStatus), IMG(PullImage), IMG(RemoveImage), IMG(ImageFsInfo),
    };
    Call call;
    call.version = "v1";
    if (method.rfind("v1alpha2/", 0) == 0) {
        call.version = "v1alpha2";
        method = method.substr(9);
    }
    auto it = table.find(method);
    if (it == table.end()) {
        std::fprintf(stderr, "unknown method %s\n", method.c_str());
        return 2;
    }
    std::string target = socket.find("://") == std::string::npos ? "unix:" + socket : socket;
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(40 << 20);   // ExecSync: two 16 MiB streams
    call.ch = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    return it->second(call, json, timeout);
}

} // namespace berth::cri_test
