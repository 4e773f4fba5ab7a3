// berth-shim's Publisher against a fake containerd Events service (a ttrpc
// server on a unix socket, in a thread): publish() never waits for
// containerd's answer; events published while it is down are queued and
// delivered in order, with their original time, once it listens; a refused
// event is dropped and the rest go on; Unavailable is retried; a full queue
// evicts the oldest; the destructor's last flush delivers what is left.
#include <criterion/criterion.h>

#include "error.hpp"
#include "event_loop.hpp"
#include "events.pb.h"
#include "publisher.hpp"
#include "ttrpc.hpp"
#include "ttrpc.pb.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace berth;
using namespace berth::shim;

namespace {

struct Got {
    std::string topic, ns;
    int64_t seconds = 0;
    int32_t nanos = 0;
    std::string container;
};

// containerd's Events.Forward, answering each event with the code answer()
// gives (0: OK).
class FakeContainerd {
public:
    explicit FakeContainerd(std::string path, std::function<int32_t(const Got&)> answer = nullptr)
        : path_(std::move(path)), answer_(std::move(answer)) {}
    ~FakeContainerd() { stop(); }

    void start() {
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, path_.data(), path_.size());
        listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        cr_assert(static_cast<bool>(listener_));
        ::unlink(path_.c_str());
        cr_assert_eq(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
        cr_assert_eq(::listen(listener_.get(), 8), 0);
        th_ = std::thread([this] { serve(); });
    }
    void stop() {
        stop_ = true;
        if (th_.joinable()) th_.join();
        listener_.reset();
        ::unlink(path_.c_str());
    }
    std::vector<Got> got() {
        std::lock_guard l(m_);
        return got_;
    }

private:
    void serve() {
        while (!stop_) {
            pollfd p{listener_.get(), POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (c) serve_conn(c.get());
        }
    }
    void serve_conn(int fd) {
        berth::ttrpc::FrameDecoder dec;
        while (!stop_) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            char buf[4096];
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) return;
            dec.feed(buf, static_cast<size_t>(n));
            while (auto f = dec.next()) {
                berth::ttrpc::Request req;
                events::ForwardRequest fr;
                cr_assert(req.ParseFromString(f->payload) && fr.ParseFromString(req.payload()));
                cr_assert_eq(req.method(), "Forward");
                Got g{fr.envelope().topic(), fr.envelope().namespace_(), fr.envelope().timestamp().seconds(),
                      fr.envelope().timestamp().nanos(), ""};
                events::TaskExit e;
                if (e.ParseFromString(fr.envelope().event().value())) g.container = e.container_id();
                int32_t code = answer_ ? answer_(g) : 0;
                if (code == 0) {
                    std::lock_guard l(m_);
                    got_.push_back(g);
                }
                berth::ttrpc::Response resp;
                if (code != 0) {
                    resp.mutable_status()->set_code(code);
                    resp.mutable_status()->set_message("fake says no");
                }
                std::string out = berth::ttrpc::encode_frame(f->stream, berth::ttrpc::MsgType::response, 0,
                                                             resp.SerializeAsString());
                // The client may have given up on a slow answer and gone.
                if (::write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) return;
            }
        }
    }

    std::string path_;
    std::function<int32_t(const Got&)> answer_;
    UniqueFd listener_;
    std::thread th_;
    std::atomic<bool> stop_ = false;
    std::mutex m_;
    std::vector<Got> got_;
};

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/berth-pub-test.XXXXXX";
        cr_assert(::mkdtemp(t) != nullptr);
        path = t;
    }
    ~TempDir() {
        ::unlink((path + "/events.sock").c_str());
        ::rmdir(path.c_str());
    }
    std::string sock() const { return path + "/events.sock"; }
};

void publish_exit(Publisher& p, const std::string& id, const std::string& topic = "/tasks/exit") {
    events::TaskExit e;
    e.set_container_id(id);
    p.publish(topic, "TaskExit", e);
}

