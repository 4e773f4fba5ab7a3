// berthd's CNI pieces without berthd: config lists and the directory pick,
// the config each plugin gets, results, and plugin calls (with shell
// scripts for plugins: errors, timeouts, the environment).
#include "../unit/test_dir.hpp"

#include "cni_config.hpp"
#include "cni_network.hpp"
#include "cni_plugin.hpp"
#include "cni_result.hpp"
#include "error.hpp"
#include "file_util.hpp"
#include "json.hpp"

#include <criterion/criterion.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <string>

using namespace berth;
using namespace berth::cri::net;

TestSuite(cni, .init = make_test_dir, .fini = remove_test_dir);

namespace {

const char* kList = R"({"cniVersion":"1.0.0","name":"pods","disableCheck":true,"plugins":[
  {"type":"bridge","bridge":"cni0","ipam":{"type":"host-local","ranges":[[{"subnet":"10.1.0.0/16"}]]},"mtu":1450.0},
  {"type":"portmap","name":"mine","cniVersion":"0.3.1","capabilities":{"portMappings":true,"bandwidth":false},
   "runtimeConfig":{"stale":1},"prevResult":{"old":true}}
]})";

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

void plugin_script(const std::string& name, const std::string& body) {
    std::string p = test_dir() + "/" + name;
    write_file_atomic(p, "#!/bin/sh\n" + body, 0755);
}

PluginCall call_in_test_dir(const std::string& cmd) {
    PluginCall c;
    c.command = cmd;
    c.container_id = "pod1";
    c.netns = "/run/netns/x";
    c.args = "K8S_POD_NAME=a";
    c.bin_dirs = {test_dir() + "/none", test_dir()};
    c.timeout = std::chrono::milliseconds(2000);
    return c;
}

} // namespace

Test(cni, list_parses_plugins_and_capabilities) {
    auto l = parse_network_list(kList, "/etc/cni/net.d/10.conflist", false);
    cr_assert_eq(l.name, "pods");
    cr_assert_eq(l.cni_version, "1.0.0");
    cr_assert(l.disable_check);
    cr_assert_eq(l.plugins.size(), 2u);
    cr_assert_eq(l.plugins[0].type, "bridge");
    cr_assert(l.plugins[0].capabilities.empty());
    cr_assert_eq(l.plugins[1].capabilities.size(), 1u);   // bandwidth: false is not asked for
    cr_assert_eq(l.plugins[1].capabilities[0], "portMappings");
}

Test(cni, bad_lists_name_the_file_and_field) {
    cr_assert(error_of([] { parse_network_list(R"({"cniVersion":"1.0.0","name":"x","plugins":[]})", "/d/a.conflist", false); })
                  .find("/d/a.conflist: plugins: no plugins") != std::string::npos);
    cr_assert(error_of([] { parse_network_list(R"({"cniVersion":"1.0.0","plugins":[{"type":"b"}]})", "/d/b.conflist", false); })
                  .find("/d/b.conflist: name: missing") != std::string::npos);
    std::string e = error_of([] {
        parse_network_list(R"({"cniVersion":"1.0.0","name":"x","plugins":[{"type":"../../bin/sh"}]})", "/d/c.conflist", false);
    });
    cr_assert(e.find("plugins[0].type") != std::string::npos && e.find("not a plugin name") != std::string::npos, "%s", e.c_str());
    cr_assert(error_of([] { parse_network_list(R"({"cniVersion":"one","name":"x","plugins":[{"type":"b"}]})", "/d/d.conflist", false); })
                  .find("cniVersion: \"one\" is not a version") != std::string::npos);
    cr_assert(error_of([] { parse_network_list("{nope", "/d/e.conflist", false); }).find("/d/e.conflist") != std::string::npos);
}

