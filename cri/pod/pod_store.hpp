// berthd's records of its pods and containers (cri/proto/store.proto):
// in memory for the RPCs that only read (List*, *Status), and on disk under
// ROOT/pods, each record written atomically, so a restarted berthd knows
// every object it had. Also the locks that order lifecycle operations:
// an operation on a container holds its pod's lock shared and its own
// exclusively; stopping or removing a pod holds the pod's exclusively.
#pragma once

#include "store.pb.h"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace berth::cri {

using PodRecord = store::v1::PodRecord;
using ContainerRecord = store::v1::ContainerRecord;

class PodStore {
public:
    // dir: ROOT/pods, created. Loads every record; one that does not parse
    // is skipped and named in load_errors().
    explicit PodStore(std::string dir);
    const std::vector<std::string>& load_errors() const { return load_errors_; }

    // Write the record (atomically) and keep it. A pod's dir is made on
    // its first put; a container's pod must exist.
    void put(const PodRecord& p);
    void put(const ContainerRecord& c);
    // Forget and delete from disk; no error if absent.
    void erase_pod(const std::string& id);
    void erase_container(const std::string& id);

    std::optional<PodRecord> pod(const std::string& id) const;
    std::optional<ContainerRecord> container(const std::string& id) const;
    std::vector<PodRecord> pods() const;
    std::vector<ContainerRecord> containers(const std::string& pod_id = "") const;
    // (id, pod id) of each running container not being created; no record
    // is copied (the exit watcher asks every second).
    std::vector<std::pair<std::string, std::string>> running_containers() const;

    // A full id, or a prefix naming exactly one (as crictl users type
    // them). Error(ENOENT) "pod sandbox ID: not found" when none,
    // Error(EINVAL) when ambiguous.
    std::string resolve_pod(const std::string& id_or_prefix) const;
    std::string resolve_container(const std::string& id_or_prefix) const;

    // Names: kubelet's (name, namespace, uid, attempt) of a pod and (name,
    // attempt) of a container in its pod must be unique. Reserve one for a
    // new object, or Error(EEXIST) naming the holder.
    void reserve_pod_name(const std::string& key, const std::string& id);
    void reserve_container_name(const std::string& key, const std::string& id);
    void release_name(const std::string& key);

    struct Locks {
        std::shared_mutex mu;
    };
    // The lock of an object (made on first use; dropped with the object).
    std::shared_ptr<Locks> locks(const std::string& id);

private:
    std::string pod_dir(const std::string& id) const { return dir_ + "/" + id; }
    std::string resolve(const std::string& what, const std::string& id, bool pods) const;
    std::string dir_;
    mutable std::mutex mu_;
    std::map<std::string, PodRecord> pods_;
    std::map<std::string, ContainerRecord> containers_;
    std::map<std::string, std::string> names_;   // name key -> id
    std::map<std::string, std::shared_ptr<Locks>> locks_;
    std::vector<std::string> load_errors_;
};

std::string pod_name_key(const runtime::v1::PodSandboxMetadata& m);
std::string container_name_key(const std::string& pod_id, const runtime::v1::ContainerMetadata& m);

// A fresh 64-hex id (from getrandom).
std::string new_id();
// Nanoseconds since the epoch, now.
int64_t now_ns();

} // namespace berth::cri
