// berthctl's several berthds (cri/ctl/hosts.hpp, dispatch_order.hpp): the
// hosts file (URLs checked, TLS dirs anchored at the file, errors naming
// FILE:LINE) and the order `run --config` tries hosts in (most room under
// the config's quota first, then the caller's; no quota counts as most).
#include <criterion/criterion.h>

#include "dispatch_order.hpp"
#include "hosts.hpp"
#include "test_dir.hpp"

#include <stdlib.h>

#include <fstream>
#include <string>

using namespace berth::ctl;

namespace {

template <typename F> std::string error_of(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

// Criterion's string asserts keep a pointer past the statement: compare
// std::strings here.
void same(const std::string& got, const std::string& want) {
    cr_assert(got == want, "got \"%s\", want \"%s\"", got.c_str(), want.c_str());
}

std::string parse_error(const std::string& text) {
    return error_of([&] { parse_hosts_file(text, "/home/u/.berth/hosts"); });
}

constexpr int64_t M = 1 << 20;

HostChoice open_host(const std::string& name, int64_t config_cap, int64_t config_left, int64_t user_cap = 0,
                     int64_t user_left = 0) {
    HostChoice h;
    h.host = name;
    h.state = HostChoice::State::open;
    h.config = {config_cap, config_left};
    h.user = {user_cap, user_left};
    return h;
}

HostChoice host_in(const std::string& name, HostChoice::State s, const std::string& why = "") {
    HostChoice h;
    h.host = name;
    h.state = s;
    h.why = why;
    return h;
}

std::string names(const std::vector<HostChoice>& hosts) {
    std::string s;
    for (size_t i : dispatch_order(hosts)) s += (s.empty() ? "" : " ") + hosts[i].host;
    return s;
}

} // namespace

TestSuite(hosts_file, .init = make_test_dir, .fini = remove_test_dir);

Test(hosts_file, lines_comments_and_tls_dirs) {
    auto h = parse_hosts_file("# my berthds\n"
                              "unix:///run/berth/berthd.sock\n"
                              "\n"
                              "  tcp://node1.example.com:2376   node1   # relative: next to the file\n"
                              "tcp://10.0.0.2:2376 /etc/berth/tls/n2\n"
                              "tcp://[::1]:2376\n",
                              "/home/u/.berth/hosts");
    cr_assert_eq(h.size(), 4u);
    cr_assert_str_eq(h[0].url.c_str(), "unix:///run/berth/berthd.sock");
    cr_assert(!h[0].tls_verify && h[0].tls_dir.empty());
    cr_assert_str_eq(h[1].url.c_str(), "tcp://node1.example.com:2376");
    cr_assert_str_eq(h[1].tls_dir.c_str(), "/home/u/.berth/node1");
    cr_assert(h[1].tls_verify, "a tcp:// host of the file is mutual TLS without --tlsverify");
    cr_assert_str_eq(h[2].tls_dir.c_str(), "/etc/berth/tls/n2");
    cr_assert_str_eq(h[3].url.c_str(), "tcp://[::1]:2376");
    cr_assert(h[3].tls_dir.empty(), "no dir: the default one");
}

Test(hosts_file, empty_file_is_no_hosts) {
    cr_assert(parse_hosts_file("", "f").empty());
    cr_assert(parse_hosts_file("# nothing yet\n\n", "f").empty());
}

Test(hosts_file, bad_lines_are_named) {
    struct Case {
        const char* text;
        const char* want;
    } cases[] = {
        {"unix:///a.sock\nhttp://x:1\n", "/home/u/.berth/hosts:2: unknown scheme (expected unix:///PATH or tcp://HOST:PORT), got \"http://x:1\""},
        {"unix://relative.sock\n", "hosts:1: a unix socket's path must be absolute"},
        {"tcp://node1\n", "hosts:1: HOST:PORT needed"},
        {"tcp://node1:0\n", "port \"0\" is not 1 to 65535"},
        {"tcp://node1:65536\n", "port \"65536\" is not 1 to 65535"},
        {"tcp://node1:ab\n", "port \"ab\" is not 1 to 65535"},
        {"tcp://node1:2376/x\n", "a tcp:// host has no path"},
        {"tcp://::1:2376\n", "an IPv6 address goes in brackets"},
        {"tcp://a:1 dir extra\n", "hosts:1: expected URL [TLS-DIR], got 3 fields"},
        {"unix:///a.sock certs\n", "hosts:1: TLS-DIR \"certs\": a unix socket takes none"},
        {"tcp://a:1\n# again:\ntcp://a:1 d\n", "hosts:3: tcp://a:1 is listed already (line 1)"},
    };
    for (const auto& c : cases) {
        std::string e = parse_error(c.text);
        cr_assert(e.find(c.want) != std::string::npos, "%s: got \"%s\", want \"%s\"", c.text, e.c_str(), c.want);
    }
}

Test(hosts_file, check_host_url_names_the_flag) {
    std::string e = error_of([] { check_host_url("node1:2376", "--host"); });
    cr_assert(e.rfind("--host: unknown scheme", 0) == 0, "%s", e.c_str());
    same(error_of([] { check_host_url("unix:///run/berth/berthd.sock", "--host"); }), "");
    same(error_of([] { check_host_url("tcp://127.0.0.1:7001", "--host"); }), "");
}

Test(hosts_file, path_and_load) {
    ::setenv("BERTH_CONFIG", test_dir().c_str(), 1);
    std::string path = hosts_file_path();
    same(path, test_dir() + "/hosts");
    cr_assert(!load_hosts_file(path), "no file: no hosts, and no error");
    std::ofstream(path) << "tcp://127.0.0.1:7001 a\nunix:///tmp/b.sock\n";
    auto h = load_hosts_file(path);
    cr_assert(h && h->size() == 2);
    same((*h)[0].tls_dir, test_dir() + "/a");
    ::unsetenv("BERTH_CONFIG");
    ::setenv("HOME", "/home/u", 1);
    same(hosts_file_path(), "/home/u/.berth/hosts");
}

TestSuite(dispatch_order);

Test(dispatch_order, most_room_under_the_config_first) {
    std::vector<HostChoice> h = {open_host("a", 256 * M, 32 * M), open_host("b", 256 * M, 160 * M),
                                 open_host("c", 1024 * M, 96 * M)};
    same(names(h), "b c a");
}

Test(dispatch_order, no_quota_counts_as_most_room) {
    std::vector<HostChoice> h = {open_host("capped", 1024 * M, 1000 * M), open_host("free", 0, 0)};
    same(names(h), "free capped");
}

Test(dispatch_order, then_the_callers_room_then_the_given_order) {
    std::vector<HostChoice> h = {open_host("a", 256 * M, 128 * M, 64 * M, 16 * M), open_host("b", 256 * M, 128 * M, 64 * M, 48 * M),
                                 open_host("c", 256 * M, 128 * M, 64 * M, 48 * M), open_host("d", 256 * M, 128 * M)};
    same(names(h), "d b c a");
}

Test(dispatch_order, only_hosts_that_may_run_it_unknown_last) {
    using S = HostChoice::State;
    std::vector<HostChoice> h = {host_in("old", S::unknown), host_in("down", S::down, "connection refused"),
                                 host_in("other", S::not_offered), open_host("a", 96 * M, 32 * M),
                                 host_in("full", S::full, "no room"), host_in("no", S::refused, "who?"),
                                 host_in("broken", S::failed, "Capacity: boom")};
    same(names(h), "a old");
    cr_assert(dispatch_order({host_in("x", S::down)}).empty());
}

Test(dispatch_order, full_hosts_that_queue_last_shortest_queue_first) {
    using S = HostChoice::State;
    std::vector<HostChoice> h(4);
    h[0].state = S::queues, h[0].queued = 5;
    h[1].state = S::full;
    h[2].state = S::queues, h[2].queued = 1;
    h[3].state = S::open;
    auto order = dispatch_order(h);
    cr_assert_eq(order.size(), 3u);
    cr_expect_eq(order[0], 3u, "room first");
    cr_expect_eq(order[1], 2u, "then the shortest queue");
    cr_expect_eq(order[2], 0u);
    cr_expect_eq(choice_text(h[2], "small"), "full; config small queues there (1 waiting)");
}

TestSuite(choice_text);

Test(choice_text, says_what_each_host_is) {
    using S = HostChoice::State;
    same(choice_text(open_host("a", 256 * M, 160 * M), "small"), "160m left under config small's quota");
    same(choice_text(open_host("a", 256 * M, 160 * M, 64 * M, 48 * M), "small"), "160m left under config small's quota, 48m under yours");
    same(choice_text(open_host("a", 0, 0, 64 * M, 48 * M), "small"), "48m left under your quota of config small");
    same(choice_text(open_host("a", 0, 0), "small"), "no quota on config small");
    same(choice_text(host_in("d", S::down, "connection refused"), "small"), "down (connection refused)");
    same(choice_text(host_in("n", S::not_offered), "small"), "does not offer config small (or not to you)");
    same(choice_text(host_in("f", S::full, "0 left"), "small"), "full (0 left)");
    same(choice_text(host_in("r", S::refused, "no mapping"), "small"), "refuses you (no mapping)");
    same(choice_text(host_in("x", S::failed, "Run: gone"), "small"), "Run: gone");
    cr_assert(choice_text(host_in("o", S::unknown), "small").find("room unknown") == 0);
}

Test(choice_text, sizes) {
    same(room_size(0), "0");
    same(room_size(160 * M), "160m");
    same(room_size(1536 * M), "1536m");
    same(room_size(1024 * M), "1g");
    same(room_size(96 * M + 512 * 1024 + 1), "96.5m");
    same(room_size(1000), "1000");
}
