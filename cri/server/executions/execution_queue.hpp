// The Runs waiting for room under their config's quota (queue = true):
// FIFO per config, each record written through to ROOT/executions/queue,
// so a berthd killed at any moment finds its queue as it was. A record
// goes only once its pod and workload are made and started: until then
// it, not the pod, is what Get, List, Wait and Logs see.
#pragma once

#include "store.pb.h"

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace berth::cri {

using QueuedRun = berth::store::v1::QueuedRun;

class ExecutionQueue {
public:
    // Loads DIR/*.pb; a record that cannot be read is skipped and named in
    // load_errors().
    explicit ExecutionQueue(std::string dir);

    void put(const QueuedRun& r);            // add or update (fsync'd, renamed)
    void erase(const std::string& id);       // its record gone; no-op when none
    std::optional<QueuedRun> get(const std::string& id) const;
    std::vector<QueuedRun> all() const;      // oldest first
    // The ones of `config` still waiting, oldest first.
    std::vector<QueuedRun> waiting(const std::string& config) const;
    bool any_waiting() const;
    // 1-based place among its config's waiting Runs; 0 when not waiting.
    int position(const std::string& id) const;

    const std::vector<std::string>& load_errors() const { return load_errors_; }

private:
    std::vector<QueuedRun> sorted_locked() const;
    std::string dir_;
    mutable std::mutex mu_;
    std::vector<QueuedRun> runs_;   // in no particular order
    std::vector<std::string> load_errors_;
};

} // namespace berth::cri
