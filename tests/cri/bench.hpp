// Times kubelet's calls through a CRI server for several runtime handlers:
// per round, for each handler (the order rotated each round, so noise hits
// them alike): RunPodSandbox, CreateContainer, StartContainer, `execs`
// times ExecSync(true) and ExecSync(output on stdout and stderr, checked)
// (probes repeat on a running container: one sample each per call; none
// when execs is 0), StopPodSandbox, RemovePodSandbox. With expect_subnet,
// between StartContainer and StopPodSandbox (untimed), PodSandboxStatus
// must give the pod an IPv4 address in it, or the run fails. Prints the
// medians and, for the first handler, its ratio to each other one.
#pragma once

#include "cri_client.hpp"

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace berth::cri_test {

struct BenchOptions {
    std::vector<std::string> handlers;   // "NAME", "NAME=LABEL" or "NAME=LABEL@SOCKET" (another server)
    PodSpec pod;                         // name and uid are made per run
    std::string image;
    int rounds = 10, warmup = 1, execs = 3;
    std::string expect_subnet;           // IPv4 CIDR; "": no address check
    std::chrono::seconds timeout{60};    // each call's, for handlers of other servers
};

// Returns how many runs failed (their steps are left out of the medians).
int run_bench(CriClient& client, const BenchOptions& o, std::FILE* out);

} // namespace berth::cri_test
