// berthd's queue of Runs waiting for room under a quota: FIFO per config,
// written through, read back whole by a new berthd; a file that is not a
// record is skipped and named.
#include "execution_queue.hpp"

#include "error.hpp"
#include "file_util.hpp"

#include <criterion/criterion.h>

#include <cstdlib>
#include <filesystem>
#include <string>

using namespace berth::cri;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/berth-exec-queue.XXXXXX";
        cr_assert_not_null(::mkdtemp(t));
        path = t;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

std::string id_of(char c) { return std::string(64, c); }

QueuedRun run(char id, const std::string& config, int64_t at, const std::string& state = "queued") {
    QueuedRun r;
    r.set_id(id_of(id));
    r.set_config(config);
    r.set_created_at(at);
    r.set_state(state);
    r.set_uid(1000);
    return r;
}

} // namespace

Test(execution_queue, fifo_per_config) {
    TempDir t;
    ExecutionQueue q(t.path + "/queue");
    cr_expect(!q.any_waiting());
    q.put(run('c', "small", 30));
    q.put(run('a', "small", 10));
    q.put(run('b', "big", 20));
    q.put(run('d', "small", 40, "exited"));   // canceled: no longer waiting
    auto small = q.waiting("small");
    cr_assert_eq(small.size(), 2u);
    cr_expect_eq(small[0].id(), id_of('a'));
    cr_expect_eq(small[1].id(), id_of('c'));
    cr_expect_eq(q.position(id_of('a')), 1);
    cr_expect_eq(q.position(id_of('c')), 2);
    cr_expect_eq(q.position(id_of('b')), 1, "places count within a config");
    cr_expect_eq(q.position(id_of('d')), 0, "an ended one has no place");
    cr_expect_eq(q.all().size(), 4u);
    cr_expect(q.any_waiting());
}

Test(execution_queue, updates_and_erasure_are_written_through) {
    TempDir t;
    {
        ExecutionQueue q(t.path);
        q.put(run('a', "small", 10));
        q.put(run('b', "small", 20));
        auto a = *q.get(id_of('a'));
        a.set_state("exited");
        a.set_reason("Canceled");
        q.put(a);   // an update, not a second record
        q.erase(id_of('b'));
        q.erase(id_of('e'));   // none: no-op
        cr_expect_eq(q.all().size(), 1u);
    }
    ExecutionQueue again(t.path);   // a restarted berthd
    cr_expect(again.load_errors().empty());
    auto all = again.all();
    cr_assert_eq(all.size(), 1u);
    cr_expect_eq(all[0].reason(), "Canceled");
    cr_expect(!again.any_waiting());
    cr_expect(!std::filesystem::exists(t.path + "/" + id_of('b') + ".pb"));
}

Test(execution_queue, junk_is_skipped_and_named) {
    TempDir t;
    berth::write_file_atomic(t.path + "/" + id_of('a') + ".pb", "\xff\xff not a record");
    berth::write_file_atomic(t.path + "/notes.txt", "ignored");
    QueuedRun other = run('b', "small", 10);
    berth::write_file_atomic(t.path + "/" + id_of('c') + ".pb", other.SerializeAsString());   // names another id
    ExecutionQueue q(t.path);
    cr_expect(q.all().empty());
    cr_assert_eq(q.load_errors().size(), 2u);
    for (const auto& e : q.load_errors()) cr_expect(e.find(t.path) != std::string::npos, "%s", e.c_str());
}

Test(execution_queue, a_bad_id_is_refused) {
    TempDir t;
    ExecutionQueue q(t.path);
    QueuedRun r = run('a', "small", 1);
    r.set_id("../../etc/passwd");
    bool threw = false;
    try {
        q.put(r);
    } catch (const berth::Error& e) {
        threw = true;
    }
    cr_expect(threw);
    cr_expect(q.all().empty());
}
