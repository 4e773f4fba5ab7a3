// berth-shim's wire formats: ttrpc framing (round trip, a frame split
// across reads, several frames in one read, an oversized length rejected)
// and protobuf round trips of containerd task API requests with their
// field numbers checked against hand-encoded bytes.
#include <criterion/criterion.h>

#include "error.hpp"
#include "events.pb.h"
#include "task.pb.h"
#include "ttrpc.hpp"
#include "ttrpc.pb.h"

#include <string>

using namespace berth;
namespace tt = berth::ttrpc;

namespace {

std::string request_bytes() {
    tt::Request req;
    req.set_service("containerd.task.v2.Task");
    req.set_method("Start");
    berth::task::StartRequest sr;
    sr.set_id("c1");
    sr.set_exec_id("e1");
    req.set_payload(sr.SerializeAsString());
    req.set_timeout_nano(5000000000);
    auto* md = req.add_metadata();
    md->set_key("containerd-namespace-ttrpc");
    md->set_value("default");
    return req.SerializeAsString();
}

} // namespace

Test(ttrpc, header_layout) {
    std::string f = tt::encode_frame(0x01020304, tt::MsgType::response, 0x05, "abc");
    cr_assert_eq(f.size(), tt::header_size + 3);
    const unsigned char want[] = {0, 0, 0, 3, 1, 2, 3, 4, 2, 5, 'a', 'b', 'c'};
    cr_assert(f == std::string(reinterpret_cast<const char*>(want), sizeof want));
}

Test(ttrpc, round_trip) {
    std::string body = request_bytes();
    std::string wire = tt::encode_frame(7, tt::MsgType::request, 0, body);
    tt::FrameDecoder d;
    d.feed(wire.data(), wire.size());
    auto f = d.next();
    cr_assert(f.has_value());
    cr_assert_eq(f->stream, 7u);
    cr_assert_eq(f->type, 1);
    cr_assert_eq(f->flags, 0);
    cr_assert(f->payload == body);
    cr_assert(!d.next().has_value());
    cr_assert_eq(d.buffered(), 0u);

    tt::Request req;
    cr_assert(req.ParseFromString(f->payload));
    cr_assert(req.service() == "containerd.task.v2.Task");
    cr_assert(req.method() == "Start");
    cr_assert_eq(req.timeout_nano(), 5000000000);
    cr_assert_eq(req.metadata_size(), 1);
    cr_assert(req.metadata(0).value() == "default");
    berth::task::StartRequest sr;
    cr_assert(sr.ParseFromString(req.payload()));
    cr_assert(sr.id() == "c1" && sr.exec_id() == "e1");
}

Test(ttrpc, split_across_reads) {
    std::string wire = tt::encode_frame(1, tt::MsgType::request, 0, request_bytes()) +
                       tt::encode_frame(3, tt::MsgType::request, 0, "");
    tt::FrameDecoder d;
    // One byte at a time: nothing until the first frame is whole.
    size_t i = 0;
    int got = 0;
    for (; i < wire.size(); ++i) {
        d.feed(&wire[i], 1);
        while (auto f = d.next()) {
            ++got;
            cr_assert_eq(f->stream, got == 1 ? 1u : 3u);
            if (got == 1) cr_assert_eq(i, wire.size() - tt::header_size - 1, "first frame completes at its last byte");
        }
    }
    cr_assert_eq(got, 2);
}

Test(ttrpc, many_frames_in_one_read) {
    std::string wire;
    for (uint32_t s = 1; s < 20; s += 2) wire += tt::encode_frame(s, tt::MsgType::request, 0, std::string(s, 'x'));
    tt::FrameDecoder d;
    d.feed(wire.data(), wire.size());
    uint32_t want = 1;
    while (auto f = d.next()) {
        cr_assert_eq(f->stream, want);
        cr_assert_eq(f->payload.size(), want);
        want += 2;
    }
    cr_assert_eq(want, 21u);
}

Test(ttrpc, oversized_length_rejected) {
    // A header announcing 4 MiB + 1: rejected as soon as the header is in.
    const unsigned char hdr[] = {0x00, 0x40, 0x00, 0x01, 0, 0, 0, 1, 1, 0};
    tt::FrameDecoder d;
    d.feed(reinterpret_cast<const char*>(hdr), sizeof hdr);
    bool thrown = false;
    try {
        d.next();
    } catch (const Error& e) {
        thrown = e.err() == EMSGSIZE;
    }
    cr_assert(thrown);
    // And the encoder refuses to build one.
    thrown = false;
    try {
        tt::encode_frame(1, tt::MsgType::response, 0, std::string(tt::max_payload + 1, 'x'));
    } catch (const Error& e) {
        thrown = e.err() == EMSGSIZE;
    }
    cr_assert(thrown);
    // Exactly the limit is fine.
    std::string ok = tt::encode_frame(1, tt::MsgType::response, 0, std::string(tt::max_payload, 'x'));
    tt::FrameDecoder d2;
    d2.feed(ok.data(), ok.size());
    cr_assert(d2.next().has_value());
}

