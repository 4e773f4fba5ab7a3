// berthctl's config files (cri/ctl/config_file.hpp): crictl's pod and
// container configs as JSON and YAML into CRI's protobuf messages, field
// names as crictl's examples spell them (proto names) and as protobuf's
// JSON prints them (lowerCamel); unknown fields and wrong types named with
// their path and the file.
#include <criterion/criterion.h>

#include "config_file.hpp"
#include "error.hpp"
#include "test_dir.hpp"

#include <fstream>
#include <string>

using namespace berth;
using namespace berth::ctl;

namespace {

std::string write(const std::string& name, const std::string& text) {
    std::string p = test_dir() + "/" + name;
    std::ofstream(p) << text;
    return p;
}

// The message of what f throws ("" when it does not throw).
template <typename F> std::string error_of(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

const char* pod_json = R"({
    "metadata": {"name": "nginx-sandbox", "namespace": "default", "attempt": 1, "uid": "hdishd83djaidwnduwk28bcsb"},
    "hostname": "h1",
    "log_directory": "/tmp/logs",
    "dns_config": {"servers": ["10.0.0.1"]},
    "port_mappings": [{"protocol": "TCP", "container_port": 80, "host_port": 8080}],
    "labels": {"app": "web"},
    "linux": {
        "cgroup_parent": "/berth-test",
        "security_context": {"namespace_options": {"network": "NODE", "pid": "POD"}, "run_as_user": {"value": 1000}}
    }
})";

const char* pod_yaml = R"(# crictl's pod-config.yaml
metadata:
  name: nginx-sandbox
  namespace: default
  attempt: 1
  uid: hdishd83djaidwnduwk28bcsb
hostname: h1
log_directory: /tmp/logs
dns_config:
  servers: [10.0.0.1]
port_mappings:
  - protocol: TCP
    container_port: 80
    host_port: 8080
labels:
  app: web
linux:
  cgroup_parent: /berth-test
  security_context:
    namespace_options:
      network: NODE
      pid: POD
    run_as_user:
      value: 1000
)";

void check_pod(const runtime::v1::PodSandboxConfig& c) {
    cr_expect_eq(c.metadata().name(), "nginx-sandbox");
    cr_expect_eq(c.metadata().namespace_(), "default");
    cr_expect_eq(c.metadata().attempt(), 1u);
    cr_expect_eq(c.metadata().uid(), "hdishd83djaidwnduwk28bcsb");
    cr_expect_eq(c.hostname(), "h1");
    cr_expect_eq(c.log_directory(), "/tmp/logs");
    cr_assert_eq(c.dns_config().servers_size(), 1);
    cr_expect_eq(c.dns_config().servers(0), "10.0.0.1");
    cr_assert_eq(c.port_mappings_size(), 1);
    cr_expect_eq(c.port_mappings(0).protocol(), runtime::v1::TCP);
    cr_expect_eq(c.port_mappings(0).container_port(), 80);
    cr_expect_eq(c.port_mappings(0).host_port(), 8080);
    cr_expect_eq(c.labels().at("app"), "web");
    cr_expect_eq(c.linux().cgroup_parent(), "/berth-test");
    cr_expect_eq(c.linux().security_context().namespace_options().network(), runtime::v1::NODE);
    cr_expect_eq(c.linux().security_context().namespace_options().pid(), runtime::v1::POD);
    cr_expect_eq(c.linux().security_context().run_as_user().value(), 1000);
}

} // namespace

TestSuite(berthctl_config, .init = make_test_dir, .fini = remove_test_dir);

Test(berthctl_config, pod_json) { check_pod(load_pod_config(write("pod.json", pod_json))); }

Test(berthctl_config, pod_yaml_reads_as_the_json) { check_pod(load_pod_config(write("pod.yaml", pod_yaml))); }

Test(berthctl_config, lower_camel_names_as_protobuf_prints_them) {
    auto c = load_pod_config(write("pod.json", R"({"metadata": {"name": "p", "namespace": "n"},
        "logDirectory": "/l", "linux": {"cgroupParent": "/cg"}})"));
    cr_expect_eq(c.log_directory(), "/l");
    cr_expect_eq(c.linux().cgroup_parent(), "/cg");
    // crictl gives a pod without a uid a random one.
    cr_expect_eq(c.metadata().uid().size(), 36u);
}

