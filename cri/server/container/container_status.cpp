// ContainerStatus and ListContainers: berthd's records, brought up to date
// with the pod's shim for the containers it still runs.
#include "runtime_ops.hpp"

#include "error.hpp"
#include "json.hpp"
#include "log.hpp"

namespace berth::cri {

namespace {

bool labels_match(const google::protobuf::Map<std::string, std::string>& want,
                  const google::protobuf::Map<std::string, std::string>& have) {
    for (const auto& [k, v] : want) {
        auto it = have.find(k);
        if (it == have.end() || it->second != v) return false;
    }
    return true;
}

ContainerRecord fresh(Daemon& d, const ContainerRecord& c) {
    try {
        return refresh_container(d, c);
    } catch (const std::exception& e) {
        log::warn("container " + c.id() + ": " + e.what());
        return c;
    }
}

} // namespace

void fill_container_status(const Daemon&, const ContainerRecord& c, runtime::v1::ContainerStatus& s) {
    s.set_id(c.id());
    *s.mutable_metadata() = c.config().metadata();
    s.set_state(c.state());
    s.set_created_at(c.created_at());
    s.set_started_at(c.started_at());
    s.set_finished_at(c.finished_at());
    s.set_exit_code(c.exit_code());
    *s.mutable_image() = c.config().image();
    s.mutable_image()->set_image(c.image_id());
    s.set_image_ref(c.image_ref());
    s.set_image_id(c.image_id());
    s.set_reason(c.reason());
    s.set_message(c.message());
    *s.mutable_labels() = c.config().labels();
    *s.mutable_annotations() = c.config().annotations();
    *s.mutable_mounts() = c.config().mounts();
    s.set_log_path(c.log_path());
    if (c.config().linux().has_resources()) *s.mutable_resources()->mutable_linux() = c.config().linux().resources();
}

void container_status(Daemon& d, const runtime::v1::ContainerStatusRequest& req,
                      runtime::v1::ContainerStatusResponse& resp) {
    std::string id = d.pods.resolve_container(req.container_id());
    auto rec = d.pods.container(id);
    if (!rec || rec->creating()) throw Error(ENOENT, "container " + req.container_id() + ": not found");
    auto c = fresh(d, *rec);
    fill_container_status(d, c, *resp.mutable_status());
    if (req.verbose()) {
        json::Writer w;
        w.begin_object();
        w.kv("sandboxID", c.pod_id());
        w.kv("pid", static_cast<int64_t>(c.pid()));
        w.kv("rootfs", c.rootfs());
        w.kv("bundle", d.bundle_dir(c.pod_id(), c.id()));
        w.kv("stopSignal", c.stop_signal());
        w.end_object();
        (*resp.mutable_info())["info"] = w.str();
    }
}

void list_containers(Daemon& d, const runtime::v1::ListContainersRequest& req, runtime::v1::ListContainersResponse& resp) {
    const auto& f = req.filter();
    for (const auto& rec : d.pods.containers()) {
        if (rec.creating()) continue;
        if (!f.id().empty() && rec.id().rfind(f.id(), 0) != 0) continue;
        if (!f.pod_sandbox_id().empty() && rec.pod_id().rfind(f.pod_sandbox_id(), 0) != 0) continue;
        if (!labels_match(f.label_selector(), rec.config().labels())) continue;
        auto c = fresh(d, rec);
        if (f.has_state() && f.state().state() != c.state()) continue;
        auto* item = resp.add_containers();
        item->set_id(c.id());
        item->set_pod_sandbox_id(c.pod_id());
        *item->mutable_metadata() = c.config().metadata();
        *item->mutable_image() = c.config().image();
        item->mutable_image()->set_image(c.image_id());
        item->set_image_ref(c.image_ref());
        item->set_image_id(c.image_id());
        item->set_state(c.state());
        item->set_created_at(c.created_at());
        *item->mutable_labels() = c.config().labels();
        *item->mutable_annotations() = c.config().annotations();
    }
}

} // namespace berth::cri
