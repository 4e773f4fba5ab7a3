// spec/relax: what runc takes though the spec would not, repaired with a
// warning; what would widen access left alone for validation to refuse.
#include "spec_test_util.hpp"

#include "config.hpp"

#include <algorithm>

using namespace berth::spec;

namespace {

Config base() {
    Config c;
    c.ociVersion = "1.2.0";
    c.root.path = "rootfs";
    c.process.emplace();
    c.process->args = {"sh"};
    c.linux.emplace();
    for (NsType t : {NsType::pid, NsType::mount, NsType::ipc}) c.linux->namespaces.push_back({t, ""});
    c.linux->resources.emplace();
    return c;
}

bool mentions(const std::vector<std::string>& warnings, const std::string& s) {
    return std::any_of(warnings.begin(), warnings.end(), [&](const std::string& w) { return w.find(s) != std::string::npos; });
}

} // namespace

Test(relax, a_valid_config_is_untouched) {
    Config c = base();
    c.process->rlimits = {{"RLIMIT_NOFILE", 1, 1}, {"RLIMIT_NPROC", 2, 2}};
    c.linux->resources->devices = {{.allow = false, .access = "rwm"}, {.allow = true, .type = "c", .access = "rw"}};
    Config before = c;
    cr_expect(relax_config(c).empty());
    cr_expect(c == before);
}

Test(relax, identical_namespace_repeat_dropped) {
    Config c = base();
    c.linux->namespaces.push_back({NsType::pid, ""});
    auto w = relax_config(c);
    cr_expect_eq(c.linux->namespaces.size(), 3u);
    cr_expect(mentions(w, "linux.namespaces[3]: \"pid\" is listed twice"), "%s", w.empty() ? "" : w[0].c_str());
    TempBundle b;
    expect_ok([&] { validate_config(c, b.path()); });
}

Test(relax, namespace_repeat_with_another_path_is_kept_and_refused) {
    Config c = base();
    c.linux->namespaces.push_back({NsType::ipc, "/proc/1/ns/ipc"});
    cr_expect(relax_config(c).empty());
    TempBundle b;
    expect_error([&] { validate_config(c, b.path()); }, "linux.namespaces[3]: duplicate namespace \"ipc\"");
}

Test(relax, device_access_letters_other_than_rwm) {
    Config c = base();
    c.linux->resources->devices = {{.allow = false, .access = "rwm"},
                                   {.allow = true, .type = "c", .major = 1, .minor = 3, .access = "rrwx"},
                                   {.allow = true, .type = "c", .major = 1, .minor = 5, .access = "XY"},
                                   {.allow = false, .type = "c", .major = 1, .minor = 7, .access = "wq"}};
    auto w = relax_config(c);
    auto& d = c.linux->resources->devices;
    cr_assert_eq(d.size(), 3u, "a rule with no permission left must go (empty access means rwm)");
    cr_expect_eq(d[1].access, std::string("rw"));
    cr_expect_eq(d[2].access, std::string("w"));
    cr_expect(mentions(w, "linux.resources.devices[1].access: \"rrwx\" read as \"rw\""));
    cr_expect(mentions(w, "linux.resources.devices[2].access: \"XY\" names no permission"));
    TempBundle b;
    expect_ok([&] { validate_config(c, b.path()); });
}

Test(relax, deny_rule_in_capitals_is_left_to_be_refused) {
    Config c = base();
    c.linux->resources->devices = {{.allow = false, .type = "c", .access = "RWM"}};
    cr_expect(relax_config(c).empty());
    TempBundle b;
    expect_error([&] { validate_config(c, b.path()); }, "linux.resources.devices[0].access: invalid access \"RWM\"");
}

Test(relax, rlimit_given_twice_keeps_the_last) {
    Config c = base();
    c.process->rlimits = {{"RLIMIT_NOFILE", 9, 9}, {"RLIMIT_NPROC", 2, 2}, {"RLIMIT_NOFILE", 5, 5}};
    auto w = relax_config(c);
    cr_assert_eq(c.process->rlimits.size(), 2u);
    cr_expect(c.process->rlimits[0].type == "RLIMIT_NPROC");
    cr_expect(c.process->rlimits[1].soft == 5u);
    cr_expect(mentions(w, "process.rlimits[0]: \"RLIMIT_NOFILE\" is set again later"));
}

Test(relax, id_mappings_without_a_user_namespace_dropped) {
    Config c = base();
    c.linux->uidMappings = {{0, 1000, 1}};
    c.linux->gidMappings = {{0, 1000, 1}};
    auto w = relax_config(c);
    cr_expect(c.linux->uidMappings.empty() && c.linux->gidMappings.empty());
    cr_expect(mentions(w, "linux.uidMappings: ignored") && mentions(w, "linux.gidMappings: ignored"));
    // With one, they stay.
    Config u = base();
    u.linux->namespaces.push_back({NsType::user, ""});
    u.linux->uidMappings = {{0, 1000, 1}};
    cr_expect(relax_config(u).empty());
    cr_expect_eq(u.linux->uidMappings.size(), 1u);
}