Test(berthctl_config, container_yaml) {
    auto c = load_container_config(write("c.yaml", R"(
metadata: {name: busybox}
image:
  image: localhost/berth-cri:latest
command: [sh, -c]
args: ["echo hi; sleep 1000"]
working_dir: /
envs:
  - {key: A, value: "1"}
log_path: busybox.0.log
stdin: false
tty: false
mounts:
  - container_path: /data
    host_path: /tmp/data
    readonly: true
linux:
  resources:
    memory_limit_in_bytes: 67108864
    cpu_shares: 512
  security_context:
    run_as_user: {value: 0}
    capabilities: {add_capabilities: [NET_ADMIN], drop_capabilities: [ALL]}
)"));
    cr_expect_eq(c.metadata().name(), "busybox");
    cr_expect_eq(c.image().image(), "localhost/berth-cri:latest");
    cr_assert_eq(c.command_size(), 2);
    cr_expect_eq(c.command(1), "-c");
    cr_expect_eq(c.args(0), "echo hi; sleep 1000");
    cr_expect_eq(c.envs(0).value(), "1");
    cr_expect_eq(c.log_path(), "busybox.0.log");
    cr_expect_eq(c.mounts(0).host_path(), "/tmp/data");
    cr_expect(c.mounts(0).readonly());
    cr_expect_eq(c.linux().resources().memory_limit_in_bytes(), 67108864);
    cr_expect_eq(c.linux().resources().cpu_shares(), 512);
    cr_expect_eq(c.linux().security_context().capabilities().drop_capabilities(0), "ALL");
}

Test(berthctl_config, unknown_field_is_named_with_its_path_and_file) {
    auto p = write("typo.yaml", "metadata:\n  name: p\n  namespace: n\n  nmae: x\n");
    auto e = error_of([&] { load_pod_config(p); });
    cr_expect(e.find(p) != std::string::npos, "%s", e.c_str());
    cr_expect(e.find("unknown field \"metadata.nmae\"") != std::string::npos, "%s", e.c_str());
    auto j = write("typo.json", R"({"metadata": {"name": "c"}, "linux": {"resources": {"memory_limit": 1}}})");
    e = error_of([&] { load_container_config(j); });
    cr_expect(e.find("unknown field \"linux.resources.memory_limit\"") != std::string::npos, "%s", e.c_str());
    // In a list: the element's index.
    auto m = write("mounts.json", R"({"metadata": {"name": "c"}, "mounts": [{"host_path": "/a"}, {"hostpath": "/b"}]})");
    e = error_of([&] { load_container_config(m); });
    cr_expect(e.find("unknown field \"mounts[1].hostpath\"") != std::string::npos, "%s", e.c_str());
}

Test(berthctl_config, wrong_types_and_bad_files) {
    auto p = write("bad.yaml", "metadata:\n  name: p\n  namespace: n\n  attempt: many\n");
    auto e = error_of([&] { load_pod_config(p); });
    cr_expect(e.find(p) != std::string::npos && !e.empty(), "%s", e.c_str());
    auto y = write("syntax.yaml", "metadata:\n  name: [p\n");
    e = error_of([&] { load_pod_config(y); });
    cr_expect(e.find(y + ":") != std::string::npos, "%s", e.c_str());
    e = error_of([] { load_pod_config("/nonexistent/pod.json"); });
    cr_expect(e.find("config at /nonexistent/pod.json not found") != std::string::npos, "%s", e.c_str());
    // crictl's required metadata.
    auto n = write("nons.json", R"({"metadata": {"name": "p"}})");
    e = error_of([&] { load_pod_config(n); });
    cr_expect(e.find("metadata.namespace") != std::string::npos, "%s", e.c_str());
    auto c = write("noname.json", R"({"image": {"image": "busybox"}})");
    e = error_of([&] { load_container_config(c); });
    cr_expect(e.find("metadata is not set") != std::string::npos, "%s", e.c_str());
}

Test(berthctl_config, yaml_scalars) {
    cr_expect_eq(yaml_to_json("a: 1\nb: '1'\nc: true\nd: \"true\"\ne: ~\nf: 1.5\ng: x y\n", "t"),
                 R"({"a":1,"b":"1","c":true,"d":"true","e":null,"f":1.5,"g":"x y"})");
    cr_expect_eq(yaml_to_json("- [1, two]\n- {k: v}\n", "t"), R"([[1,"two"],{"k":"v"}])");
}
