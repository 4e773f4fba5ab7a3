// `run --config NAME` across several berthds (issue 16): what each host
// answered to Capacity, the order to try them in (most room first), and
// the words berthctl says about each. No gRPC here, for the unit tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace berth::ctl {

// Memory under one of the config's caps on a host.
struct Room {
    int64_t cap = 0;    // bytes; 0: no cap
    int64_t left = 0;
};

struct HostChoice {
    enum class State {
        open,          // offers the config, admits the caller, and it fits
        unknown,       // a berthd without Capacity: offers it, maybe
        down,          // unreachable, or no answer within the deadline
        not_offered,   // no such config, or not for this caller
        refused,       // refuses the caller altogether (PermissionDenied)
        full,          // the workload does not fit its caps now
        queues,        // full, but the config queues: a Run waits there
        failed,        // anything else, Run's failure included
    };
    std::string host;
    State state = State::down;
    std::string why;        // down, refused, full, failed: what the host (or gRPC) said
    Room config, user;      // open: the config's and the caller's room
    int queued = 0;         // queues: how many wait there already
};

// The hosts to try Run on, as indices into hosts: the open ones with the
// most room under the config's cap first, then under the caller's (no cap
// counts as the most room); ties keep the given order. Then the unknown
// ones, in the given order; then, where every host is full, those whose
// config queues, the shortest queue first.
std::vector<size_t> dispatch_order(const std::vector<HostChoice>& hosts);

// What berthctl says of a host for config `config`: "160m left under
// config small's quota", "down (connection refused)", ...
std::string choice_text(const HostChoice& h, const std::string& config);

// "160m", "1536m", "95.5m": in the largest unit that divides them, as
// berthd's quota messages write sizes; one decimal when none does.
std::string room_size(int64_t bytes);

} // namespace berth::ctl