Test(cni, a_single_conf_becomes_a_list_of_one) {
    auto l = parse_network_list(R"({"cniVersion":"0.4.0","name":"one","type":"ptp","ipMasq":true})", "/d/1.conf", true);
    cr_assert_eq(l.plugins.size(), 1u);
    cr_assert_eq(l.plugins[0].type, "ptp");
    std::string cfg = plugin_config(l, 0, {}, "");
    json::Document d(cfg, "");
    cr_assert_eq(d.root().get("type").as_string(), "ptp");
    cr_assert(d.root().get("ipMasq").as_bool());
    cr_assert_eq(d.root().get("name").as_string(), "one");
    cr_assert_eq(d.root().get("cniVersion").as_string(), "0.4.0");
}

Test(cni, plugin_config_sets_runtime_keys_and_only_declared_capabilities) {
    auto l = parse_network_list(kList, "/d/10.conflist", false);
    std::map<std::string, std::string> caps = {{"portMappings", R"([{"hostPort":80,"containerPort":8080}])"},
                                               {"bandwidth", R"({"ingressRate":1000})"}};
    // bridge declared nothing: no runtimeConfig, no prevResult on the first ADD.
    json::Document b(plugin_config(l, 0, caps, ""), "");
    cr_assert(!b.root().has("runtimeConfig"));
    cr_assert(!b.root().has("prevResult"));
    cr_assert_eq(b.root().get("name").as_string(), "pods");
    // Numbers pass through as written.
    cr_assert(plugin_config(l, 0, caps, "").find("\"mtu\":1450.0") != std::string::npos);
    // portmap: its own name, version, runtimeConfig and prevResult replaced.
    json::Document p(plugin_config(l, 1, caps, R"({"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/16"}]})"), "");
    auto r = p.root();
    cr_assert_eq(r.get("name").as_string(), "pods");
    cr_assert_eq(r.get("cniVersion").as_string(), "1.0.0");
    cr_assert_eq(r.get("runtimeConfig").members().size(), 1u);
    cr_assert_eq(r.get("runtimeConfig").get("portMappings").as_array()[0].get("hostPort").as_int64(), 80);
    cr_assert(!r.get("runtimeConfig").has("stale"));
    cr_assert_eq(r.get("prevResult").get("ips").as_array()[0].get("address").as_string(), "10.1.0.5/16");
    cr_assert(!r.get("prevResult").has("old"));
}

Test(cni, the_lexically_first_valid_file_wins) {
    std::string d = test_dir();
    std::string why;
    cr_assert(!find_network(d + "/missing", why));
    cr_assert(why.find(d + "/missing") != std::string::npos, "%s", why.c_str());
    cr_assert(!find_network(d, why));
    cr_assert(why.find("no valid CNI network config in " + d) != std::string::npos, "%s", why.c_str());
    write_file_atomic(d + "/30-c.conflist", R"({"cniVersion":"1.0.0","name":"c","plugins":[{"type":"x"}]})", 0644);
    write_file_atomic(d + "/20-b.conf", R"({"cniVersion":"1.0.0","name":"b","type":"y"})", 0644);
    write_file_atomic(d + "/10-a.conflist", R"({"cniVersion":"1.0.0","name":"a","plugins":[]})", 0644);   // bad
    write_file_atomic(d + "/05-z.txt", R"({"cniVersion":"1.0.0","name":"z","type":"y"})", 0644);       // not a config name
    auto n = find_network(d, why);
    cr_assert(n);
    cr_assert_eq(n->name, "b");
    cr_assert_eq(n->file, d + "/20-b.conf");
    ::unlink((d + "/20-b.conf").c_str());
    n = find_network(d, why);
    cr_assert(n && n->name == "c");
}

Test(cni, versions_compare_by_number) {
    cr_assert(version_at_least("1.0.0", 0, 4, 0));
    cr_assert(version_at_least("0.4.0", 0, 4, 0));
    cr_assert(!version_at_least("0.3.1", 0, 4, 0));
    cr_assert(version_at_least("0.10.0", 0, 4, 0));
    cr_assert(!version_at_least("x", 0, 1, 0));
}

