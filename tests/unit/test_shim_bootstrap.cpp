// berth-shim's start handshake and -info (shim/bootstrap.hpp): containerd
// 2.3's BootstrapParams accepted only for this shim's id and namespace,
// runtime options from an older containerd taken for what they are, the
// reply in both protocols, RuntimeInfo, and the bounded stdin read. Field
// numbers are checked against hand-encoded bytes, independently of our
// .proto files.
#include <criterion/criterion.h>

#include "bootstrap.hpp"
#include "bootstrap.pb.h"
#include "fd.hpp"
#include "introspection.pb.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <string>

using namespace berth;
using namespace berth::shim;

namespace {

// A length-delimited field (wire type 2); values shorter than 128 bytes.
std::string ld(int field, const std::string& v) {
    return std::string(1, static_cast<char>(field << 3 | 2)) + static_cast<char>(v.size()) + v;
}

// log_level = -4 (DEBUG): an int32 enum, so a 10-byte varint.
const std::string debug_level("\x18\xfc\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);

// What containerd 2.3 writes for `ctr run` in namespace k8s.io.
std::string params_bytes(const std::string& id = "c1", const std::string& ns = "k8s.io") {
    std::string any = ld(1, "containerd.runc.v1.Options") + ld(2, ld(7, "berth"));
    return ld(1, id) + ld(2, ns) + debug_level + ld(4, "v2.3.0") +
           ld(5, "/run/containerd/containerd.sock.ttrpc") + ld(6, "/run/containerd/containerd.sock") +
           ld(7, "/usr/bin/containerd") + ld(8, ld(1, any)) + ld(9, "/run/containerd/s");
}

} // namespace

Test(bootstrap, parses_containerds_encoding) {
    auto p = parse_bootstrap(params_bytes(), "c1", "k8s.io");
    cr_assert(p.has_value());
    cr_assert(p->instance_id == "c1" && p->ns == "k8s.io");
    cr_assert_eq(p->log_level, -4);
    cr_assert(p->containerd_version == "v2.3.0");
    cr_assert(p->ttrpc_address == "/run/containerd/containerd.sock.ttrpc");
    cr_assert(p->grpc_address == "/run/containerd/containerd.sock");
    cr_assert(p->containerd_binary == "/usr/bin/containerd");
    cr_assert(p->socket_dir && *p->socket_dir == "/run/containerd/s");
}

Test(bootstrap, our_proto_matches_containerds_field_numbers) {
    berth::bootstrap::BootstrapParams m;
    m.set_instance_id("c1");
    m.set_namespace_("k8s.io");
    m.set_log_level(berth::bootstrap::LOG_LEVEL_DEBUG);
    m.set_containerd_version("v2.3.0");
    m.set_containerd_ttrpc_address("/run/containerd/containerd.sock.ttrpc");
    m.set_containerd_grpc_address("/run/containerd/containerd.sock");
    m.set_containerd_binary("/usr/bin/containerd");
    auto* any = m.add_extensions()->mutable_value();
    any->set_type_url("containerd.runc.v1.Options");
    any->set_value(ld(7, "berth"));
    m.set_socket_dir("/run/containerd/s");
    cr_assert(m.SerializeAsString() == params_bytes());
}

Test(bootstrap, minimal_params_default_to_info) {
    // Only what identifies the shim: no addresses (keep the flags), INFO.
    auto p = parse_bootstrap(ld(1, "c1") + ld(2, "default"), "c1", "default");
    cr_assert(p.has_value());
    cr_assert_eq(p->log_level, 0);
    cr_assert(p->ttrpc_address.empty() && p->grpc_address.empty() && p->containerd_binary.empty());
    cr_assert(!p->socket_dir.has_value());
    // TRACE (-8) is more verbose still.
    auto t = parse_bootstrap(ld(1, "c1") + ld(2, "default") + std::string("\x18\xf8\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11),
                             "c1", "default");
    cr_assert(t.has_value() && t->log_level == -8);
}

Test(bootstrap, rejects_another_shims_params) {
    cr_assert(!parse_bootstrap(params_bytes(), "c2", "k8s.io").has_value(), "another id");
    cr_assert(!parse_bootstrap(params_bytes(), "c1", "default").has_value(), "another namespace");
    cr_assert(!parse_bootstrap(params_bytes("", ""), "", "").has_value(), "no id at all");
}

Test(bootstrap, rejects_empty_and_garbage) {
    cr_assert(!parse_bootstrap("", "c1", "k8s.io").has_value());
    cr_assert(!parse_bootstrap(std::string("\xff\xff\xff\xff", 4), "c1", "k8s.io").has_value());
    // A length running past the end.
    cr_assert(!parse_bootstrap(std::string("\x0a\x10" "c1", 4), "c1", "k8s.io").has_value());
    cr_assert(!parse_bootstrap("unix:///run/containerd/s/abc", "c1", "k8s.io").has_value());
}

Test(bootstrap, legacy_runtime_options_are_not_params) {
    // containerd 1.7 and 2.0 to 2.2: a protobuf Any of the runtime options.
    // It parses as BootstrapParams (instance_id = the type_url) but names
    // neither this shim nor its namespace.
    std::string any = ld(1, "containerd.runc.v1.Options") + ld(2, ld(7, "berth"));
    berth::bootstrap::BootstrapParams m;
    cr_assert(m.ParseFromString(any), "protobuf alone cannot tell them apart");
    cr_assert(!parse_bootstrap(any, "c1", "k8s.io").has_value());
}

Test(bootstrap, modern_reply_is_a_bootstrap_result) {
    const std::string addr = "unix:///run/berth-shim/s/0123456789abcdef";
    std::string got = start_reply(true, addr);
    // version=1 (varint 3), address=2, protocol=3.
    std::string want = std::string("\x08\x03", 2) + ld(2, addr) + ld(3, "ttrpc");
    cr_assert(got == want, "BootstrapResult bytes differ from containerd's field numbering");
    berth::bootstrap::BootstrapResult r;
    cr_assert(r.ParseFromString(got));
    cr_assert(r.version() == 3 && r.address() == addr && r.protocol() == "ttrpc");
    cr_assert_eq(r.capabilities_size(), 0);
}

Test(bootstrap, legacy_reply_is_the_plain_address) {
    cr_assert(start_reply(false, "unix:///run/x") == "unix:///run/x");
}

Test(info, runtime_info_fields) {
    std::string got = runtime_info("", "0.1.0", "{\"ociVersionMin\":\"1.0.0\"}");
    // name=1, version=2 {version=1}: the leading bytes, by hand.
    std::string head = ld(1, "io.containerd.berth.v2") + ld(2, ld(1, "0.1.0"));
    cr_assert(got.compare(0, head.size(), head) == 0);
    berth::types::RuntimeInfo info;
    cr_assert(info.ParseFromString(got));
    cr_assert(!info.has_options(), "no options in, none out");
    cr_assert(info.features().type_url() == "types.containerd.io/opencontainers/runtime-spec/1/features/Features");
    cr_assert(info.features().value() == "{\"ociVersionMin\":\"1.0.0\"}");
    cr_assert_eq(info.annotations_size(), 0);
    // features=4 carries type_url=1 and value=2.
    std::string feat = ld(4, ld(1, info.features().type_url()) + ld(2, info.features().value()));
    cr_assert(got.find(feat) != std::string::npos);
}

Test(info, echoes_runtime_options) {
    std::string any = ld(1, "containerd.runc.v1.Options") + ld(2, ld(7, "berth"));
    berth::types::RuntimeInfo info;
    cr_assert(info.ParseFromString(runtime_info(any, "0.1.0", "{}")));
    cr_assert(info.has_options());
    cr_assert(info.options().type_url() == "containerd.runc.v1.Options");
    cr_assert(info.options().value() == ld(7, "berth"));
    // Not an Any: left out.
    berth::types::RuntimeInfo none;
    cr_assert(none.ParseFromString(runtime_info(std::string("\xff\xff", 2), "0.1.0", "{}")));
    cr_assert(!none.has_options());
}

Test(input, reads_a_closed_pipe) {
    int p[2];
    cr_assert_eq(::pipe(p), 0);
    UniqueFd r(p[0]), w(p[1]);
    std::string msg = params_bytes();
    cr_assert_eq(::write(w.get(), msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
    w.reset();
    cr_assert(read_input(r.get(), 1 << 20, 1000) == msg);
}

Test(input, empty_from_dev_null) {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    cr_assert(read_input(fd.get(), 1 << 20, 1000).empty());
}

Test(input, gives_up_on_a_pipe_never_closed) {
    int p[2];
    cr_assert_eq(::pipe(p), 0);
    UniqueFd r(p[0]), w(p[1]);
    cr_assert_eq(::write(w.get(), "partial", 7), 7);
    auto t0 = std::chrono::steady_clock::now();
    cr_assert(read_input(r.get(), 1 << 20, 100).empty(), "incomplete input is no input");
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    cr_assert(ms >= 90 && ms < 2000, "took %lld ms", static_cast<long long>(ms));
}

Test(input, over_the_limit_is_dropped) {
    int p[2];
    cr_assert_eq(::pipe(p), 0);
    UniqueFd r(p[0]), w(p[1]);
    std::string big(2048, 'x');
    cr_assert_eq(::write(w.get(), big.data(), big.size()), 2048);
    w.reset();
    cr_assert(read_input(r.get(), 1024, 1000).empty());
}

Test(input, skips_a_terminal) {
    UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master || ::grantpt(master.get()) < 0 || ::unlockpt(master.get()) < 0) cr_skip_test("no pseudo-terminal here");
    UniqueFd slave(::open(::ptsname(master.get()), O_RDWR | O_NOCTTY | O_CLOEXEC));
    cr_assert(slave);
    // Nobody will send EOF on a terminal: not even a wait.
    auto t0 = std::chrono::steady_clock::now();
    cr_assert(read_input(slave.get(), 1 << 20, 5000).empty());
    cr_assert(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
}
