// state, list, spec, features, and the commands that are not built yet.
#include "commands.hpp"
#include "config.hpp"
#include "error.hpp"
#include "file_util.hpp"
#include "json.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace berth::cli {

namespace {

int cmd_state(const RuntimeContext& ctx, const Parsed& p) {
    auto info = container_info(ctx, p.args[0]);
    print(oci_state_json(info.state, info.status) + "\n");
    return 0;
}

int cmd_list(const RuntimeContext& ctx, const Parsed& p) {
    auto all = list_containers(ctx);
    std::string format = p.get("format", "table");
    if (p.flag("quiet")) {
        for (auto& c : all) print(c.state.id + "\n");
        return 0;
    }
    if (format == "json") {
        json::Writer w;
        w.begin_array();
        for (auto& c : all) {
            w.begin_object()
                .kv("ociVersion", c.state.oci_version)
                .kv("id", c.state.id)
                .kv("pid", static_cast<int64_t>(c.status == Status::stopped ? 0 : c.state.pid))
                .kv("status", status_name(c.status))
                .kv("bundle", c.state.bundle)
                .kv("rootfs", c.state.rootfs)
                .kv("created", c.state.created)
                .kv("owner", c.state.owner);
            if (!c.state.annotations.empty()) w.key("annotations").string_map(c.state.annotations);
            w.end_object();
        }
        w.end_array();
        print(w.str() + "\n");
        return 0;
    }
    if (format != "table") throw Error(EINVAL, "--format: unknown format \"" + format + "\" (table or json)");
    std::printf("%-12s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
    for (auto& c : all)
        std::printf("%-12s %-8d %-10s %-40s %-32s %s\n", c.state.id.c_str(),
                    c.status == Status::stopped ? 0 : c.state.pid, status_name(c.status), c.state.bundle.c_str(),
                    c.state.created.c_str(), c.state.owner.c_str());
    return 0;
}

int cmd_spec(const RuntimeContext&, const Parsed& p) {
    std::string bundle = p.get("bundle", ".");
    std::string path = bundle + "/config.json";
    if (::access(path.c_str(), F_OK) == 0) throw Error(EEXIST, "File " + path + " exists. Remove it first");
    auto text = spec::to_json(spec::default_config(p.flag("rootless")));   // ends in a newline
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) throw_errno("create " + path);
    UniqueFd f(fd);
    if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) throw_errno("write " + path);
    return 0;
}

int cmd_features(const RuntimeContext&, const Parsed&) {
    print(features_json() + "\n");
    return 0;
}

} // namespace

extern const std::vector<Command> info_commands = {
    {"state", "state ID", "Print the container's state as JSON.", {}, cmd_state, 1, 1},
    {"list", "list [OPTIONS]", "List containers.",
     {{"format", 'f', true, "table or json", "FORMAT"}, {"quiet", 'q', false, "print only ids"}}, cmd_list, 0, 0,
     FlagOrder::anywhere, Operand::none},
    {"spec", "spec [OPTIONS]", "Write a default config.json into the bundle.",
     {{"bundle", 'b', true, "bundle directory (default: current directory)", "DIR"},
      {"rootless", 0, false, "a config for running without root"}},
     cmd_spec, 0, 0, FlagOrder::anywhere, Operand::none,
     "The config is what `runc spec` writes (with --rootless too), but for ociVersion (the version of the\n"
     "runtime spec berth implements) and the hostname (berth)."},
    {"features", "features", "Print what this runtime supports as JSON.", {}, cmd_features, 0, 0,
     FlagOrder::anywhere, Operand::none},
};

} // namespace berth::cli
