// berthctl: a crictl-style client of berthd (or any CRI v1 server): the
// same verbs, flags and output formats as crictl where they exist.
#pragma once

#include "api.grpc.pb.h"
#include "berth.grpc.pb.h"
#include "hosts.hpp"

#include <google/protobuf/map.h>
#include <google/protobuf/message.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace berth::ctl {

enum class Format { table, json, yaml };

struct Global {
    std::string runtime_endpoint = "unix:///run/berth/berthd.sock";
    std::string image_endpoint;                 // "": the runtime endpoint
    std::chrono::milliseconds timeout{2000};    // per call; pulls use their own
    bool debug = false;
    // A remote berthd over mutual TLS (--host tcp://HOST:PORT --tlsverify):
    // overrides the endpoints. The PEM files default to $BERTH_CERT_PATH
    // (default ~/.berth/) ca.pem, cert.pem and key.pem, as Docker's.
    // --host unix:///PATH is the same as -r unix:///PATH.
    std::string host;
    bool tls_verify = false;
    std::string tls_ca, tls_cert, tls_key;
    std::string tls_dir;        // this host's PEM dir (the hosts file's); "": as above
    // Several berthds (--host repeated, or the hosts file): only the verbs
    // with a run_hosts take them. One is put in `host` instead.
    std::vector<Host> hosts;
    std::string hosts_from;     // "--host" or the hosts file's path, for messages
};

// g talking to h alone (its TLS dir and verification included).
Global for_host(const Global& g, const Host& h);

// Parsed verb arguments: flags (long names) and positionals.
struct Args {
    std::map<std::string, std::vector<std::string>> flags;
    std::vector<std::string> pos;
    bool has(const std::string& f) const { return flags.count(f) != 0; }
    std::string get(const std::string& f, const std::string& def = "") const;
    Format format(Format def = Format::table) const;
};

class Client {
public:
    explicit Client(const Global& g);
    runtime::v1::RuntimeService::Stub& runtime() { return *rt_; }
    runtime::v1::ImageService::Stub& images() { return *img_; }
    // berthd's own berth.v1.Images, on the image endpoint (servers other
    // than berthd answer Unimplemented).
    berth::v1::Images::Stub& berth_images() { return *berth_img_; }
    // berthd's berth.v1.Executions, on the runtime endpoint.
    berth::v1::Executions::Stub& executions() { return *executions_; }
    // A context with the global timeout (or `timeout` when given; 0: none).
    std::unique_ptr<grpc::ClientContext> context(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1)) const;
    // The global timeout, for calls that add their own time to it.
    std::chrono::milliseconds timeout() const { return g_.timeout; }
    // Throws Error naming the method and the server's message.
    static void check(const grpc::Status& st, const char* method);

private:
    Global g_;
    std::unique_ptr<runtime::v1::RuntimeService::Stub> rt_;
    std::unique_ptr<runtime::v1::ImageService::Stub> img_;
    std::unique_ptr<berth::v1::Images::Stub> berth_img_;
    std::unique_ptr<berth::v1::Executions::Stub> executions_;
};

// Output helpers.
std::string to_json(const google::protobuf::Message& m);   // protobuf's JSON mapping, indented
std::string json_to_yaml(const std::string& json);
void print_message(const google::protobuf::Message& m, Format f);
// Rows with a header, columns padded as crictl's tabwriter does.
void print_table(const std::vector<std::vector<std::string>>& rows);
std::string human_size(uint64_t bytes);   // crictl's: "1.23MB"
std::string truncate_id(const std::string& id, size_t n = 13);   // without "sha256:", n chars

// A verb's flag: long name, whether it takes a value, crictl's one-letter
// alias (0: none) and the help line.
struct Flag {
    const char* name;
    bool value = false;
    char short_name = 0;
    const char* help = nullptr;
};

// What a verb's first operand names, for the shell completions.
enum class Operand { none, pod, container, image, file };

struct Verb {
    const char* name;
    const char* usage;
    const char* what;
    std::vector<Flag> flags;
    std::function<int(Client&, const Args&)> run;
    Operand operand = Operand::none;
    // Flags end at the first operand (exec: the command's own flags follow).
    bool flags_first = false;
    // With several hosts (Global::hosts) this runs instead of `run`; a
    // verb without one talks to one host only.
    std::function<int(const Global&, const Args&)> run_hosts = nullptr;
};

