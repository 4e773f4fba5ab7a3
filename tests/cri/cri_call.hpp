#pragma once

#include <chrono>
#include <string>

namespace berth::cri_test {

// Call method ("RunPodSandbox", "ListImages", ...; "v1alpha2/Version"
// for the older API) with a JSON request;
// print the answer as JSON. Returns 0, the gRPC status code of a failed
// call (its message on stderr), or 2 for a bad method or request.
int call_json(const std::string& socket, std::string method, const std::string& json,
              std::chrono::seconds timeout);

} // namespace berth::cri_test
