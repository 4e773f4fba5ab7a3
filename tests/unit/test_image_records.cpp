// cri/image/image_store: image records, the names index, atomic writes.
#include <criterion/criterion.h>

#include "digest.hpp"
#include "error.hpp"
#include "image_store.hpp"
#include "test_dir.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

using namespace berth;
using namespace berth::image;

TestSuite(image_store, .init = make_test_dir, .fini = remove_test_dir);

namespace {

ImageRecord record(const std::string& seed, std::vector<std::string> tags = {}) {
    ImageRecord r;
    r.id = r.config_digest = sha256_digest(seed);
    r.repo_tags = std::move(tags);
    r.repo_digests = {"docker.io/library/" + seed + "@" + sha256_digest("manifest " + seed)};
    r.manifest_digest = sha256_digest("manifest " + seed);
    r.layer_digests = {sha256_digest("layer " + seed)};
    r.diff_ids = {sha256_digest("diff " + seed)};
    r.chain_ids = r.diff_ids;
    r.size = 1234;
    r.pulled_at = "2026-01-01T00:00:00Z";
    r.config.architecture = "amd64";
    r.config.os = "linux";
    r.config.config.entrypoint = {"/bin/sh", "-c"};
    r.config.config.cmd = {"echo hi"};
    r.config.config.env = {"PATH=/bin"};
    r.config.config.user = "1000:1000";
    r.config.config.working_dir = "/w";
    r.config.config.stop_signal = "SIGINT";
    r.config.config.labels = {{"a", "b"}};
    r.config.config.volumes = {"/data"};
    r.config.config.exposed_ports = {"80/tcp"};
    r.config.diff_ids = r.diff_ids;
    return r;
}

std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    while (dirent* e = d ? ::readdir(d) : nullptr)
        if (e->d_name[0] != '.' || (e->d_name[1] && e->d_name[1] != '.')) out.emplace_back(e->d_name);
    if (d) ::closedir(d);
    return out;
}

} // namespace

Test(image_store, put_get_and_reload) {
    std::string root = test_dir() + "/images";
    ImageRecord r = record("busybox", {"docker.io/library/busybox:latest"});
    {
        ImageStore s(root);
        s.put(r);
        cr_assert(s.get(r.id).has_value());
    }
    ImageStore s(root);
    cr_assert(s.load_errors().empty());
    auto g = s.get(r.id);
    cr_assert(g.has_value());
    cr_assert_eq(g->repo_tags, r.repo_tags);
    cr_assert_eq(g->repo_digests, r.repo_digests);
    cr_assert_eq(g->layer_digests, r.layer_digests);
    cr_assert_eq(g->chain_ids, r.chain_ids);
    cr_assert_eq(g->size, 1234u);
    cr_assert_eq(g->config.config.entrypoint, r.config.config.entrypoint);
    cr_assert_eq(g->config.config.cmd, r.config.config.cmd);
    cr_assert_eq(g->config.config.env, r.config.config.env);
    cr_assert_eq(g->config.config.user, "1000:1000");
    cr_assert_eq(g->config.config.working_dir, "/w");
    cr_assert_eq(g->config.config.stop_signal, "SIGINT");
    cr_assert_eq(g->config.config.labels, r.config.config.labels);
    cr_assert_eq(g->config.config.volumes, r.config.config.volumes);
    cr_assert_eq(g->config.config.exposed_ports, r.config.config.exposed_ports);
    cr_assert_eq(g->config.diff_ids, r.diff_ids);
    cr_assert_eq(g->config.architecture, "amd64");
}

Test(image_store, resolve_by_every_name) {
    ImageStore s(test_dir() + "/images");
    ImageRecord r = record("busybox", {"docker.io/library/busybox:latest"});
    s.put(r);
    std::string hex = r.id.substr(7);
    for (const std::string& name : {r.id, hex, hex.substr(0, 12), "sha256:" + hex.substr(0, 20),
                                    std::string("docker.io/library/busybox:latest"), r.repo_digests[0]}) {
        auto got = s.resolve(name);
        cr_assert(got.has_value(), "resolve %s", name.c_str());
        cr_assert_eq(got->id, r.id);
    }
    cr_assert(!s.resolve(hex.substr(0, 11)).has_value(), "prefixes are 12 hex or more");
    cr_assert(!s.resolve("docker.io/library/busybox:other").has_value());
    cr_assert(!s.resolve("").has_value());
}

