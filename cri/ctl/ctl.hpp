// berthctl: a crictl-style client of berthd (or any CRI v1 server): the
// same verbs, flags and output formats as crictl where they exist.
#pragma once

#include "api.grpc.pb.h"
#include "berth.grpc.pb.h"

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
};

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
    // A context with the global timeout (or `timeout` when given; 0: none).
    std::unique_ptr<grpc::ClientContext> context(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1)) const;
    // Throws Error naming the method and the server's message.
    static void check(const grpc::Status& st, const char* method);

private:
    Global g_;
    std::unique_ptr<runtime::v1::RuntimeService::Stub> rt_;
    std::unique_ptr<runtime::v1::ImageService::Stub> img_;
    std::unique_ptr<berth::v1::Images::Stub> berth_img_;
};

// Output helpers.
std::string to_json(const google::protobuf::Message& m);   // protobuf's JSON mapping, indented
std::string json_to_yaml(const std::string& json);
void print_message(const google::protobuf::Message& m, Format f);
// Rows with a header, columns padded as crictl's tabwriter does.
void print_table(const std::vector<std::vector<std::string>>& rows);
std::string human_size(uint64_t bytes);   // crictl's: "1.23MB"
std::string truncate_id(const std::string& id, size_t n = 13);   // without "sha256:", n chars

struct Verb {
    const char* name;
    const char* usage;
    const char* what;
    std::vector<std::pair<std::string, bool>> flags;   // long name, takes a value (short names mapped in main)
    std::function<int(Client&, const Args&)> run;
};

std::vector<Verb> image_verbs();
std::vector<Verb> archive_verbs();   // load, save

// A pull through berth.v1.Images.Pull with a progress bar on stdout (a
// terminal); nullopt when the server lacks berth.v1 (Unimplemented), so the
// caller falls back to CRI's PullImage. Returns the image id.
std::optional<std::string> pull_with_progress(Client& c, const runtime::v1::PullImageRequest& req,
                                              std::chrono::milliseconds timeout);
std::vector<Verb> runtime_verbs();

} // namespace berth::ctl
