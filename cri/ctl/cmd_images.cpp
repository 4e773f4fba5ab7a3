// berthctl's image verbs: pull, images, inspecti, rmi, imagefsinfo (load and
// save: cmd_archive.cpp).
#include "ctl.hpp"

#include "error.hpp"
#include "json.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace berth::ctl {

namespace v1 = runtime::v1;

namespace {

// "user:pass" or "user" (then the password is asked on a terminal is not
// supported: give it with --creds user:pass or --auth).
void fill_auth(const Args& a, v1::AuthConfig& auth) {
    if (a.has("creds")) {
        std::string c = a.get("creds");
        auto colon = c.find(':');
        auth.set_username(c.substr(0, colon));
        if (colon != std::string::npos) auth.set_password(c.substr(colon + 1));
        if (auth.username().empty()) throw Error(EINVAL, "--creds: USERNAME[:PASSWORD] expected");
    }
    if (a.has("username")) auth.set_username(a.get("username"));
    if (a.has("password")) auth.set_password(a.get("password"));
    if (a.has("auth")) auth.set_auth(a.get("auth"));
}

int pull(Client& c, const Args& a) {
    if (a.pos.size() != 1) throw Error(EINVAL, "pull: one image expected; usage: berthctl pull [OPTIONS] IMAGE");
    v1::PullImageRequest req;
    req.mutable_image()->set_image(a.pos[0]);
    fill_auth(a, *req.mutable_auth());
    v1::PullImageResponse resp;
    std::chrono::milliseconds t{0};
    if (a.has("pull-timeout")) t = std::chrono::milliseconds(std::atoll(a.get("pull-timeout").c_str()) * 1000);
    // A progress bar on a terminal, where the server can report progress.
    if (::isatty(STDOUT_FILENO)) {
        if (auto id = pull_with_progress(c, req, t)) {
            std::printf("Image is up to date for %s\n", id->c_str());
            return 0;
        }
    }
    auto ctx = c.context(t);
    Client::check(c.images().PullImage(ctx.get(), req, &resp), "PullImage");
    std::printf("Image is up to date for %s\n", resp.image_ref().c_str());
    return 0;
}

// "docker.io/library/busybox:latest" -> repo, tag
std::pair<std::string, std::string> split_tag(const std::string& t) {
    auto colon = t.rfind(':');
    auto slash = t.rfind('/');
    if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return {t, "<none>"};
    return {t.substr(0, colon), t.substr(colon + 1)};
}

int images(Client& c, const Args& a) {
    v1::ListImagesRequest req;
    if (!a.pos.empty()) req.mutable_filter()->mutable_image()->set_image(a.pos[0]);
    v1::ListImagesResponse resp;
    auto ctx = c.context();
    Client::check(c.images().ListImages(ctx.get(), req, &resp), "ListImages");
    Format f = a.format();
    if (a.has("quiet")) {
        for (const auto& i : resp.images()) std::puts(i.id().c_str());
        return 0;
    }
    if (f != Format::table) {
        print_message(resp, f);
        return 0;
    }
    bool digests = a.has("digests"), no_trunc = a.has("no-trunc");
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> head = {"IMAGE", "TAG"};
    if (digests) head.push_back("DIGEST");
    head.insert(head.end(), {"IMAGE ID", "SIZE"});
    rows.push_back(head);
    for (const auto& i : resp.images()) {
        std::string digest = i.repo_digests_size() ? i.repo_digests(0).substr(i.repo_digests(0).find('@') + 1) : "";
        auto row_for = [&](const std::string& repo, const std::string& tag) {
            std::vector<std::string> r = {repo, tag};
            if (digests) r.push_back(no_trunc ? digest : truncate_id(digest));
            r.push_back(no_trunc ? i.id() : truncate_id(i.id()));
            r.push_back(human_size(i.size()));
            rows.push_back(r);
        };
        if (i.repo_tags_size() == 0) {
            std::string repo = i.repo_digests_size() ? i.repo_digests(0).substr(0, i.repo_digests(0).find('@')) : "<none>";
            row_for(repo, "<none>");
        }
        for (const auto& t : i.repo_tags()) {
            auto [repo, tag] = split_tag(t);
            row_for(repo, tag);
        }
    }
    print_table(rows);
    return 0;
}

int inspecti(Client& c, const Args& a) {
    if (a.pos.empty()) throw Error(EINVAL, "inspecti: an image is required; usage: berthctl inspecti IMAGE...");
    int rc = 0;
    for (const auto& ref : a.pos) {
        v1::ImageStatusRequest req;
        req.mutable_image()->set_image(ref);
        req.set_verbose(true);
        v1::ImageStatusResponse resp;
        auto ctx = c.context();
        Client::check(c.images().ImageStatus(ctx.get(), req, &resp), "ImageStatus");
        if (!resp.has_image()) {
            std::fprintf(stderr, "berthctl: no such image %s present\n", ref.c_str());
            rc = 1;
            continue;
        }
        Format f = a.format(Format::json);
        if (f == Format::table) {
            const auto& i = resp.image();
            std::printf("ID: %s\n", i.id().c_str());
            for (const auto& t : i.repo_tags()) std::printf("Tag: %s\n", t.c_str());
            for (const auto& d : i.repo_digests()) std::printf("Digest: %s\n", d.c_str());
            std::printf("Size: %s\n", std::to_string(i.size()).c_str());
            continue;
        }
        // crictl's shape: {"status": Image, "info": {...verbose info as JSON}}
        std::string j = "{\"status\": " + to_json(resp.image());
        auto it = resp.info().find("info");
        if (it != resp.info().end()) j += ", \"info\": " + it->second;
        j += "}";
        json::Document check(j, "ImageStatus info");   // the server's info must be JSON
        std::string out = f == Format::yaml ? json_to_yaml(j) : j + "\n";
        std::fputs(out.c_str(), stdout);
    }
    return rc;
}

int rmi(Client& c, const Args& a) {
    std::vector<std::string> refs = a.pos;
    bool all = a.has("all"), prune = a.has("prune");
    if (all || prune) {
        v1::ListImagesRequest lreq;
        v1::ListImagesResponse lresp;
        auto ctx = c.context();
        Client::check(c.images().ListImages(ctx.get(), lreq, &lresp), "ListImages");
        std::vector<std::string> used;
        if (prune) {
            // Images that containers use stay; a server without containers
            // (no RuntimeService yet) has none.
            v1::ListContainersRequest creq;
            v1::ListContainersResponse cresp;
            auto cctx = c.context();
            auto st = c.runtime().ListContainers(cctx.get(), creq, &cresp);
            if (st.error_code() != grpc::StatusCode::UNIMPLEMENTED) Client::check(st, "ListContainers");
            for (const auto& ct : cresp.containers()) used.push_back(ct.image_ref());
        }
        for (const auto& i : lresp.images())
            if (std::find(used.begin(), used.end(), i.id()) == used.end()) refs.push_back(i.id());
    }
    if (refs.empty() && !all && !prune) throw Error(EINVAL, "rmi: an image is required; usage: berthctl rmi IMAGE...");
    int rc = 0;
    for (const auto& ref : refs) {
        // Resolve first, to say what was removed and to fail on unknown names.
        v1::ImageStatusRequest sreq;
        sreq.mutable_image()->set_image(ref);
        v1::ImageStatusResponse sresp;
        auto sctx = c.context();
        Client::check(c.images().ImageStatus(sctx.get(), sreq, &sresp), "ImageStatus");
        if (!sresp.has_image()) {
            std::fprintf(stderr, "berthctl: no such image %s\n", ref.c_str());
            rc = 1;
            continue;
        }
        v1::RemoveImageRequest req;
        req.mutable_image()->set_image(sresp.image().id());
        v1::RemoveImageResponse resp;
        auto ctx = c.context();
        Client::check(c.images().RemoveImage(ctx.get(), req, &resp), "RemoveImage");
        for (const auto& t : sresp.image().repo_tags()) std::printf("Deleted: %s\n", t.c_str());
        if (sresp.image().repo_tags_size() == 0) std::printf("Deleted: %s\n", sresp.image().id().c_str());
    }
    return rc;
}

int imagefsinfo(Client& c, const Args& a) {
    v1::ImageFsInfoRequest req;
    v1::ImageFsInfoResponse resp;
    auto ctx = c.context();
    Client::check(c.images().ImageFsInfo(ctx.get(), req, &resp), "ImageFsInfo");
    Format f = a.format(Format::json);
    if (f == Format::table) {
        std::vector<std::vector<std::string>> rows = {{"TIMESTAMP", "MOUNTPOINT", "USED", "INODES"}};
        for (const auto* list : {&resp.image_filesystems(), &resp.container_filesystems()})
            for (const auto& u : *list)
                rows.push_back({std::to_string(u.timestamp()), u.fs_id().mountpoint(),
                                human_size(u.used_bytes().value()), std::to_string(u.inodes_used().value())});
        print_table(rows);
        return 0;
    }
    print_message(resp, f);
    return 0;
}

} // namespace

