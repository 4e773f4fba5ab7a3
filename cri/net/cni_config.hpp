// CNI network configurations (spec 1.0): a network config list (.conflist)
// or a single plugin's config (.conf/.json, taken as a list of one), read
// from a directory where the lexically first valid file wins, as kubelet,
// containerd and CRI-O pick. The plugins' own keys are passed through
// untouched; the runtime adds name, cniVersion, runtimeConfig and
// prevResult to each (the spec's "deriving execution configuration").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::cri::net {

struct PluginConf {
    std::string type;                       // the plugin binary's name
    std::vector<std::string> capabilities;  // the runtimeConfig keys it asks for
};

struct NetworkList {
    std::string file;           // where it came from, for messages
    std::string name;
    std::string cni_version;
    bool disable_check = false;
    std::string text;           // the list as JSON (a single .conf is wrapped into "plugins")
    std::vector<PluginConf> plugins;
};

// Parses and checks a config list; `single` for a .conf (one plugin at
// the top level). Error(EINVAL) naming the file and the field.
NetworkList parse_network_list(const std::string& text, const std::string& file, bool single);

// The network a config directory holds: the lexically first .conflist,
// .conf or .json that parses. `why` says why there is none (no dir, no
// file, each bad file's error).
std::optional<NetworkList> find_network(const std::string& dir, std::string& why);

// The JSON config plugin `index` of the list gets on stdin: its own keys,
// then name and cniVersion of the list, runtimeConfig with the
// capabilities it declares that `caps` has values for (JSON texts by
// capability name), and prevResult when given (a JSON text).
std::string plugin_config(const NetworkList& list, size_t index, const std::map<std::string, std::string>& caps,
                          const std::string& prev_result);

// "1.0.0" >= "0.4.0": a CNI version compared by its numbers.
bool version_at_least(const std::string& v, int major, int minor, int patch);

} // namespace berth::cri::net