// Runs the loop (the retry timer) until cond holds or ms pass.
bool run_until(EventLoop& loop, const std::function<bool()>& cond, int ms) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!cond()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        loop.run_once(10);
    }
    return true;
}

double now_s() {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return double(ts.tv_sec) + ts.tv_nsec / 1e9;
}

void init() { ::signal(SIGPIPE, SIG_IGN); }

} // namespace

TestSuite(publisher, .init = init);

Test(publisher, delivers_when_containerd_listens) {
    TempDir d;
    FakeContainerd fake(d.sock());
    fake.start();
    EventLoop loop;
    Publisher p(loop, "unix://" + d.sock(), "", "", "ns1");
    publish_exit(p, "c1");
    cr_assert(run_until(loop, [&] { return p.queued() == 0; }, 3000));
    auto got = fake.got();
    cr_assert_eq(got.size(), 1u);
    cr_assert_eq(got[0].topic, "/tasks/exit");
    cr_assert_eq(got[0].ns, "ns1");
    cr_assert_eq(got[0].container, "c1");
}

Test(publisher, queues_while_down_and_delivers_in_order_with_original_time) {
    TempDir d;
    EventLoop loop;
    Publisher p(loop, d.sock(), "", "", "ns1");
    double before = now_s();
    for (const char* id : {"a", "b", "c"}) publish_exit(p, id);
    cr_assert_eq(p.queued(), 3u);
    double published = now_s();
    // Down for a few retries.
    run_until(loop, [] { return false; }, 400);
    cr_assert_eq(p.queued(), 3u);
    FakeContainerd fake(d.sock());
    fake.start();
    double up = now_s();
    cr_assert(run_until(loop, [&] { return p.queued() == 0; }, 3000), "queue not flushed: %zu left", p.queued());
    auto got = fake.got();
    cr_assert_eq(got.size(), 3u);
    cr_assert_eq(got[0].container + got[1].container + got[2].container, "abc");
    for (auto& g : got) {
        double at = double(g.seconds) + g.nanos / 1e9;
        cr_assert(at >= before - 0.001 && at <= published + 0.001 && at < up, "stamped at delivery, not publish");
    }
    // Back to the direct path: nothing armed, a new event goes at once.
    publish_exit(p, "d");
    cr_assert(run_until(loop, [&] { return p.queued() == 0; }, 3000));
    cr_assert_eq(fake.got().size(), 4u);
}

Test(publisher, a_refused_event_is_dropped_and_the_rest_go_on) {
    TempDir d;
    FakeContainerd fake(d.sock(), [](const Got& g) { return g.container == "bad" ? 3 : 0; });   // InvalidArgument
    fake.start();
    EventLoop loop;
    Publisher p(loop, d.sock(), "", "", "ns1");
    for (const char* id : {"a", "bad", "c"}) publish_exit(p, id);
    cr_assert(run_until(loop, [&] { return p.queued() == 0; }, 3000));
    auto got = fake.got();
    cr_assert_eq(got.size(), 2u);
    cr_assert_eq(got[0].container + got[1].container, "ac");
}

Test(publisher, unavailable_is_retried) {
    TempDir d;
    std::atomic<int> refusals = 2;
    FakeContainerd fake(d.sock(), [&](const Got&) { return refusals-- > 0 ? 14 : 0; });
    fake.start();
    EventLoop loop;
    Publisher p(loop, d.sock(), "", "", "ns1");
    publish_exit(p, "a");
    cr_assert_eq(p.queued(), 1u);
    cr_assert(run_until(loop, [&] { return p.queued() == 0; }, 3000));
    auto got = fake.got();
    cr_assert_eq(got.size(), 1u);
    cr_assert_eq(got[0].container, "a");
}