std::vector<Verb> image_verbs() {
    return {
        {"pull", "pull [OPTIONS] IMAGE", "Pull an image from a registry",
         {{"creds", true, 0, "USERNAME[:PASSWORD] for the registry"}, {"auth", true, 0, "base64 of USERNAME[:PASSWORD] for the registry"}, {"username", true, 'u', "registry user name"}, {"password", true, 0, "registry password"}, {"pull-timeout", true, 0, "seconds a pull may take (0: no limit)"},
          {"pod-config", true, 'p', "pod config file (accepted, unused)"}},
         pull, Operand::image},
        {"images", "images [OPTIONS] [REPOSITORY[:TAG]]", "List images",
         {{"quiet", false, 'q', "only show image IDs"}, {"digests", false, 0, "show digests"}, {"no-trunc", false, 0, "show output without truncating the ID"},
          {"output", true, 'o', "output format: json, yaml or table"}, {"verbose", false, 'v', "show verbose info"}}, images},
        {"inspecti", "inspecti [OPTIONS] IMAGE...", "Return the status of one or more images",
         {{"output", true, 'o', "output format: json, yaml or table"}, {"quiet", false, 'q', "do not show verbose information"}}, inspecti, Operand::image},
        {"rmi", "rmi [OPTIONS] IMAGE...", "Remove one or more images",
         {{"all", false, 'a', "remove all images"}, {"prune", false, 'q', "remove all unused images"}}, rmi, Operand::image},
        {"imagefsinfo", "imagefsinfo [OPTIONS]", "Return image filesystem info", {{"output", true, 'o', "output format: json, yaml or table"}}, imagefsinfo},
    };
}

} // namespace berth::ctl