std::vector<Verb> image_verbs();
std::vector<Verb> archive_verbs();   // load, save

// A pull through berth.v1.Images.Pull with a progress bar on stdout (a
// terminal); nullopt when the server lacks berth.v1 (Unimplemented), so the
// caller falls back to CRI's PullImage. Returns the image id.
std::optional<std::string> pull_with_progress(Client& c, const runtime::v1::PullImageRequest& req,
                                              std::chrono::milliseconds timeout);
std::vector<Verb> runtime_verbs();
std::vector<Verb> pod_verbs();         // cmd_pods.cpp
std::vector<Verb> container_verbs();   // cmd_containers.cpp
std::vector<Verb> exec_verbs();        // cmd_exec.cpp
std::vector<Verb> logs_verbs();        // cmd_logs.cpp
std::vector<Verb> stats_verbs();       // cmd_stats.cpp
std::vector<Verb> events_verbs();      // cmd_events.cpp
std::vector<Verb> execution_verbs();   // cmd_executions.cpp
// An execution's output (berth.v1.Executions.Logs): `logs` on an id that
// is no CRI container's.
int execution_logs(Client& c, const std::string& id, bool follow);
// `run --config NAME [--] COMMAND...`: a workload under an execution
// configuration (crictl's `run` of two config files otherwise).
int run_execution(Client& c, const Args& a);
std::vector<Flag> execution_run_flags();
// Its pieces, for the dispatch across hosts: the request from the flags,
// and what follows a started Run (its id and place if queued, or its
// output and exit code).
berth::v1::RunRequest execution_run_request(const Args& a);
int follow_execution(Client& c, const berth::v1::RunResponse& resp, const std::string& config, const Args& a);
// `run --config NAME` with several hosts: on the one with the most room
// under the config's quota that takes it (cmd_dispatch.cpp).
int dispatch_run(const Global& g, const Args& a);

// Every verb, in the order help lists them (main.cpp).
std::vector<Verb> all_verbs();
// The global flags (main.cpp), for help and the completions.
const std::vector<Flag>& global_flags();
// `berthctl completion bash|zsh` (completion.cpp).
std::string bash_completion();
std::string zsh_completion();

// Shared by the runtime verbs (util.cpp).
// go-units' HumanDuration of now - ns, as crictl prints it: "5 minutes".
std::string human_duration_since(int64_t unix_ns);
// Go's time.RFC3339Nano in local time, as crictl prints timestamps.
std::string rfc3339_nano(int64_t unix_ns);
// --label k=v flags as a map; "incorrectly specified label" as crictl says.
std::map<std::string, std::string> parse_labels(const Args& a);
// Go's regexp.MatchString (a search, not a full match); "" matches all.
bool matches_regex(const std::string& pattern, const std::string& s);
int64_t int_flag(const Args& a, const std::string& name, int64_t def);
// crictl's inspect/inspectp document: per id {"status": ..., and each key
// of the verbose info map beside it (containerd's is "info")}, one object
// alone or an array of them. Each item is json_with_times' status and the
// response's info.
std::string status_document(const std::vector<std::pair<std::string, const google::protobuf::Map<std::string, std::string>*>>& items);
// to_json(m) with the named int64 nanosecond fields as RFC3339 strings
// (crictl's marshalPodSandboxStatus/marshalContainerStatus).
std::string json_with_times(const google::protobuf::Message& m, const std::map<std::string, int64_t>& times);
// Runs each id through f; prints each failure (berthctl: ...) and returns 1
// when any failed, as crictl's aggregated errors do.
// The pods and containers the list flags select (--id, --name, --namespace,
// --state, --label, --latest, --last; containers also --pod, --image, -a),
// newest first: pods/inspectp (cmd_pods.cpp), ps/inspect/stop -a
// (cmd_containers.cpp).
std::vector<runtime::v1::PodSandbox> list_pods(Client& c, const Args& a);
std::vector<runtime::v1::Container> list_containers(Client& c, const Args& a);
int for_each_id(const std::vector<std::string>& ids, const std::function<void(const std::string&)>& f);

} // namespace berth::ctl