Test(cni, result_ips_pod_side_ipv4_first) {
    const char* r = R"({"cniVersion":"1.0.0",
      "interfaces":[{"name":"cni0","mac":"aa"},{"name":"veth1","mac":"bb"},{"name":"eth0","mac":"cc","sandbox":"/run/netns/p"}],
      "ips":[{"address":"fd00::5/64","interface":2},{"address":"10.1.0.1/16","interface":0},{"address":"10.1.0.5/16","interface":2}]})";
    auto ips = result_ips(r, "result");
    cr_assert_eq(ips.size(), 2u);
    cr_assert_eq(ips[0], "10.1.0.5");
    cr_assert_eq(ips[1], "fd00::5");
    // 0.2.0: ip4/ip6.
    auto old = result_ips(R"({"cniVersion":"0.2.0","ip4":{"ip":"10.2.0.3/24"},"ip6":{"ip":"fd01::3/64"}})", "result");
    cr_assert_eq(old.size(), 2u);
    cr_assert_eq(old[0], "10.2.0.3");
    std::string e = error_of([] { result_ips(R"({"ips":[{"address":"not-an-ip/24"}]})", "the result"); });
    cr_assert(e.find("ips[0].address") != std::string::npos && e.find("not an IP address") != std::string::npos, "%s", e.c_str());
}

Test(cni, plugin_gets_env_and_stdin_and_its_stdout_is_the_result) {
    plugin_script("echoer", "env | grep '^CNI_' | sort > \"$0.env\"\ncat > \"$0.in\"\necho '{\"cniVersion\":\"1.0.0\"}'\n");
    std::string out = run_plugin("echoer", R"({"type":"echoer"})", call_in_test_dir("ADD"));
    cr_assert_eq(out, "{\"cniVersion\":\"1.0.0\"}\n");
    std::string env = read_file(test_dir() + "/echoer.env");
    for (const char* want : {"CNI_COMMAND=ADD\n", "CNI_CONTAINERID=pod1\n", "CNI_NETNS=/run/netns/x\n", "CNI_IFNAME=eth0\n",
                             "CNI_ARGS=K8S_POD_NAME=a\n"})
        cr_assert(env.find(want) != std::string::npos, "%s missing in %s", want, env.c_str());
    cr_assert(env.find("CNI_PATH=" + test_dir() + "/none:" + test_dir() + "\n") != std::string::npos, "%s", env.c_str());
    cr_assert_eq(read_file(test_dir() + "/echoer.in"), R"({"type":"echoer"})");
}

Test(cni, plugin_errors_carry_code_msg_details) {
    plugin_script("failer", "cat >/dev/null\necho '{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"no address left\",\"details\":\"range 10.1.0.0/30\"}'\nexit 1\n");
    std::string e = error_of([] { run_plugin("failer", "{}", call_in_test_dir("ADD")); });
    cr_assert(e.find("CNI plugin failer ADD failed: no address left (code 7; range 10.1.0.0/30)") != std::string::npos, "%s", e.c_str());
    // No error object: the last line of stderr.
    plugin_script("crasher", "cat >/dev/null\necho 'line one' >&2\necho 'panic: it broke' >&2\nexit 2\n");
    e = error_of([] { run_plugin("crasher", "{}", call_in_test_dir("DEL")); });
    cr_assert(e.find("CNI plugin crasher DEL failed: panic: it broke") != std::string::npos, "%s", e.c_str());
    e = error_of([] { run_plugin("absent", "{}", call_in_test_dir("ADD")); });
    cr_assert(e.find("CNI plugin \"absent\" is not in the plugin dirs (" + test_dir() + "/none, " + test_dir() + ")") !=
                  std::string::npos, "%s", e.c_str());
}

