// berthctl pull on a terminal: berth.v1.Images.Pull's snapshots drawn as
// one line per layer, redrawn in place, as docker pull shows them:
//   3f4d90098f5b: Downloading [=========>          ]  12.3MB/25.1MB
//   a1b2c3d4e5f6: Pull complete
#include "ctl.hpp"

#include "error.hpp"

#include <grpcpp/grpcpp.h>

#include <cstdio>

namespace berth::ctl {

namespace {

std::string line_for(const berth::v1::LayerProgress& l) {
    std::string id = truncate_id(l.digest(), 12) + ": ";
    if (l.unpacked()) return id + "Pull complete";
    int64_t size = l.size(), got = l.fetched();
    if (size > 0 && got >= size) return id + "Extracting";
    if (got <= 0) return id + "Waiting";
    constexpr int kWidth = 30;
    int fill = size > 0 ? static_cast<int>(got * kWidth / size) : 0;
    std::string bar(static_cast<size_t>(kWidth), ' ');
    for (int i = 0; i < fill; ++i) bar[static_cast<size_t>(i)] = '=';
    if (fill < kWidth) bar[static_cast<size_t>(fill)] = '>';
    return id + "Downloading [" + bar + "] " + human_size(static_cast<uint64_t>(got)) + "/" +
           (size > 0 ? human_size(static_cast<uint64_t>(size)) : "?");
}

class Bar {
public:
    void draw(const berth::v1::PullProgress& p) {
        std::string out;
        if (lines_) out += "\033[" + std::to_string(lines_) + "A";   // back to the first line
        for (const auto& l : p.layers()) out += "\r\033[2K" + line_for(l) + "\n";
        lines_ = p.layers_size();
        std::fputs(out.c_str(), stdout);
        std::fflush(stdout);
    }

private:
    int lines_ = 0;
};

} // namespace

std::optional<std::string> pull_with_progress(Client& c, const runtime::v1::PullImageRequest& req,
                                              std::chrono::milliseconds timeout) {
    auto ctx = c.context(timeout);
    auto reader = c.berth_images().Pull(ctx.get(), req);
    berth::v1::PullProgress msg;
    Bar bar;
    std::string id;
    bool any = false;
    while (reader->Read(&msg)) {
        any = true;
        bar.draw(msg);
        if (!msg.image_ref().empty()) id = msg.image_ref();
    }
    auto st = reader->Finish();
    if (!any && st.error_code() == grpc::StatusCode::UNIMPLEMENTED) return std::nullopt;
    Client::check(st, "Pull");
    if (id.empty()) throw Error(EIO, "Pull: the server ended without an image id");
    return id;
}

} // namespace berth::ctl
