// berthctl events: crictl's. Streams GetContainerEvents, one message per
// event (JSON by default, or YAML), until the server ends the stream.
#include "ctl.hpp"

#include "error.hpp"

#include <cstdio>

namespace berth::ctl {

namespace v1 = runtime::v1;

namespace {

int events(Client& c, const Args& a) {
    if (!a.pos.empty()) throw Error(EINVAL, "events: takes no arguments");
    Format f = a.format(Format::json);
    if (f == Format::table) throw Error(EINVAL, "events: don't support \"table\" format (json or yaml)");
    v1::GetEventsRequest req;
    auto ctx = c.context(std::chrono::milliseconds(0));   // a stream: no deadline
    auto reader = c.runtime().GetContainerEvents(ctx.get(), req);
    v1::ContainerEventResponse e;
    while (reader->Read(&e)) {
        print_message(e, f);
        std::fflush(stdout);   // a reader (a test, a pipe) sees each event as it comes
    }
    Client::check(reader->Finish(), "getting container events: GetContainerEvents");
    return 0;
}

} // namespace

std::vector<Verb> events_verbs() {
    return {
        {"events", "events [OPTIONS]", "Stream the events of containers",
         {{"output", true, 'o', "output format: json or yaml (default json)"}}, events},
    };
}

} // namespace berth::ctl
