// cri/proto/api.proto is CRI v1's wire format: messages encoded here must
// give, byte for byte, what kubernetes/cri-api's field numbers and types
// give, and the services must carry upstream's full method names (gRPC
// routes by them).
#include <criterion/criterion.h>

#include "api.pb.h"

#include <google/protobuf/descriptor.h>

#include <string>

namespace v1 = runtime::v1;
namespace gp = google::protobuf;

namespace {

std::string bytes(std::initializer_list<unsigned char> b) { return std::string(b.begin(), b.end()); }

} // namespace

// ExecSync: container_id = 1, cmd = 2 (repeated), timeout = 3; the answer
// stdout = 1, stderr = 2 (bytes), exit_code = 3.
Test(cri_api, exec_sync) {
    v1::ExecSyncRequest req;
    req.set_container_id("c");
    req.add_cmd("true");
    req.add_cmd("x");
    req.set_timeout(5);
    cr_assert(req.SerializeAsString() ==
              bytes({0x0a, 1, 'c', 0x12, 4, 't', 'r', 'u', 'e', 0x12, 1, 'x', 0x18, 5}));

    v1::ExecSyncResponse resp;
    cr_assert(resp.ParseFromString(bytes({0x0a, 2, 'o', '\n', 0x12, 2, 'e', '\n', 0x18, 3})));
    cr_assert(resp.stdout() == "o\n");
    cr_assert(resp.stderr() == "e\n");
    cr_assert_eq(resp.exit_code(), 3);
}

// RunPodSandbox: config = 1, runtime_handler = 2; PodSandboxConfig's
// metadata = 1 and linux = 8; LinuxPodSandboxConfig's cgroup_parent = 1 and
// security_context = 2; LinuxSandboxSecurityContext's namespace_options = 1;
// NamespaceOption network = 1, pid = 2 (NODE = 2, CONTAINER = 1).
Test(cri_api, run_pod_sandbox) {
    v1::RunPodSandboxRequest req;
    auto* cfg = req.mutable_config();
    cfg->mutable_metadata()->set_name("p");
    auto* linux = cfg->mutable_linux();
    linux->set_cgroup_parent("/g");
    auto* ns = linux->mutable_security_context()->mutable_namespace_options();
    ns->set_network(v1::NODE);
    ns->set_pid(v1::CONTAINER);
    req.set_runtime_handler("b");
    const std::string want = bytes({0x0a, 19,                        // config
                                    0x0a, 3, 0x0a, 1, 'p',           //   metadata { name }
                                    0x42, 12,                        //   linux
                                    0x0a, 2, '/', 'g',               //     cgroup_parent
                                    0x12, 6, 0x0a, 4, 0x08, 2, 0x10, 1,   // security_context { namespace_options }
                                    0x12, 1, 'b'});                  // runtime_handler
    cr_assert(req.SerializeAsString() == want);
}

// Fields numbered past 15 (two-byte tags) and out of order upstream:
// ContainerConfig.CDI_devices = 17, ImageSpec.user_specified_image = 18,
// LinuxContainerSecurityContext.run_as_group = 12 and
// supplemental_groups_policy = 17 (Strict = 1).
Test(cri_api, high_field_numbers) {
    v1::ContainerConfig c;
    c.add_cdi_devices()->set_name("v.com/g=0");
    cr_assert(c.SerializeAsString() == bytes({0x8a, 0x01, 11, 0x0a, 9, 'v', '.', 'c', 'o', 'm', '/', 'g', '=', '0'}));

    v1::ImageSpec img;
    img.set_user_specified_image("i");
    cr_assert(img.SerializeAsString() == bytes({0x92, 0x01, 1, 'i'}));

    v1::LinuxContainerSecurityContext sc;
    sc.mutable_run_as_group()->set_value(7);
    sc.set_supplemental_groups_policy(v1::Strict);
    cr_assert(sc.SerializeAsString() == bytes({0x62, 2, 0x08, 7, 0x88, 0x01, 1}));
}

// ContainerStatus: exit_code = 7 (int32), reason = 10, stop_signal = 19
// (SIGKILL = 13 in CRI's own Signal enum, not the kernel's 9).
Test(cri_api, container_status) {
    v1::ContainerStatus st;
    cr_assert(st.ParseFromString(bytes({0x38, 0x89, 0x01, 0x52, 3, 'O', 'O', 'M', 0x98, 0x01, 13})));
    cr_assert_eq(st.exit_code(), 137);
    cr_assert(st.reason() == "OOM");
    cr_assert_eq(st.stop_signal(), v1::SIGKILL);
    cr_assert_eq(static_cast<int>(v1::SIGKILL), 13);
}

// gRPC calls "/runtime.v1.RuntimeService/ExecSync": package, services and
// method names must be upstream's, and both services complete.
Test(cri_api, services) {
    const gp::FileDescriptor* f = v1::ExecSyncRequest::descriptor()->file();
    cr_assert_str_eq(f->package().c_str(), "runtime.v1");
    const gp::ServiceDescriptor* rt = f->FindServiceByName("RuntimeService");
    const gp::ServiceDescriptor* img = f->FindServiceByName("ImageService");
    cr_assert(rt && img);
    cr_assert_eq(rt->method_count(), 35);
    cr_assert_eq(img->method_count(), 6);
    const gp::MethodDescriptor* m = rt->FindMethodByName("ExecSync");
    cr_assert(m);
    cr_assert_str_eq(m->full_name().c_str(), "runtime.v1.RuntimeService.ExecSync");
    cr_assert_str_eq(m->input_type()->full_name().c_str(), "runtime.v1.ExecSyncRequest");
    const gp::MethodDescriptor* ev = rt->FindMethodByName("GetContainerEvents");
    cr_assert(ev && ev->server_streaming() && !ev->client_streaming());
    cr_assert_str_eq(ev->input_type()->name().c_str(), "GetEventsRequest");
    cr_assert(img->FindMethodByName("PullImage") && img->FindMethodByName("ImageFsInfo"));
}