// containerd's field numbers, checked on the wire: CreateTaskRequest
// {id=1, bundle=2, rootfs=3 Mount{type=1, source=2, options=4}, terminal=4,
// stdout=6}.
Test(protobuf, create_request_wire_format) {
    berth::task::CreateTaskRequest r;
    r.set_id("c");
    r.set_bundle("/b");
    auto* m = r.add_rootfs();
    m->set_type("overlay");
    m->set_source("o");
    m->add_options("ro");
    r.set_terminal(true);
    r.set_stdout("/f");
    std::string got = r.SerializeAsString();
    std::string mount = std::string("\x0a\x07overlay", 9) + std::string("\x12\x01o", 3) + std::string("\x22\x02ro", 4);
    std::string want = std::string("\x0a\x01" "c", 3) + std::string("\x12\x02/b", 4) + "\x1a" +
                       std::string(1, static_cast<char>(mount.size())) + mount + std::string("\x20\x01", 2) +
                       std::string("\x32\x02/f", 4);
    cr_assert(got == want, "CreateTaskRequest bytes differ from containerd's field numbering");
    berth::task::CreateTaskRequest back;
    cr_assert(back.ParseFromString(got));
    cr_assert(back.rootfs(0).options(0) == "ro" && back.terminal() && back.stdout() == "/f");
}

Test(protobuf, exec_and_kill_round_trip) {
    berth::task::ExecProcessRequest e;
    e.set_id("c1");
    e.set_exec_id("e1");
    e.set_terminal(true);
    e.set_stdin("/in");
    e.mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Process");
    e.mutable_spec()->set_value("{\"args\":[\"sh\"],\"cwd\":\"/\"}");
    berth::task::ExecProcessRequest e2;
    cr_assert(e2.ParseFromString(e.SerializeAsString()));
    cr_assert(e2.exec_id() == "e1" && e2.terminal() && e2.stdin() == "/in");
    cr_assert(e2.spec().value() == e.spec().value());

    berth::task::KillRequest k;
    k.set_id("c1");
    k.set_signal(9);
    k.set_all(true);
    // signal=3 (varint), all=4 (varint).
    cr_assert(k.SerializeAsString() == std::string("\x0a\x02" "c1\x18\x09\x20\x01", 8));
}

Test(protobuf, wait_response_and_event) {
    berth::task::WaitResponse w;
    w.set_exit_status(137);
    w.mutable_exited_at()->set_seconds(1700000000);
    w.mutable_exited_at()->set_nanos(5);
    berth::task::WaitResponse w2;
    cr_assert(w2.ParseFromString(w.SerializeAsString()));
    cr_assert_eq(w2.exit_status(), 137u);
    cr_assert_eq(w2.exited_at().seconds(), 1700000000);
    cr_assert_eq(w2.exited_at().nanos(), 5);

    berth::events::TaskExit ex;
    ex.set_container_id("c1");
    ex.set_id("c1");
    ex.set_pid(42);
    ex.set_exit_status(3);
    berth::events::ForwardRequest fr;
    fr.mutable_envelope()->set_topic("/tasks/exit");
    fr.mutable_envelope()->set_namespace_("default");
    fr.mutable_envelope()->mutable_event()->set_type_url("containerd.events.TaskExit");
    fr.mutable_envelope()->mutable_event()->set_value(ex.SerializeAsString());
    berth::events::ForwardRequest fr2;
    cr_assert(fr2.ParseFromString(fr.SerializeAsString()));
    berth::events::TaskExit ex2;
    cr_assert(ex2.ParseFromString(fr2.envelope().event().value()));
    cr_assert(ex2.pid() == 42 && ex2.exit_status() == 3 && fr2.envelope().namespace_() == "default");
}

// The protocol's 4 MiB everywhere, but berth-shim's replies to berthd
// (ExecSync's two 16 MiB streams) up to max_berth_payload.
Test(ttrpc, frame_limits) {
    std::string big(tt::max_payload + 1, 'x');
    bool refused = false;
    try {
        tt::encode_frame(1, tt::MsgType::response, 0, big);
    } catch (const berth::Error& e) {
        refused = e.err() == EMSGSIZE;
    }
    cr_assert(refused, "a frame over 4 MiB was encoded under the protocol's limit");
    std::string wire = tt::encode_frame(1, tt::MsgType::response, 0, big, tt::max_berth_payload);
    tt::FrameDecoder plain;
    plain.feed(wire.data(), tt::header_size);
    refused = false;
    try {
        plain.next();
    } catch (const berth::Error& e) {
        refused = e.err() == EMSGSIZE;
    }
    cr_assert(refused, "a plain decoder took a frame over 4 MiB");
    tt::FrameDecoder berthd(tt::max_berth_payload);
    berthd.feed(wire.data(), wire.size());
    auto f = berthd.next();
    cr_assert(f && f->payload.size() == big.size());
}