Test(cni, a_hung_plugin_and_its_children_are_killed) {
    // The child keeps stdout open after the plugin exits: the deadline still holds.
    plugin_script("hanger", "cat >/dev/null\nsleep 300 &\necho $! > \"$0.child\"\nsleep 300\n");
    auto t0 = std::chrono::steady_clock::now();
    std::string e = error_of([] { run_plugin("hanger", "{}", call_in_test_dir("ADD")); });
    auto took = std::chrono::steady_clock::now() - t0;
    cr_assert(e.find("CNI plugin hanger ADD: no answer in 2 s; killed") != std::string::npos, "%s", e.c_str());
    cr_assert(took < std::chrono::seconds(20));
    pid_t child = std::stoi(read_file(test_dir() + "/hanger.child"));
    // Gone, or a zombie waiting for whoever inherited it.
    auto alive = [&] {
        std::string st;
        try {
            st = read_file("/proc/" + std::to_string(child) + "/stat");
        } catch (const Error&) {
            return false;
        }
        return st.find(") Z ") == std::string::npos;
    };
    for (int i = 0; i < 100 && alive(); ++i) ::usleep(10000);
    bool gone = !alive();
    if (!gone) ::kill(child, SIGKILL);
    cr_assert(gone, "the plugin's child %d outlived it", child);
}

Test(cni, k8s_args_in_kubelets_order) {
    PodNetwork p;
    p.pod_id = "abc";
    p.name = "web";
    p.namespace_ = "default";
    p.uid = "u-1";
    cr_assert_eq(k8s_args(p), "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1");
}

namespace {

// Two plugins that log each call ("CMD name prev=yes|no") in DIR/log; the
// first returns a result, the second passes its prevResult on, and fails a
// command while DIR/fail-CMD exists.
NetworkList two_plugins(const std::string& dir) {
    plugin_script("first", "in=$(cat)\necho \"$CNI_COMMAND first prev=$(echo \"$in\" | grep -q prevResult && echo yes || echo no)\" >> " + dir +
                               "/log\n[ \"$CNI_COMMAND\" = ADD ] && echo '{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/x\"}],"
                               "\"ips\":[{\"address\":\"10.5.0.7/24\",\"interface\":0}]}'\nexit 0\n");
    plugin_script("second", "in=$(cat)\necho \"$CNI_COMMAND second prev=$(echo \"$in\" | grep -q 10.5.0.7 && echo yes || echo no)\" >> " + dir +
                                "/log\nif [ -e " + dir + "/fail-$CNI_COMMAND ]; then echo '{\"code\":100,\"msg\":\"second says no\"}'; exit 1; fi\n"
                                "[ \"$CNI_COMMAND\" = ADD ] && echo \"$in\" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)[\"prevResult\"]))'\nexit 0\n");
    return parse_network_list(R"({"cniVersion":"1.0.0","name":"two","plugins":[{"type":"first"},{"type":"second"}]})",
                              dir + "/two.conflist", false);
}

CniNetwork network_in(const std::string& dir) {
    return CniNetwork(CniSettings{dir + "/conf", {dir}, std::chrono::seconds(5), dir + "/cache"});
}

PodNetwork pod(const std::string& id) {
    PodNetwork p;
    p.pod_id = id;
    p.netns = "/proc/self/ns/net";
    p.name = "n";
    p.namespace_ = "ns";
    p.uid = "u";
    return p;
}

} // namespace

