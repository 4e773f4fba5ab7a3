// Typed reads of berthd's TOML values: each throws Error(EINVAL) naming the
// file and the key's dotted path ("berthd.toml: cni.plugin_timeout:
// expected a duration ..."), so a bad config is refused with its place.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace berth::cri::tomlv {

[[noreturn]] void bad(const std::string& file, const std::string& key, const std::string& why);

std::string want_string(const toml::node& n, const std::string& file, const std::string& key);
int64_t want_int(const toml::node& n, const std::string& file, const std::string& key, int64_t lo, int64_t hi);
bool want_bool(const toml::node& n, const std::string& file, const std::string& key);
std::string want_abs_path(const toml::node& n, const std::string& file, const std::string& key);
// An absolute path, or "" for the default.
std::string want_opt_abs_path(const toml::node& n, const std::string& file, const std::string& key);
// "30s", "5m", "1h", or a bare number of seconds; at most 7 days.
std::chrono::seconds want_duration(const toml::node& n, const std::string& file, const std::string& key);
std::vector<std::string> want_strings(const toml::node& n, const std::string& file, const std::string& key);
const toml::table& want_table(const toml::node& n, const std::string& file, const std::string& key);
// A size in bytes: an integer, or a string as Docker's --memory takes it
// ("64m", "1.5g", "512k", "100b", "2GiB"; binary multiples).
int64_t want_size(const toml::node& n, const std::string& file, const std::string& key);
// A number of CPUs, as Docker's --cpus: "1.5", 1.5 or 2; more than 0.
double want_cpus(const toml::node& n, const std::string& file, const std::string& key);

} // namespace berth::cri::tomlv
