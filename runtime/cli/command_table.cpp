// Every berth command and the global flags, in the order help lists them.
#include "commands.hpp"

namespace berth::cli {

extern const std::vector<Command> lifecycle_commands;
extern const std::vector<Command> info_commands;
extern const std::vector<Command> cgroup_commands;
extern const std::vector<Command> exec_commands;
extern const std::vector<Command> cdi_commands;

const std::vector<Command>& commands() {
    static const std::vector<Command> all = [] {
        std::vector<Command> v = lifecycle_commands;
        v.insert(v.end(), exec_commands.begin(), exec_commands.end());
        v.insert(v.end(), cgroup_commands.begin(), cgroup_commands.end());
        v.insert(v.end(), info_commands.begin(), info_commands.end());
        v.insert(v.end(), cdi_commands.begin(), cdi_commands.end());
        return v;
    }();
    return all;
}

const Command* find_command(std::string_view name) {
    for (const auto& c : commands())
        if (name == c.name) return &c;
    return nullptr;
}

const std::vector<Flag>& global_flags() {
    static const std::vector<Flag> flags = {
        {"root", 0, true, "state directory (default /run/berth; $XDG_RUNTIME_DIR/berth for non-root)", "DIR"},
        {"log", 0, true, "write log lines to this file (default stderr)", "FILE"},
        {"log-format", 0, true, "text or json", "FORMAT"},
        {"debug", 0, false, "log each step of create, start, run, exec, kill and delete"},
        {"systemd-cgroup", 0, false, "use the systemd cgroup driver"},
        {"rootless", 0, true, "true, false or auto (accepted for runc compatibility)"},
        {"criu", 0, true, "accepted for runc compatibility", "PATH"},
        {"cdi-spec-dir", 0, true, "a CDI spec directory, later ones winning (repeatable; default /etc/cdi, /var/run/cdi)",
         "DIR", true},
        {"cdi-config", 0, true, "CDI settings file (default /etc/berth/cdi.json)", "FILE"},
        {"help", 'h', false, "show help"},
        {"version", 'v', false, "print the version"},
    };
    return flags;
}

} // namespace berth::cli