Test(cni, setup_chains_caches_and_teardown_runs_del_in_reverse_from_the_cache) {
    std::string d = test_dir();
    auto list = two_plugins(d);
    auto net = network_in(d);
    auto ips = net.setup(list, pod("p1"));
    cr_assert_eq(ips.size(), 1u);
    cr_assert_eq(ips[0], "10.5.0.7");
    cr_assert(net.has_state("p1"));
    cr_assert_eq(read_file(d + "/log"), "ADD first prev=no\nADD second prev=yes\n");
    // CHECK from the cache, in order, with the whole result.
    auto chk = net.check("p1");
    cr_assert(chk && chk->empty(), "%s", chk ? chk->c_str() : "nullopt");
    // The plugins change after setup: DEL still runs the cached list.
    ::unlink((d + "/log").c_str());
    write_file_atomic(d + "/first.conflist", "{}", 0644);
    net.teardown("p1");
    cr_assert_eq(read_file(d + "/log"), "DEL second prev=yes\nDEL first prev=yes\n");
    cr_assert(!net.has_state("p1"));
    net.teardown("p1");   // nothing left to delete: not an error
    cr_assert(!net.check("p1"));
}

Test(cni, a_failed_add_deletes_what_was_added_and_keeps_no_cache) {
    std::string d = test_dir();
    auto list = two_plugins(d);
    auto net = network_in(d);
    write_file_atomic(d + "/fail-ADD", "", 0644);
    std::string e = error_of([&] { net.setup(list, pod("p2")); });
    cr_assert(e.find("second says no (code 100)") != std::string::npos, "%s", e.c_str());
    cr_assert_eq(read_file(d + "/log"), "ADD first prev=no\nADD second prev=yes\nDEL second prev=yes\nDEL first prev=yes\n");
    cr_assert(!net.has_state("p2"));
}

Test(cni, a_failing_del_is_retried_reported_and_keeps_the_cache) {
    std::string d = test_dir();
    auto list = two_plugins(d);
    auto net = network_in(d);
    net.setup(list, pod("p3"));
    write_file_atomic(d + "/fail-DEL", "", 0644);
    std::string e = error_of([&] { net.teardown("p3"); });
    cr_assert(e.find("CNI DEL of network two: CNI plugin second DEL failed: second says no") != std::string::npos &&
                  e.find("tried 3 times") != std::string::npos, "%s", e.c_str());
    cr_assert(net.has_state("p3"));
    ::unlink((d + "/fail-DEL").c_str());
    net.teardown("p3");
    cr_assert(!net.has_state("p3"));
}

Test(cni, check_is_skipped_before_0_4_0_and_with_disable_check) {
    std::string d = test_dir();
    two_plugins(d);
    auto net = network_in(d);
    auto old = parse_network_list(R"({"cniVersion":"0.3.1","name":"old","plugins":[{"type":"first"}]})", d + "/o.conflist", false);
    net.setup(old, pod("p4"));
    cr_assert(!net.check("p4"));
    auto off = parse_network_list(R"({"cniVersion":"1.0.0","name":"off","disableCheck":true,"plugins":[{"type":"first"}]})",
                                  d + "/f.conflist", false);
    net.setup(off, pod("p5"));
    cr_assert(!net.check("p5"));
    net.teardown("p4");
    net.teardown("p5");
}

Test(cni, current_follows_the_config_dir) {
    std::string d = test_dir();
    auto net = network_in(d);
    std::string why;
    cr_assert(!net.current(&why));
    cr_assert(why.find(d + "/conf") != std::string::npos, "%s", why.c_str());
    ::mkdir((d + "/conf").c_str(), 0755);   // appears later: watched from then on
    cr_assert(!net.current(&why));
    write_file_atomic(d + "/conf/10-a.conflist", R"({"cniVersion":"1.0.0","name":"a","plugins":[{"type":"first"}]})", 0644);
    auto n = net.current(&why);
    cr_assert(n && n->name == "a", "%s", why.c_str());
    write_file_atomic(d + "/conf/05-b.conflist", R"({"cniVersion":"1.0.0","name":"b","plugins":[{"type":"first"}]})", 0644);
    n = net.current();
    cr_assert(n && n->name == "b");
    ::unlink((d + "/conf/05-b.conflist").c_str());
    ::unlink((d + "/conf/10-a.conflist").c_str());
    cr_assert(!net.current(&why));
}
