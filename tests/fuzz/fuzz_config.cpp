// libFuzzer target for the config.json layer: parse_config, parse_process and
// parse_resources on the raw input; for what parses, to_json (pretty and
// compact) must read back equal and write back byte-identical, and
// validate_config runs against a real bundle dir with an empty rootfs.
// berth::Error is the expected way to reject an input; anything else (a
// sanitizer report, another exception, a round-trip mismatch) is a finding.
#include "config.hpp"
#include "error.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace berth::spec;

namespace {

// The fuzzer's fixed bundle, created once and removed at exit. libFuzzer
// offers no user data pointer, so this is the one global the harness has.
std::string g_bundle;

void remove_bundle() {
    if (g_bundle.empty()) return;
    ::rmdir((g_bundle + "/rootfs").c_str());
    ::rmdir(g_bundle.c_str());
}

[[noreturn]] void finding(const char* what, const std::string& a, const std::string& b) {
    std::fprintf(stderr, "fuzz_config: %s\n--- first:\n%s\n--- second:\n%s\n", what, a.c_str(), b.c_str());
    __builtin_trap();
}

// parse(to_json(c)) == c, and writing that again gives the same text.
void check_round_trip(const Config& c) {
    for (bool pretty : {true, false}) {
        std::string text = to_json(c, pretty);
        Config back;
        try {
            back = parse_config(text, "round trip");
        } catch (const berth::Error& e) {
            finding("to_json output does not parse", text, e.what());
        }
        if (!(back == c)) finding("parse(to_json(c)) != c", text, to_json(back, pretty));
        std::string again = to_json(back, pretty);
        if (again != text) finding("to_json not stable", text, again);
    }
}

void fuzz_config(std::string_view text) {
    Config c;
    try {
        c = parse_config(text);
    } catch (const berth::Error&) {
        return;
    }
    check_round_trip(c);
    try {
        validate_config(c, g_bundle);
    } catch (const berth::Error&) {
    }
}

// process.json and resources.json have no writer of their own; round-trip
// them through a Config that holds them.
void fuzz_process(std::string_view text) {
    Config c;
    c.ociVersion = "1.2.0";
    try {
        c.process = parse_process(text);
    } catch (const berth::Error&) {
        return;
    }
    check_round_trip(c);
}

void fuzz_resources(std::string_view text) {
    Config c;
    c.ociVersion = "1.2.0";
    try {
        c.linux.emplace().resources = parse_resources(text);
    } catch (const berth::Error&) {
        return;
    }
    check_round_trip(c);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // Under $TMPDIR: run.sh points it into its scratch dir, which it removes
    // even when a crash skips the atexit handler.
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/berth-fuzz-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr || ::mkdir((tmpl + "/rootfs").c_str(), 0755) < 0) {
        std::perror("fuzz_config: bundle");
        std::abort();
    }
    g_bundle = tmpl;
    std::atexit(remove_bundle);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    fuzz_config(text);
    fuzz_process(text);
    fuzz_resources(text);
    return 0;
}