Test(image_store, an_ambiguous_prefix_is_an_error) {
    ImageStore s(test_dir() + "/images");
    ImageRecord a = record("a"), b = record("b");
    a.id = a.config_digest = "sha256:" + std::string(12, 'a') + std::string(52, '1');
    b.id = b.config_digest = "sha256:" + std::string(12, 'a') + std::string(52, '2');
    s.put(a);
    s.put(b);
    try {
        s.resolve(std::string(12, 'a'));
        cr_assert_fail("an ambiguous prefix resolved");
    } catch (const Error& e) {
        cr_assert_eq(e.err(), EINVAL);
        cr_assert(std::string(e.what()).find("ambiguous") != std::string::npos);
    }
    cr_assert_eq(s.resolve(std::string(12, 'a') + "1")->id, a.id);
    cr_assert(s.get(a.id).has_value(), "nothing removed");
}

Test(image_store, a_tag_moves_to_the_new_image) {
    std::string root = test_dir() + "/images";
    ImageStore s(root);
    ImageRecord old = record("v1", {"docker.io/library/app:latest", "docker.io/library/app:v1"});
    ImageRecord neu = record("v2", {"docker.io/library/app:latest"});
    s.put(old);
    s.put(neu);
    cr_assert_eq(s.resolve("docker.io/library/app:latest")->id, neu.id);
    auto o = s.get(old.id);
    cr_assert(o.has_value(), "the old image stays");
    cr_assert_eq(o->repo_tags, std::vector<std::string>{"docker.io/library/app:v1"});
    // And on disk.
    ImageStore again(root);
    cr_assert_eq(again.resolve("docker.io/library/app:latest")->id, neu.id);
    cr_assert_eq(again.get(old.id)->repo_tags, std::vector<std::string>{"docker.io/library/app:v1"});
    // The last tag moving leaves the image untagged, not gone.
    ImageRecord v3 = record("v3", {"docker.io/library/app:v1"});
    again.put(v3);
    cr_assert(again.get(old.id)->repo_tags.empty());
    cr_assert_eq(again.list().size(), 3u);
}

Test(image_store, remove_by_tag_digest_and_id) {
    ImageStore s(test_dir() + "/images");
    ImageRecord r = record("app", {"docker.io/library/app:a", "docker.io/library/app:b"});
    s.put(r);
    cr_assert(s.remove("docker.io/library/app:a"));
    cr_assert(s.get(r.id).has_value(), "one tag left");
    cr_assert(!s.resolve("docker.io/library/app:a").has_value());
    cr_assert(s.remove("docker.io/library/app:b"));
    cr_assert(!s.get(r.id).has_value(), "no tag left: gone");
    cr_assert(!s.resolve(r.repo_digests[0]).has_value());
    cr_assert(!s.remove("docker.io/library/app:b"));
    cr_assert(files_in(test_dir() + "/images").empty());

    s.put(r);
    cr_assert(s.remove(r.id.substr(7, 16)));
    cr_assert(!s.get(r.id).has_value(), "by id: the whole record");
    cr_assert(!s.resolve("docker.io/library/app:a").has_value());

    ImageRecord untagged = record("digest-only");
    s.put(untagged);
    cr_assert(s.remove(untagged.repo_digests[0]));
    cr_assert(!s.get(untagged.id).has_value());
}

