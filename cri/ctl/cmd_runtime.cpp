// berthctl's runtime verbs that part 1 of berthd serves: version, info.
#include "ctl.hpp"

#include "json.hpp"

#include <cstdio>

namespace berth::ctl {

namespace v1 = runtime::v1;

namespace {

int version(Client& c, const Args& a) {
    v1::VersionRequest req;
    req.set_version("v1");
    v1::VersionResponse resp;
    auto ctx = c.context();
    Client::check(c.runtime().Version(ctx.get(), req, &resp), "Version");
    Format f = a.format();
    if (f != Format::table) {
        print_message(resp, f);
        return 0;
    }
    std::printf("Version:  %s\nRuntimeName:  %s\nRuntimeVersion:  %s\nRuntimeApiVersion:  %s\n",
                resp.version().c_str(), resp.runtime_name().c_str(), resp.runtime_version().c_str(),
                resp.runtime_api_version().c_str());
    return 0;
}

// crictl's shape: {"status": RuntimeStatus, ...the verbose info's keys}
int info(Client& c, const Args& a) {
    v1::StatusRequest req;
    req.set_verbose(true);
    v1::StatusResponse resp;
    auto ctx = c.context();
    Client::check(c.runtime().Status(ctx.get(), req, &resp), "Status");
    std::string j = "{\"status\": " + to_json(resp.status());
    for (const auto& [k, v] : resp.info()) {
        json::Writer w;
        w.string(k);
        j += ", " + w.str() + ": " + v;
    }
    j += "}";
    json::Document check(j, "Status info");
    std::string out = a.format(Format::json) == Format::yaml ? json_to_yaml(j) : j + "\n";
    std::fputs(out.c_str(), stdout);
    return 0;
}

} // namespace

std::vector<Verb> runtime_verbs() {
    return {
        {"version", "version [OPTIONS]", "Display runtime version information", {{"output", true, 'o', "output format: json, yaml or table"}}, version},
        {"info", "info [OPTIONS]", "Display information of the container runtime", {{"output", true, 'o', "output format: json, yaml or table"}}, info},
    };
}

} // namespace berth::ctl
