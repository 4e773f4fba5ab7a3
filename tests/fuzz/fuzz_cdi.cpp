// libFuzzer target for CDI spec files: parse_spec as YAML and as JSON; for
// what parses and validates, to_json and to_yaml must read back equal.
// berth::Error is the expected way to reject an input; anything else (a
// sanitizer report, another exception, a round-trip mismatch) is a finding.
#include "cdi.hpp"
#include "error.hpp"

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

using namespace berth::spec::cdi;

namespace {

[[noreturn]] void finding(const char* what, const std::string& text) {
    std::fprintf(stderr, "fuzz_cdi: %s\n%s\n", what, text.c_str());
    __builtin_trap();
}

void one(std::string_view input, bool yaml) {
    Spec s;
    try {
        s = parse_spec(input, "fuzz", yaml);
        validate_spec(s, "fuzz");
    } catch (const berth::Error&) {
        return;
    }
    std::string j = to_json(s), y = to_yaml(s);
    try {
        if (!(parse_spec(j, "json", false) == s)) finding("JSON round trip differs", j);
        if (!(parse_spec(y, "yaml", true) == s)) finding("YAML round trip differs", y);
    } catch (const berth::Error& e) {
        finding(e.what(), j + "\n" + y);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    one(input, true);
    one(input, false);
    return 0;
}
