// Small file helpers shared by every component.
#pragma once

#include "fd.hpp"

#include <string>

namespace berth {

// Read a whole file; throws Error naming the path.
// A close-on-exec pipe: r, the read end; w, the write end.
void make_pipe(UniqueFd& r, UniqueFd& w);

std::string read_file(const std::string& path);
// Read a whole file relative to a directory fd.
std::string read_file_at(int dirfd, const std::string& path);
// Write a file atomically: temp file in the same dir, fsync, rename.
void write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0644);
// Write data to an existing file (e.g. a cgroup or proc file), no O_CREAT.
void write_existing(const std::string& path, std::string_view data);
void write_existing_at(int dirfd, const std::string& path, std::string_view data);

} // namespace berth
