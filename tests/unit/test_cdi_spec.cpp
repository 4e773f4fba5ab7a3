// spec/cdi: parsing (JSON and YAML), validation with the field named,
// versions, qualified names, and writing (both formats round-trip).
#include "spec_test_util.hpp"

#include "cdi.hpp"

using namespace berth::spec::cdi;

namespace {

const char* kJson = R"({
  "cdiVersion": "0.6.0",
  "kind": "vendor.com/gpu",
  "annotations": {"a": "b"},
  "containerEdits": {
    "env": ["VENDOR=1"],
    "deviceNodes": [{"path": "/dev/vendorctl", "type": "c", "major": 240, "minor": 255, "fileMode": 438,
                     "permissions": "rw", "uid": 0, "gid": 44}],
    "mounts": [{"hostPath": "/opt/v/lib/libv.so.1", "containerPath": "/usr/lib/libv.so.1", "options": ["ro", "bind"]}],
    "hooks": [{"hookName": "createContainer", "path": "/usr/bin/hook", "args": ["hook", "x"], "env": ["A=1"], "timeout": 5}]
  },
  "devices": [
    {"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/vendor0", "hostPath": "/dev/v0"}]}},
    {"name": "all", "annotations": {"k": "v"}, "containerEdits": {"deviceNodes": [{"path": "/dev/vendor0"}]}}
  ]
})";

const char* kYaml = R"(---
cdiVersion: "0.6.0"
kind: vendor.com/gpu
annotations:
  a: b
containerEdits:
  env:
  - VENDOR=1
  deviceNodes:
  - path: /dev/vendorctl
    type: c
    major: 240
    minor: 0xff
    fileMode: 0666
    permissions: rw
    uid: 0
    gid: 44
  mounts:
  - hostPath: /opt/v/lib/libv.so.1
    containerPath: /usr/lib/libv.so.1
    options: [ro, bind]
  hooks:
  - hookName: createContainer
    path: /usr/bin/hook
    args: ["hook", "x"]
    env: [A=1]
    timeout: 5
devices:
- name: 0
  containerEdits:
    deviceNodes:
    - {path: /dev/vendor0, hostPath: /dev/v0}
- name: all
  annotations: {k: v}
  containerEdits:
    deviceNodes:
    - path: /dev/vendor0
)";

Spec valid() {
    Spec s;
    s.cdiVersion = "0.3.0";
    s.kind = "vendor.com/gpu";
    Device d;
    d.name = "gpu0";
    d.containerEdits.env = {"A=1"};
    s.devices.push_back(d);
    return s;
}

void expect_invalid(const Spec& s, const char* want) {
    expect_error([&] { validate_spec(s, "/etc/cdi/v.yaml"); }, want);
}

} // namespace

Test(cdi_spec, json_and_yaml_parse_to_the_same_spec) {
    Spec j = parse_spec(kJson, "v.json", false);
    Spec y = parse_spec(kYaml, "v.yaml", true);
    cr_expect(j == y, "JSON and YAML differ:\n%s\n%s", to_json(j).c_str(), to_json(y).c_str());
    cr_expect_eq(y.devices.size(), 2u);
    cr_expect_eq(y.devices[0].name, "0");   // a YAML integer fills a string field
    cr_expect_eq(y.containerEdits.deviceNodes[0].minor, 255);
    cr_expect_eq(*y.containerEdits.deviceNodes[0].fileMode, 0666u);   // YAML 1.1 octal
    cr_expect_eq(*y.containerEdits.hooks[0].timeout, 5);
    cr_expect_eq(y.devices[0].containerEdits.deviceNodes[0].hostPath, "/dev/v0");
    expect_ok([&] { validate_spec(y, "v.yaml"); });
}

