// berth.v1.Executions' work, one file per RPC (issue 16). The service
// class is in grpc_services.hpp; the caller comes from Daemon::peers.
#pragma once

#include "berth.pb.h"
#include "daemon.hpp"

namespace berth::cri {

// Whether the caller may use the config: root, or a member of one of its
// groups.
bool may_use(const Caller& c, const ExecConfig& cfg);

void list_configs(const Daemon& d, const Caller& caller, berth::v1::ListConfigsResponse& resp);

} // namespace berth::cri
