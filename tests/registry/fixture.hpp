// What the registry tests share: temp dirs, commands, background servers
// (Debian's docker-registry, tests/registry/fake_registry.py), OCI layouts
// written by hand, and an in-memory BlobSink.
//
// Criterion aborts a failed assertion with longjmp, skipping destructors,
// so nothing here cleans up in a destructor: every dir and server a test
// makes is recorded, and the suite's .fini (rtest::cleanup) kills each
// server by its pid and removes each dir. Servers also die with the test's
// process (PR_SET_PDEATHSIG).
//   TestSuite(name, .fini = rtest::cleanup, .timeout = 120);
//   RTEST(name, case) { ... }   // a Test whose exceptions fail it
#pragma once

#include "registry.hpp"

#include "digest.hpp"

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace rtest {

void cleanup();

// Criterion skips .fini when a test throws, which would leave its servers
// and dirs behind: RTEST's body runs under guard(), which turns an
// exception into a failure (cr_expect_fail) and returns.
void guard(void (*body)());
#define RTEST(suite, name)                                 \
    static void suite##_##name##_body();                   \
    Test(suite, name) { rtest::guard(suite##_##name##_body); } \
    static void suite##_##name##_body()

// mkdtemp("/tmp/berth-reg-XXXXXX"), removed by cleanup().
std::string temp_dir();
void write_file(const std::string& path, const std::string& data);
std::string read_file(const std::string& path);

struct Cmd {
    int status = -1;    // exit status, 128+N for signal N, -1: could not run
    std::string out;    // stdout and stderr
};
// Run argv[0] (looked up in PATH) with stdin /dev/null; killed after timeout_s.
Cmd run(const std::vector<std::string>& argv, int timeout_s = 180);
// The program's path in PATH, or "".
std::string which(const std::string& prog);

// Start argv in the background, output to log_path; stopped by cleanup()
// or stop(). Returns the pid.
pid_t start(const std::vector<std::string>& argv, const std::string& log_path);
void stop(pid_t pid);
int free_port();
bool wait_port(int port, int timeout_ms);

// fake_registry.py (see its docstring), serving the OCI layout `layout`.
struct Fake {
    pid_t pid = -1;
    int port = 0;
    std::string dir, config, log;
    std::string host() const { return "127.0.0.1:" + std::to_string(port); }
};
// Skips the test when python3 is missing.
Fake start_fake(const std::string& layout, const std::string& config_json = "{}");
void set_config(const Fake& f, const std::string& config_json);
std::vector<std::string> requests(const Fake& f);   // the log's lines
int count_requests(const Fake& f, const std::string& needle);

// A hand-made image in an OCI layout: layers of random bytes (not real
// tars: the client never looks inside).
struct Image {
    std::string tag, manifest, manifest_digest, config, config_digest;
    std::vector<std::string> layers, layer_digests;
};
std::string put_blob(const std::string& layout, const std::string& data);
// Adds an image and tags it (index.json keeps every tag added so far).
Image add_image(const std::string& layout, const std::string& tag, const std::vector<size_t>& layer_sizes);
void add_tag(const std::string& layout, const std::string& tag, const std::string& media_type,
             const std::string& digest, size_t size);
std::string random_bytes(size_t n);

// Keeps what it is given; counts restarts. With hashes (the default) it
// reports the digest of what it holds, so get_blob checks it.
class MemSink : public berth::image::BlobSink {
public:
    std::string data;
    int restarts = 0;
    bool hashes = true;
    uint64_t offset() const override { return data.size(); }
    void write(const char* p, size_t n) override { data.append(p, n); }
    void restart() override {
        data.clear();
        ++restarts;
    }
    std::string digest() override { return hashes ? berth::image::sha256_digest(data) : std::string(); }
};

// Elapsed seconds of fn(), for the figures the tests print.
template <class Fn>
double timed(Fn&& fn);

} // namespace rtest

#include <chrono>
template <class Fn>
double rtest::timed(Fn&& fn) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
