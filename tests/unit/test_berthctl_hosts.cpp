// berthctl's several berthds (cri/ctl/hosts.hpp): the hosts file (URLs
// checked, TLS dirs anchored at the file, errors naming FILE:LINE).
#include <criterion/criterion.h>

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
