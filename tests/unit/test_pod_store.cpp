// berthd's pod and container records (cri/pod/pod_store.cpp): what is
// written is what a restarted berthd loads, names are unique, ids resolve
// by prefix, and what a crash leaves (temp files, a torn record) is not
// mistaken for a record.
#include "error.hpp"
#include "file_util.hpp"
#include "pod_store.hpp"

#include <criterion/criterion.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

using berth::Error;
using namespace berth::cri;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/berth-podstore.XXXXXX";
        cr_assert(::mkdtemp(t));
        path = t;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

PodRecord pod(const std::string& id, const std::string& name) {
    PodRecord p;
    p.set_id(id);
    p.mutable_config()->mutable_metadata()->set_name(name);
    p.mutable_config()->mutable_metadata()->set_namespace_("ns");
    p.mutable_config()->mutable_metadata()->set_uid("u-" + name);
    p.set_state(runtime::v1::SANDBOX_READY);
    return p;
}

ContainerRecord ctr(const std::string& id, const std::string& pod_id, const std::string& name) {
    ContainerRecord c;
    c.set_id(id);
    c.set_pod_id(pod_id);
    c.mutable_config()->mutable_metadata()->set_name(name);
    c.set_state(runtime::v1::CONTAINER_RUNNING);
    c.set_exit_code(0);
    return c;
}

int err_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.err();
    }
    return 0;
}

} // namespace

Test(pod_store, records_survive_a_restart) {
    TempDir t;
    {
        PodStore s(t.path + "/pods");
        s.put(pod("aaaa1111", "web"));
        auto c = ctr("cccc2222", "aaaa1111", "app");
        c.set_exit_code(137);
        c.set_reason("OOMKilled");
        s.put(c);
    }
    PodStore s(t.path + "/pods");
    cr_assert(s.load_errors().empty());
    auto p = s.pod("aaaa1111");
    cr_assert(p && p->config().metadata().name() == "web");
    auto c = s.container("cccc2222");
    cr_assert(c && c->exit_code() == 137 && c->reason() == "OOMKilled");
    cr_assert_eq(s.containers("aaaa1111").size(), 1u);
    cr_assert_eq(s.containers("other").size(), 0u);
    // The names come back with the records.
    cr_assert_eq(err_of([&] { s.reserve_pod_name(pod_name_key(p->config().metadata()), "bbbb"); }), EEXIST);
    cr_assert_eq(err_of([&] { s.reserve_container_name(container_name_key("aaaa1111", c->config().metadata()), "x"); }),
                 EEXIST);
}

Test(pod_store, a_container_needs_its_pod) {
    TempDir t;
    PodStore s(t.path + "/pods");
    cr_assert_eq(err_of([&] { s.put(ctr("c1", "nopod", "app")); }), ENOENT);
    cr_assert(!std::filesystem::exists(t.path + "/pods/nopod"));
}

Test(pod_store, ids_resolve_by_unique_prefix) {
    TempDir t;
    PodStore s(t.path + "/pods");
    s.put(pod("abc123", "a"));
    s.put(pod("abd456", "b"));
    cr_assert_eq(s.resolve_pod("abc"), "abc123");
    cr_assert_eq(s.resolve_pod("abd456"), "abd456");
    cr_assert_eq(err_of([&] { s.resolve_pod("ab"); }), EINVAL);
    cr_assert_eq(err_of([&] { s.resolve_pod("zz"); }), ENOENT);
    cr_assert_eq(err_of([&] { s.resolve_pod(""); }), EINVAL);
    cr_assert_eq(err_of([&] { s.resolve_container("abc"); }), ENOENT);
}

Test(pod_store, erase_forgets_names_and_files) {
    TempDir t;
    PodStore s(t.path + "/pods");
    auto p = pod("p1", "web");
    s.put(p);
    s.reserve_pod_name(pod_name_key(p.config().metadata()), "p1");
    auto c = ctr("c1", "p1", "app");
    s.put(c);
    s.reserve_container_name(container_name_key("p1", c.config().metadata()), "c1");
    s.erase_container("c1");
    cr_assert(!s.container("c1"));
    cr_assert(!std::filesystem::exists(t.path + "/pods/p1/containers/c1.pb"));
    s.reserve_container_name(container_name_key("p1", c.config().metadata()), "c2");   // free again
    s.erase_pod("p1");
    cr_assert(!std::filesystem::exists(t.path + "/pods/p1"));
    s.reserve_pod_name(pod_name_key(p.config().metadata()), "p2");
    s.erase_pod("p1");   // again: no error
}

Test(pod_store, crash_leftovers_are_not_records) {
    TempDir t;
    {
        PodStore s(t.path + "/pods");
        s.put(pod("p1", "web"));
        s.put(ctr("c1", "p1", "app"));
    }
    // A temp file of an interrupted write, and a torn record.
    berth::write_file_atomic(t.path + "/pods/p1/containers/.c2.pb.tmp123", "garbage", 0600);
    berth::write_file_atomic(t.path + "/pods/p1/containers/c3.pb", std::string("\x0a\xff\xff", 3), 0600);
    PodStore s(t.path + "/pods");
    cr_assert_eq(s.containers().size(), 1u);
    cr_assert_eq(s.load_errors().size(), 1u, "%zu", s.load_errors().size());
    cr_assert(s.load_errors()[0].find("c3.pb") != std::string::npos, "%s", s.load_errors()[0].c_str());
}

Test(pod_store, new_ids_are_64_hex_and_distinct) {
    std::string a = new_id(), b = new_id();
    cr_assert_eq(a.size(), 64u);
    cr_assert(a.find_first_not_of("0123456789abcdef") == std::string::npos);
    cr_assert_neq(a, b);
}