// publish() returns while containerd still holds the first event's answer
// (the shim answers the call that caused an event first, as containerd's
// own shims do); the next event waits its turn; each is delivered once, in
// order. (A publish that waited would time out, and send the first again.)
Test(publisher, publish_never_waits_for_containerd) {
    TempDir d;
    std::atomic<int> received = 0;
    std::atomic<bool> release = false;
    FakeContainerd fake(d.sock(), [&](const Got&) {
        ++received;
        while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return 0;
    });
    fake.start();
    EventLoop loop;
    Publisher p(loop, d.sock(), "", "", "ns1");
    publish_exit(p, "a");
    for (int i = 0; i < 600 && received == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cr_assert_eq(received.load(), 1, "containerd got the first event");
    publish_exit(p, "b");
    cr_assert_eq(p.queued(), 2u, "nothing is answered yet");
    release = true;
    cr_assert(run_until(loop, [&] { return p.queued() == 0; }, 3000));
    auto got = fake.got();
    cr_assert_eq(got.size(), 2u, "each once (got %zu)", got.size());
    cr_assert_eq(got[0].container + got[1].container, "ab");
}

// A containerd that takes longer than the timeout to answer: the event
// goes again (at least once), and publish() never waited for it.
Test(publisher, a_wedged_containerd_gets_the_event_again) {
    TempDir d;
    std::atomic<bool> first = true;
    FakeContainerd fake(d.sock(), [&](const Got&) {
        if (first.exchange(false)) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        return 0;
    });
    fake.start();
    EventLoop loop;
    Publisher p(loop, d.sock(), "", "", "ns1");
    publish_exit(p, "slow");
    cr_assert_eq(p.queued(), 1u);
    // Sent again: at least once (the first answer came too late to count).
    cr_assert(run_until(loop, [&] { return p.queued() == 0; }, 5000));
    auto got = fake.got();
    cr_assert(!got.empty());
    cr_assert_eq(got.back().container, "slow");
}

Test(publisher, a_full_queue_drops_the_oldest) {
    TempDir d;
    EventLoop loop;
    Publisher p(loop, d.sock(), "", "", "ns1");
    size_t extra = 5;
    for (size_t i = 0; i < Publisher::queue_capacity + extra; ++i) publish_exit(p, std::to_string(i));
    cr_assert_eq(p.queued(), Publisher::queue_capacity);
    FakeContainerd fake(d.sock());
    fake.start();
    cr_assert(run_until(loop, [&] { return p.queued() == 0; }, 5000));
    auto got = fake.got();
    cr_assert_eq(got.size(), Publisher::queue_capacity);
    cr_assert_eq(got.front().container, std::to_string(extra));
    cr_assert_eq(got.back().container, std::to_string(Publisher::queue_capacity + extra - 1));
}

Test(publisher, the_destructor_flushes_what_is_left) {
    TempDir d;
    FakeContainerd fake(d.sock());
    {
        EventLoop loop;
        Publisher p(loop, d.sock(), "", "", "ns1");
        publish_exit(p, "last");
        cr_assert_eq(p.queued(), 1u);
        fake.start();
        // No loop run: the retry timer never fires; only the destructor sends.
    }
    auto got = fake.got();
    cr_assert_eq(got.size(), 1u);
    cr_assert_eq(got[0].container, "last");
}

// The shim exits right after its last call, whose event is still in
// flight: the destructor waits for that answer rather than sending the
// event again (containerd would get it twice).
Test(publisher, the_destructor_awaits_the_event_in_flight) {
    TempDir d;
    FakeContainerd fake(d.sock(), [](const Got&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        return 0;
    });
    fake.start();
    {
        EventLoop loop;
        Publisher p(loop, d.sock(), "", "", "ns1");
        publish_exit(p, "last");
        publish_exit(p, "after");
        cr_assert_eq(p.queued(), 2u);
    }
    auto got = fake.got();
    cr_assert_eq(got.size(), 2u, "each once (got %zu)", got.size());
    cr_assert_eq(got[0].container + got[1].container, "lastafter");
}

Test(publisher, the_destructor_gives_up_quickly_when_nobody_answers) {
    TempDir d;
    auto t0 = std::chrono::steady_clock::now();
    {
        EventLoop loop;
        Publisher p(loop, d.sock(), "", "", "ns1");
        publish_exit(p, "lost");
    }
    cr_assert(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));
}