Test(cdi_spec, writers_round_trip) {
    Spec s = parse_spec(kJson, "v.json", false);
    cr_expect(parse_spec(to_json(s), "out.json", false) == s, "%s", to_json(s).c_str());
    cr_expect(parse_spec(to_yaml(s), "out.yaml", true) == s, "%s", to_yaml(s).c_str());
    Spec odd = valid();
    odd.devices[0].containerEdits.env = {"Q=a \"quoted\" \\ value: with # and\ttab", "U=\xc2\x85 \xe2\x80\xa8 \xe2\x80\xa9 \xc3\xa9"};
    cr_expect(parse_spec(to_yaml(odd), "odd.yaml", true) == odd, "%s", to_yaml(odd).c_str());
}

Test(cdi_spec, parse_errors_name_file_and_field) {
    expect_error([] { parse_spec(R"({"cdiVersion":"0.3.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"deviceNodes":[{"path":"/dev/x","major":"12"}]}}]})", "/etc/cdi/x.json", false); },
                 "/etc/cdi/x.json: devices[0].containerEdits.deviceNodes[0].major: expected integer");
    expect_error([] { parse_spec("cdiVersion: 0.3.0\nkind: v.com/c\ndevices:\n- name: a\n  containerEdits:\n    env: [A=1]\n  extra: 1\n", "/etc/cdi/x.yaml", true); },
                 "/etc/cdi/x.yaml: devices[0]: unknown field \"extra\"");
    expect_error([] { parse_spec("cdiVersion: [1\n", "/etc/cdi/x.yaml", true); }, "/etc/cdi/x.yaml: YAML:");
    expect_error([] { parse_spec("{\"cdiVersion\": ", "/etc/cdi/x.json", false); }, "/etc/cdi/x.json");
    expect_error([] { parse_spec("- a\n- b\n", "/etc/cdi/x.yaml", true); }, "/etc/cdi/x.yaml: expected an object");
    expect_error([] { parse_spec("kind: a\nkind: b\n", "x.yaml", true); }, "duplicate key \"kind\"");
    expect_error([] { parse_spec("cdiVersion: 0.3.0\ncontainerEdits:\n  hooks:\n  - timeout: \"5\"\n", "x.yaml", true); },
                 "containerEdits.hooks[0].timeout: expected integer");
}

Test(cdi_spec, yaml_alias_bombs_are_refused) {
    std::string y = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    char prev = 'a';
    for (char c = 'b'; c <= 'k'; ++c, ++prev) {
        y += std::string(1, c) + ": &" + c + " [";
        for (int i = 0; i < 10; ++i) y += std::string(i ? ", *" : "*") + prev;
        y += "]\n";
    }
    expect_error([&] { parse_spec(y, "bomb.yaml", true); }, "bomb.yaml");
}

Test(cdi_spec, validation_names_the_field) {
    expect_ok([] { validate_spec(valid(), "v.yaml"); });
    Spec s = valid();
    s.cdiVersion = "";
    expect_invalid(s, "/etc/cdi/v.yaml: cdiVersion: required");
    s.cdiVersion = "2.0.0";
    expect_invalid(s, "cdiVersion: unknown version \"2.0.0\"");
    s = valid();
    s.kind = "vendor.com";
    expect_invalid(s, "kind: \"vendor.com\" is not vendor.com/class");
    s.kind = "-vendor.com/gpu";
    expect_invalid(s, "kind: vendor \"-vendor.com\" should start with a letter");
    s.kind = "vendor.com/g!pu";
    expect_invalid(s, "kind: invalid character '!' in class");
    s = valid();
    s.devices.clear();
    expect_invalid(s, "devices: a spec needs at least one device");
    s = valid();
    s.devices[0].name = "bad/name";
    expect_invalid(s, "devices[0].name: invalid character '/'");
    s = valid();
    s.devices.push_back(s.devices[0]);
    expect_invalid(s, "devices[1].name: device \"gpu0\" is also devices[0]");
    s = valid();
    s.devices[0].containerEdits = {};
    expect_invalid(s, "devices[0].containerEdits: a device needs at least one edit");
    s = valid();
    s.devices[0].containerEdits.env = {"=x"};
    expect_invalid(s, "devices[0].containerEdits.env[0]: \"=x\" is not KEY=VALUE");
    s = valid();
    s.containerEdits.deviceNodes.push_back({"dev/x"});
    expect_invalid(s, "containerEdits.deviceNodes[0].path: \"dev/x\" is not absolute");
    s.containerEdits.deviceNodes[0] = {"/dev/x", "", "z"};
    expect_invalid(s, "containerEdits.deviceNodes[0].type: \"z\" is not one of b, c, u, p");
    s.containerEdits.deviceNodes[0] = {"/dev/x"};
    s.containerEdits.deviceNodes[0].permissions = "rwx";
    expect_invalid(s, "containerEdits.deviceNodes[0].permissions: \"rwx\"");
    s = valid();
    s.containerEdits.mounts.push_back({"/a", "b"});
    expect_invalid(s, "containerEdits.mounts[0].containerPath: \"b\" is not absolute");
    s = valid();
    Hook h;
    h.hookName = "preStart";
    h.path = "/bin/x";
    s.containerEdits.hooks.push_back(h);
    expect_invalid(s, "containerEdits.hooks[0].hookName: unknown hook \"preStart\"");
}

