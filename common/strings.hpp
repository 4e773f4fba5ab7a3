// String splitting without iostreams (whose locale setup costs resident
// memory on the container start path).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace berth {

// Split on sep; keeps empty fields ("a::b" -> {"a", "", "b"}); "" -> {}.
std::vector<std::string> split(std::string_view s, char sep);
// Split on runs of spaces and tabs, dropping empty fields.
std::vector<std::string> split_ws(std::string_view s);

} // namespace berth