Test(image_store, temp_files_are_ignored_and_removed) {
    std::string root = test_dir() + "/images";
    ImageRecord r = record("x", {"docker.io/library/x:latest"});
    {
        ImageStore s(root);
        s.put(r);
    }
    // What a crash in the middle of a write leaves: a partial temp file.
    std::string tmp = root + "/.tmp-" + r.id.substr(7) + ".json-1-2-3";
    {
        std::ofstream f(tmp);
        f << "{\"id\":\"sha256:";
    }
    ImageStore s(root);
    cr_assert(s.load_errors().empty());
    cr_assert_eq(s.list().size(), 1u);
    struct stat st;
    cr_assert_neq(::stat(tmp.c_str(), &st), 0, "the temp file is cleaned up");
}

Test(image_store, a_corrupt_record_is_skipped_and_reported) {
    std::string root = test_dir() + "/images";
    ImageRecord good = record("good", {"docker.io/library/good:latest"});
    {
        ImageStore s(root);
        s.put(good);
    }
    std::string bad = root + "/" + sha256_digest("bad").substr(7) + ".json";
    {
        std::ofstream f(bad);
        f << "{\"id\": 42";
    }
    ImageStore s(root);
    cr_assert_eq(s.load_errors().size(), 1u);
    cr_assert(s.load_errors()[0].find(bad) != std::string::npos, "%s", s.load_errors()[0].c_str());
    cr_assert_eq(s.list().size(), 1u);
    cr_assert(s.resolve("docker.io/library/good:latest").has_value());
}

Test(image_store, a_tag_claimed_twice_goes_to_the_later_pull) {
    // Both orders of ids and pull times, so the load's iteration order cannot decide.
    for (int later_first = 0; later_first < 2; ++later_first) {
        std::string root = test_dir() + "/images" + std::to_string(later_first);
        ImageRecord a = record("a", {"docker.io/library/app:latest"});
        ImageRecord b = record("b", {"docker.io/library/app:latest"});
        ImageRecord& later = (a.id < b.id) == (later_first == 1) ? a : b;
        ImageRecord& earlier = &later == &a ? b : a;
        later.pulled_at = "2026-02-01T00:00:00Z";
        // Two stores writing one dir stand in for a crash between put()'s writes.
        {
            ImageStore s1(root);
            s1.put(later);
        }
        std::string other = root + "-other";
        {
            ImageStore s2(other);
            s2.put(earlier);
        }
        std::string f = earlier.id.substr(7) + ".json";
        cr_assert_eq(::rename((other + "/" + f).c_str(), (root + "/" + f).c_str()), 0);
        ImageStore s(root);
        cr_assert_eq(s.resolve("docker.io/library/app:latest")->id, later.id, "round %d", later_first);
        cr_assert(s.get(earlier.id)->repo_tags.empty());
        ImageStore again(root);   // repaired on disk too
        cr_assert(again.get(earlier.id)->repo_tags.empty());
        cr_assert_eq(again.get(later.id)->repo_tags.size(), 1u);
    }
}

Test(image_store, a_record_is_only_ever_seen_whole) {
    std::string root = test_dir() + "/images";
    { ImageStore s(root); }
    // A writer killed at arbitrary moments while it rewrites big records.
    for (int round = 0; round < 10; ++round) {
        pid_t pid = ::fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            ImageStore s(root);
            for (int i = 0;; ++i) {
                ImageRecord r = record("r" + std::to_string(i % 3), {"docker.io/library/r:" + std::to_string(i % 5)});
                r.config.config.env.assign(20000, "K=" + std::to_string(i));
                s.put(r);
            }
        }
        ::usleep(static_cast<useconds_t>(20000 + round * 7000));
        ::kill(pid, SIGKILL);
        int st;
        ::waitpid(pid, &st, 0);
        ImageStore s(root);
        cr_assert(s.load_errors().empty(), "round %d: %s", round, s.load_errors().empty() ? "" : s.load_errors()[0].c_str());
        for (const auto& r : s.list()) {
            cr_assert_eq(r.config.config.env.size(), 20000u, "round %d: a partial record", round);
            cr_assert_eq(r.config.config.env.front(), r.config.config.env.back());
        }
        for (const auto& f : files_in(root)) cr_assert(f[0] != '.', "round %d: %s left", round, f.c_str());
    }
}