Test(cdi_spec, versions_follow_the_fields_used) {
    Spec s = valid();
    cr_expect_eq(minimum_version(s), "0.3.0");
    s.containerEdits.mounts.push_back({"/a", "/b", {}, "bind"});
    cr_expect_eq(minimum_version(s), "0.4.0");
    expect_invalid(s, "cdiVersion: 0.3.0 lacks fields this spec uses; it needs at least 0.4.0");
    s.devices[0].name = "0";
    cr_expect_eq(minimum_version(s), "0.5.0");
    s.kind = "vendor.com/gpu.x";
    cr_expect_eq(minimum_version(s), "0.6.0");
    s.containerEdits.additionalGids = {44};
    cr_expect_eq(minimum_version(s), "0.7.0");
    s.containerEdits.netDevices.push_back({"eth1", "net0"});
    cr_expect_eq(minimum_version(s), "1.1.0");
    for (auto v : known_versions()) {
        Spec t = valid();
        t.cdiVersion = std::string(v);
        expect_ok([&] { validate_spec(t, "v.yaml"); });
    }
}

Test(cdi_spec, qualified_names) {
    auto q = parse_qualified_name("nvidia.com/gpu=GPU-8f6e:1");
    cr_expect_eq(q.vendor, "nvidia.com");
    cr_expect_eq(q.cls, "gpu");
    cr_expect_eq(q.name, "GPU-8f6e:1");
    cr_expect(is_qualified_name("vendor.com/class=0"));
    cr_expect(!is_qualified_name("vendor.com/class"));
    cr_expect(!is_qualified_name("/dev/nvidia0"));
    cr_expect(!is_qualified_name("vendor.com/class="));
    expect_error([] { parse_qualified_name("gpu=0"); }, "\"gpu=0\" is not a fully-qualified CDI device name");
    expect_error([] { parse_qualified_name("v.com/c=a b"); }, "invalid character ' ' in device name");
}

// A NUL in a YAML string ("\0") is refused as JSON's "\u0000" is, so a
// spec never parses in one form and not the other (fuzz_cdi found it).
Test(cdi_spec, nul_in_a_yaml_string_is_refused_like_json) {
    const char* yaml = "cdiVersion: \"0.6.0\"\nkind: \"vendor.com/gpu\"\ndevices:\n  - name: \"a\\0b\"\n"
                       "    containerEdits:\n      env: [\"A=1\"]\n";
    try {
        parse_spec(yaml, "nul.yaml", true);
        cr_assert_fail("a NUL in a YAML string was accepted");
    } catch (const berth::Error& e) {
        cr_assert(std::string(e.what()).find("nul.yaml: a NUL character in a string is not supported") != std::string::npos,
                  "%s", e.what());
    }
}
