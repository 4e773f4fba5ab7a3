#include "execution_queue.hpp"

#include "error.hpp"
#include "file_util.hpp"

#include <dirent.h>

#include <algorithm>
#include <filesystem>

namespace berth::cri {

namespace {

bool is_waiting(const QueuedRun& r) { return r.state() == "queued"; }

// Ids are berthd's own (64 hex digits): a file named otherwise is not a
// record (write_file_atomic's temp files among them).
bool is_record_name(const std::string& n) {
    if (n.size() != 64 + 3 || n.compare(64, 3, ".pb") != 0) return false;
    return std::all_of(n.begin(), n.begin() + 64, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

} // namespace

ExecutionQueue::ExecutionQueue(std::string dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    DIR* d = ::opendir(dir_.c_str());
    if (!d) throw_errno("open " + dir_);
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (!is_record_name(n)) continue;
        QueuedRun r;
        try {
            if (!r.ParseFromString(read_file(dir_ + "/" + n)) || r.id() + ".pb" != n) {
                load_errors_.push_back(dir_ + "/" + n + ": not a valid queued run");
                continue;
            }
        } catch (const Error& err) {
            load_errors_.push_back(err.what());
            continue;
        }
        runs_.push_back(std::move(r));
    }
    ::closedir(d);
}

void ExecutionQueue::put(const QueuedRun& r) {
    if (!is_record_name(r.id() + ".pb")) throw Error(EINVAL, "queued run: bad id \"" + r.id() + "\"");
    std::lock_guard l(mu_);
    write_file_atomic(dir_ + "/" + r.id() + ".pb", r.SerializeAsString(), 0600);
    for (auto& have : runs_)
        if (have.id() == r.id()) {
            have = r;
            return;
        }
    runs_.push_back(r);
}

void ExecutionQueue::erase(const std::string& id) {
    std::lock_guard l(mu_);
    auto it = std::find_if(runs_.begin(), runs_.end(), [&](const QueuedRun& r) { return r.id() == id; });
    if (it == runs_.end()) return;
    std::string path = dir_ + "/" + id + ".pb";
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + path);
    runs_.erase(it);
}

std::optional<QueuedRun> ExecutionQueue::get(const std::string& id) const {
    std::lock_guard l(mu_);
    for (const auto& r : runs_)
        if (r.id() == id) return r;
    return std::nullopt;
}

std::vector<QueuedRun> ExecutionQueue::sorted_locked() const {
    auto out = runs_;
    std::stable_sort(out.begin(), out.end(), [](const QueuedRun& a, const QueuedRun& b) {
        return a.created_at() != b.created_at() ? a.created_at() < b.created_at() : a.id() < b.id();
    });
    return out;
}

std::vector<QueuedRun> ExecutionQueue::all() const {
    std::lock_guard l(mu_);
    return sorted_locked();
}

std::vector<QueuedRun> ExecutionQueue::waiting(const std::string& config) const {
    std::lock_guard l(mu_);
    std::vector<QueuedRun> out;
    for (auto& r : sorted_locked())
        if (is_waiting(r) && r.config() == config) out.push_back(std::move(r));
    return out;
}

bool ExecutionQueue::any_waiting() const {
    std::lock_guard l(mu_);
    return std::any_of(runs_.begin(), runs_.end(), is_waiting);
}

int ExecutionQueue::position(const std::string& id) const {
    std::lock_guard l(mu_);
    auto me = std::find_if(runs_.begin(), runs_.end(), [&](const QueuedRun& r) { return r.id() == id; });
    if (me == runs_.end() || !is_waiting(*me)) return 0;
    int n = 0;
    for (const auto& r : sorted_locked())
        if (is_waiting(r) && r.config() == me->config()) {
            ++n;
            if (r.id() == id) return n;
        }
    return 0;
}

} // namespace berth::cri
