// The SPDY/3.1 server session against a test client: streams opened,
// replied to, fed and finished; PING and GOAWAY; stream errors answered
// with RST_STREAM and session errors with GOAWAY; the stream cap; and the
// flow-control arithmetic both ways, in enforce mode and in detect mode
// (kubelet's spdystream, which never sends WINDOW_UPDATE).
#include "spdy_test_util.hpp"

#include <cerrno>

using namespace spdy_test;

namespace {

SessionConfig enforcing() {
    SessionConfig c;
    c.peer_flow_control = PeerFlowControl::enforce;
    return c;
}

// Opens stream `id` with `type` and replies to it; returns the events of the open.
std::vector<Event> open(ServerSession& s, Client& c, uint32_t id, const char* type = "stdout") {
    auto ev = s.feed(c.syn_stream(id, {{"streamtype", type}}));
    s.reply(id, {});
    c.read(s);
    return ev;
}

uint32_t rst_status(const std::vector<Read>& frames, uint32_t id) {
    for (const RstStream& r : all_of<RstStream>(frames))
        if (r.stream_id == id) return r.status;
    return 0;
}

} // namespace

Test(spdy_session, a_stream_opens_with_its_headers_and_is_replied_to) {
    ServerSession s;
    Client c;
    cr_expect(s.pending_output().empty(), "no frame before the client's with default windows");
    auto ev = s.feed(c.syn_stream(1, {{"streamtype", "stdin"}, {"x-multi", std::string("a\0b", 3)}}));
    auto opened = events_of<StreamOpened>(ev);
    cr_assert_eq(opened.size(), 1u);
    cr_expect_eq(opened[0].stream_id, 1u);
    cr_expect_eq(*find_header(opened[0].headers, "streamtype"), std::string("stdin"));
    cr_expect_eq(split_values(*find_header(opened[0].headers, "x-multi")).size(), 2u);
    cr_expect(s.is_open(1));
    cr_expect_eq(s.writable(1), 0u, "nothing may be sent before the reply");
    cr_expect(!s.may_send(1));
    expect_error([&] { s.send_data(1, "x"); }, EINVAL, "stream 1 has not been replied to");

    s.reply(1, {{"x-reply", "ok"}});
    auto out = c.read(s);
    auto replies = all_of<SynReply>(out);
    cr_assert_eq(replies.size(), 1u);
    cr_expect_eq(replies[0].stream_id, 1u);
    HeaderBlock h = c.inflate(replies[0].header_block);
    cr_expect_eq(*find_header(h, "x-reply"), std::string("ok"));
    expect_error([&] { s.reply(1, {}); }, EINVAL, "stream 1 was already replied to");
    expect_error([&] { s.reply(3, {}); }, EINVAL, "the peer never opened stream 3");
    expect_error([&] { s.send_data(2, "x"); }, EINVAL, "the peer never opened stream 2");
}

Test(spdy_session, data_flows_both_ways_and_fin_closes_the_stream) {
    ServerSession s;
    Client c;
    open(s, c, 1, "stdin");
    auto ev = s.feed(c.data(1, "hello ") + c.data(1, "world", true));
    auto data = events_of<StreamData>(ev);
    cr_assert_eq(data.size(), 2u);
    cr_expect_eq(data[0].data + data[1].data, std::string("hello world"));
    cr_expect_eq(events_of<StreamHalfClosed>(ev).size(), 1u);
    cr_expect(s.is_open(1), "open until the server finishes too");

    cr_expect(s.may_send(1));
    cr_expect_eq(s.send_data(1, "echo", true), 4u);
    cr_expect(!s.may_send(1));
    auto out = c.read(s);
    auto sent = all_of<Data>(out);
    cr_assert_eq(sent.size(), 1u);
    cr_expect_eq(sent[0].data, std::string("echo"));
    cr_expect(sent[0].fin);
    cr_expect(!s.is_open(1));
    cr_expect_eq(s.send_data(1, "more"), 0u, "a closed stream takes nothing");
}

Test(spdy_session, a_syn_stream_with_fin_is_half_closed_at_once) {
    ServerSession s;
    Client c;
    auto ev = s.feed(c.syn_stream(1, {{"streamtype", "error"}}, flag_fin));
    cr_assert_eq(ev.size(), 2u);
    cr_expect(std::holds_alternative<StreamOpened>(ev[0]));
    cr_expect(std::holds_alternative<StreamHalfClosed>(ev[1]));
    s.reply(1, {});
    cr_expect_eq(s.send_data(1, "{\"status\":\"Success\"}", true), 20u);
    cr_expect(!s.is_open(1));
}

Test(spdy_session, a_stream_reset_in_the_same_read_is_replied_to_as_a_no_op) {
    // The owner sees StreamOpened after the whole read: the stream is gone by then.
    ServerSession s;
    Client c;
    auto ev = s.feed(join({c.syn_stream(1, {{"streamtype", "stdin"}}), c.frame(RstStream{1, 5})}));
    cr_assert_eq(ev.size(), 2u);
    cr_expect(std::holds_alternative<StreamOpened>(ev[0]));
    cr_expect(std::holds_alternative<StreamReset>(ev[1]));
    s.reply(1, {});
    cr_expect_eq(s.send_data(1, "x", true), 0u);
    cr_expect(c.read(s).empty(), "nothing is sent for the reset stream");
}

Test(spdy_session, a_unidirectional_stream_takes_no_reply) {
    ServerSession s;
    Client c;
    auto opened = events_of<StreamOpened>(s.feed(c.syn_stream(1, {{"streamtype", "x"}}, flag_unidirectional)));
    cr_assert_eq(opened.size(), 1u);
    cr_expect(opened[0].unidirectional);
    expect_error([&] { s.reply(1, {}); }, EINVAL, "stream 1 is unidirectional");
    cr_expect(!s.may_send(1));
}

Test(spdy_session, pings_are_answered_and_ours_come_back) {
    ServerSession s;
    Client c;
    auto ev = s.feed(c.frame(Ping{1}) + c.frame(Ping{4}));
    cr_assert_eq(events_of<PingReceived>(ev).size(), 1u);
    cr_expect(events_of<PingAnswered>(ev).empty(), "an even ping the server never sent is ignored");
    auto pings = all_of<Ping>(c.read(s));
    cr_assert_eq(pings.size(), 1u);
    cr_expect_eq(pings[0].id, 1u);
    uint32_t id = s.ping();
    cr_expect_eq(id % 2, 0u);
    cr_expect_eq(all_of<Ping>(c.read(s))[0].id, id);
    ev = s.feed(c.frame(Ping{id}));
    cr_assert_eq(events_of<PingAnswered>(ev).size(), 1u);
    cr_expect_eq(events_of<PingAnswered>(ev)[0].id, id);
    cr_expect(c.read(s).empty(), "an answer is not answered");
    cr_expect_eq(s.stats().pings_answered, 1u);
}

Test(spdy_session, goaway_both_ways) {
    ServerSession s;
    Client c;
    open(s, c, 1);
    open(s, c, 3);
    auto ev = s.feed(c.frame(Goaway{0, 0}));
    cr_expect_eq(events_of<GoawayReceived>(ev).size(), 1u);
    cr_expect(s.goaway_received());
    s.goaway();
    auto gone = all_of<Goaway>(c.read(s));
    cr_assert_eq(gone.size(), 1u);
    cr_expect_eq(gone[0].last_good_stream_id, 3u);
    cr_expect_eq(gone[0].status, 0u);
    // A stream opened after our GOAWAY is ignored, but its header block is
    // still inflated: the HEADERS after it decode.
    ev = s.feed(join({c.syn_stream(5, {{"streamtype", "late"}}), c.headers(3, {{"x-after", "goaway"}})}));
    cr_expect(events_of<StreamOpened>(ev).empty());
    auto headers = events_of<StreamHeaders>(ev);
    cr_assert_eq(headers.size(), 1u);
    cr_expect_eq(*find_header(headers[0].headers, "x-after"), std::string("goaway"));
    cr_expect(c.read(s).empty(), "nothing sent for the ignored stream");
    cr_expect_eq(s.stats().streams_refused, 1u);
}

Test(spdy_session, peer_reset_drops_the_stream_quietly) {
    ServerSession s;
    Client c;
    open(s, c, 1);
    s.send_data(1, "queued");
    c.read(s);
    auto ev = s.feed(c.frame(RstStream{1, static_cast<uint32_t>(RstStatus::cancel)}));
    auto resets = events_of<StreamReset>(ev);
    cr_assert_eq(resets.size(), 1u);
    cr_expect(resets[0].by_peer);
    cr_expect_eq(resets[0].status, 5u);
    cr_expect(!s.is_open(1));
    // Frames still in flight for it are dropped, not answered.
    ev = s.feed(c.data(1, "late") + c.frame(RstStream{1, 5}) + c.frame(WindowUpdate{1, 10}));
    cr_expect(ev.empty());
    cr_expect(c.read(s).empty(), "no RST_STREAM answers a RST_STREAM or a stray frame");
}

Test(spdy_session, server_reset_sends_rst_stream) {
    ServerSession s;
    Client c;
    open(s, c, 1);
    s.reset(1, RstStatus::internal_error);
    auto out = c.read(s);
    cr_expect_eq(rst_status(out, 1), 6u);
    cr_expect(!s.is_open(1));
    s.reset(1); // no-op
    cr_expect(c.read(s).empty());
}

Test(spdy_session, stream_errors_are_answered_with_rst_stream) {
    ServerSession s;
    Client c;
    // DATA on a stream never opened.
    auto ev = s.feed(c.data(7, "x"));
    cr_expect(ev.empty());
    cr_expect_eq(rst_status(c.read(s), 7), static_cast<uint32_t>(RstStatus::invalid_stream));
    // DATA after the peer's FIN.
    open(s, c, 9);
    s.feed(c.data(9, "a", true));
    ev = s.feed(c.data(9, "b"));
    auto resets = events_of<StreamReset>(ev);
    cr_assert_eq(resets.size(), 1u);
    cr_expect(!resets[0].by_peer);
    cr_expect_eq(resets[0].reason, std::string("DATA after the peer's FIN"));
    cr_expect_eq(rst_status(c.read(s), 9), static_cast<uint32_t>(RstStatus::stream_already_closed));
    // An even (server) stream id from the client.
    s.feed(c.syn_stream(10, {{"streamtype", "x"}}));
    cr_expect_eq(rst_status(c.read(s), 10), static_cast<uint32_t>(RstStatus::protocol_error));
    cr_expect_eq(s.stats().stream_errors, 3u);
}

Test(spdy_session, an_invalid_header_block_is_a_stream_error_and_keeps_zlib_in_step) {
    ServerSession s;
    Client c;
    // Uppercase names cannot come from serialize_header_block, so compress
    // a hand-made raw block on the client's stream.
    HeaderDeflater client_deflater;
    std::string raw = unhex("00000001" "0000000a") + "StreamType" + unhex("00000005") + "stdin";
    std::string syn;
    encode(SynStream{1, 0, 0, 0, 0, client_deflater.deflate(raw)}, syn);
    auto ev = s.feed(syn);
    cr_expect(events_of<StreamOpened>(ev).empty());
    cr_expect(events_of<SessionError>(ev).empty());
    auto out = c.read(s);
    cr_expect_eq(rst_status(out, 1), static_cast<uint32_t>(RstStatus::protocol_error));
    std::string next;
    encode(SynStream{3, 0, 0, 0, 0, client_deflater.deflate(HeaderBlock{{"streamtype", "stdout"}})}, next);
    ev = s.feed(next);
    auto opened = events_of<StreamOpened>(ev);
    cr_assert_eq(opened.size(), 1u);
    cr_expect_eq(*find_header(opened[0].headers, "streamtype"), std::string("stdout"));
    cr_expect_eq(s.stats().stream_errors, 1u);
}

Test(spdy_session, a_syn_reply_from_the_client_resets_that_stream) {
    ServerSession s;
    Client c;
    open(s, c, 1);
    open(s, c, 3);
    auto ev = s.feed(join({c.syn_reply(1, {{":status", "200"}}), c.headers(3, {{"x-next", "decodes"}})}));
    auto resets = events_of<StreamReset>(ev);
    cr_assert_eq(resets.size(), 1u);
    cr_expect_eq(resets[0].stream_id, 1u);
    cr_expect_eq(resets[0].reason, std::string("SYN_REPLY for a stream the server did not open"));
    cr_expect_eq(rst_status(c.read(s), 1), static_cast<uint32_t>(RstStatus::protocol_error));
    cr_expect_eq(events_of<StreamHeaders>(ev).size(), 1u, "its block was inflated: the next one decodes");
}

Test(spdy_session, session_errors_send_goaway_and_stop_reading) {
    {
        ServerSession s;
        Client c;
        open(s, c, 5);
        auto ev = s.feed(c.syn_stream(3, {{"streamtype", "x"}}) + c.frame(Ping{1}));
        auto err = events_of<SessionError>(ev);
        cr_assert_eq(err.size(), 1u);
        cr_expect_eq(err[0].err, EPROTO);
        cr_expect(err[0].message.find("stream 3 is not above the last one opened, 5") != std::string::npos, "%s",
                  err[0].message.c_str());
        auto out = c.read(s);
        auto gone = all_of<Goaway>(out);
        cr_assert_eq(gone.size(), 1u);
        cr_expect_eq(gone[0].status, static_cast<uint32_t>(GoawayStatus::protocol_error));
        cr_expect_eq(gone[0].last_good_stream_id, 5u);
        cr_expect(all_of<Ping>(out).empty(), "nothing after the error is read");
        cr_expect(s.failed());
        cr_expect(s.feed(c.frame(Ping{3})).empty());
        cr_expect_eq(s.send_data(5, "x"), 0u, "sending does nothing after a failure");
    }
    {
        ServerSession s;
        std::string syn;
        encode(SynStream{1, 0, 0, 0, 0, "garbage, not zlib"}, syn);
        auto err = events_of<SessionError>(s.feed(syn));
        cr_assert_eq(err.size(), 1u);
        cr_expect(err[0].message.find("SPDY header block") != std::string::npos, "%s", err[0].message.c_str());
    }
    {
        SessionConfig cfg;
        cfg.frames.max_frame_size = 4096 + frame_header_size;
        ServerSession s(cfg);
        auto err = events_of<SessionError>(s.feed(unhex("00000001" "00" "001001")));
        cr_assert_eq(err.size(), 1u);
        cr_expect_eq(err[0].err, EMSGSIZE);
    }
    {
        ServerSession s;
        Client c;
        auto err = events_of<SessionError>(s.feed(c.frame(WindowUpdate{0, 0x7fffffff})));
        cr_assert_eq(err.size(), 1u);
        cr_expect(err[0].message.find("session window grows past 2^31-1") != std::string::npos, "%s",
                  err[0].message.c_str());
    }
}

Test(spdy_session, streams_over_the_cap_are_refused) {
    SessionConfig cfg;
    cfg.max_streams = 2;
    ServerSession s(cfg);
    Client c;
    auto ev = s.feed(join({c.syn_stream(1, {{"streamtype", "a"}}), c.syn_stream(3, {{"streamtype", "b"}}),
                           c.syn_stream(5, {{"streamtype", "c"}}), c.data(5, "dropped")}));
    cr_expect_eq(events_of<StreamOpened>(ev).size(), 2u);
    cr_expect(events_of<StreamData>(ev).empty());
    auto out = c.read(s);
    cr_expect_eq(rst_status(out, 5), static_cast<uint32_t>(RstStatus::refused_stream));
    cr_expect_eq(all_of<RstStream>(out).size(), 1u, "the refused stream's DATA is dropped quietly");
    cr_expect_eq(s.stats().streams_refused, 1u);
    // Closing one makes room.
    s.feed(c.frame(RstStream{1, 5}));
    ev = s.feed(c.syn_stream(7, {{"streamtype", "d"}}));
    cr_expect_eq(events_of<StreamOpened>(ev).size(), 1u);
}

Test(spdy_session, send_side_windows_bind_stream_and_session) {
    SessionConfig cfg = enforcing();
    cfg.max_stream_queue = 256 * 1024;
    ServerSession s(cfg);
    Client c;
    open(s, c, 1);
    cr_expect_eq(s.send_data(1, std::string(100000, 'a')), 100000u);
    auto out = c.read(s);
    cr_expect_eq(data_bytes(out, 1), 65536u, "the initial 64 KiB window");
    cr_expect_eq(s.queued(1), 100000u - 65536u);
    cr_expect_eq(s.send_window(1), 0);
    cr_expect_eq(s.stats().window_stalls, 1u);
    cr_expect_eq(s.writable(1), 256u * 1024 - (100000 - 65536));
    // The stream window opens, the session window is still shut.
    s.feed(c.frame(WindowUpdate{1, 10000}));
    cr_expect_eq(data_bytes(c.read(s), 1), 0u);
    // The session window opens by less: it is the limit now.
    s.feed(c.frame(WindowUpdate{0, 4000}));
    cr_expect_eq(data_bytes(c.read(s), 1), 4000u);
    s.feed(c.frame(WindowUpdate{0, 100000}));
    cr_expect_eq(data_bytes(c.read(s), 1), 6000u, "the rest of the stream window");
    cr_expect_eq(s.send_window(1), 0);
    cr_expect_eq(s.session_send_window(), 100000 + 4000 - 10000);
    s.feed(c.frame(WindowUpdate{1, 1 << 20}));
    cr_expect_eq(data_bytes(c.read(s), 1), 100000u - 65536 - 10000);
    cr_expect_eq(s.queued(1), 0u);
}

Test(spdy_session, data_frames_are_cut_to_max_data_frame) {
    SessionConfig cfg = enforcing();
    cfg.max_data_frame = 1000;
    ServerSession s(cfg);
    Client c;
    open(s, c, 1);
    s.send_data(1, std::string(2500, 'z'), true);
    auto data = all_of<Data>(c.read(s));
    cr_assert_eq(data.size(), 3u);
    cr_expect_eq(data[0].data.size(), 1000u);
    cr_expect_eq(data[2].data.size(), 500u);
    cr_expect(!data[1].fin && data[2].fin);
}

Test(spdy_session, settings_initial_window_moves_every_stream_window) {
    ServerSession s(enforcing());
    Client c;
    open(s, c, 1);
    s.send_data(1, std::string(60000, 'a'));
    c.read(s);
    cr_expect_eq(s.send_window(1), 65536 - 60000);
    // Shrinking leaves the window negative (§2.6.8): nothing more goes out.
    s.feed(c.frame(Settings{0, {{0, static_cast<uint32_t>(SettingId::initial_window_size), 1000}}}));
    cr_expect_eq(s.send_window(1), 1000 - 60000);
    s.send_data(1, "more");
    cr_expect_eq(data_bytes(c.read(s), 1), 0u);
    open(s, c, 3);
    cr_expect_eq(s.send_window(3), 1000);
    s.send_data(3, std::string(1500, 'b'));
    cr_expect_eq(data_bytes(c.read(s), 3), 1000u);
    auto ev = s.feed(c.frame(Settings{0, {{0, 7, 0x80000000u}}}));
    cr_expect_eq(events_of<SessionError>(ev).size(), 1u, "an INITIAL_WINDOW_SIZE over 2^31-1 is a session error");
}

Test(spdy_session, receive_windows_are_credited_as_the_owner_consumes) {
    ServerSession s(enforcing());
    Client c;
    open(s, c, 1, "stdin");
    auto ev = s.feed(c.data(1, std::string(40000, 'i')));
    cr_expect_eq(events_of<StreamData>(ev)[0].data.size(), 40000u);
    cr_expect(c.read(s).empty(), "no WINDOW_UPDATE before the owner consumes");
    s.consumed(1, 30000);
    cr_expect(c.read(s).empty(), "30000 < half a window: no update yet");
    s.consumed(1, 10000);
    auto updates = all_of<WindowUpdate>(c.read(s));
    cr_assert_eq(updates.size(), 2u);
    cr_expect_eq(updates[0].stream_id, 1u);
    cr_expect_eq(updates[0].delta, 40000u);
    cr_expect_eq(updates[1].stream_id, 0u);
    cr_expect_eq(updates[1].delta, 40000u);
    cr_expect_eq(s.stats().window_updates_sent, 2u);
    expect_error([&] { s.consumed(1, 1); }, EINVAL, "consumed 1 bytes, but only 0 were delivered");
    // Windows refilled: another 64 KiB fits.
    ev = s.feed(c.data(1, std::string(65536, 'j')));
    cr_expect(events_of<SessionError>(ev).empty());
    cr_expect(events_of<StreamReset>(ev).empty());
}

Test(spdy_session, a_peer_overrunning_the_stream_window_gets_flow_control_error) {
    SessionConfig cfg = enforcing();
    cfg.session_window = 1 << 20; // so the stream window is the one overrun
    ServerSession s(cfg);
    Client c;
    auto initial = all_of<WindowUpdate>(c.read(s));
    cr_assert_eq(initial.size(), 1u);
    cr_expect_eq(initial[0].delta, (1u << 20) - 65536);
    open(s, c, 1, "stdin");
    auto ev = s.feed(c.data(1, std::string(65536, 'a')) + c.data(1, "b"));
    auto resets = events_of<StreamReset>(ev);
    cr_assert_eq(resets.size(), 1u);
    cr_expect_eq(resets[0].status, static_cast<uint32_t>(RstStatus::flow_control_error));
    cr_expect_eq(resets[0].reason, std::string("DATA overruns the stream window by 1 bytes"));
    cr_expect_eq(rst_status(c.read(s), 1), static_cast<uint32_t>(RstStatus::flow_control_error));
    // The delivered 64 KiB may still be reported after the reset.
    s.consumed(1, 65536);
}

Test(spdy_session, a_peer_overrunning_the_session_window_fails_the_session) {
    ServerSession s(enforcing());
    Client c;
    open(s, c, 1, "stdin");
    open(s, c, 3, "stdin");
    auto ev = s.feed(c.data(1, std::string(40000, 'a')) + c.data(3, std::string(30000, 'b')));
    auto err = events_of<SessionError>(ev);
    cr_assert_eq(err.size(), 1u);
    cr_expect(err[0].message.find("overruns the session window by 4464 bytes") != std::string::npos, "%s",
              err[0].message.c_str());
}

Test(spdy_session, window_update_errors) {
    ServerSession s(enforcing());
    Client c;
    open(s, c, 1);
    auto ev = s.feed(c.frame(WindowUpdate{1, 0}));
    cr_expect_eq(events_of<StreamReset>(ev).size(), 1u);
    cr_expect_eq(rst_status(c.read(s), 1), static_cast<uint32_t>(RstStatus::protocol_error));
    open(s, c, 3);
    ev = s.feed(c.frame(WindowUpdate{3, 0x7fffffff}));
    cr_expect_eq(rst_status(c.read(s), 3), static_cast<uint32_t>(RstStatus::flow_control_error));
    ev = s.feed(c.frame(WindowUpdate{0, 0}));
    cr_expect_eq(events_of<SessionError>(ev).size(), 1u);
}

Test(spdy_session, detect_mode_sends_freely_until_the_peer_shows_flow_control) {
    // kubelet's spdystream: no SETTINGS, no WINDOW_UPDATE, ever.
    SessionConfig cfg;
    cfg.max_stream_queue = 512 * 1024;
    ServerSession s(cfg);
    Client c;
    cr_expect(!s.stats().peer_flow_control);
    open(s, c, 1, "stdout");
    open(s, c, 3, "stdin");
    s.send_data(1, std::string(200000, 'o'));
    cr_expect_eq(data_bytes(c.read(s), 1), 200000u, "past the 64 KiB window: the peer does not count");
    // Its DATA past our windows is taken too.
    auto ev = s.feed(c.data(3, std::string(100000, 'i')));
    cr_expect(events_of<SessionError>(ev).empty());
    cr_expect(events_of<StreamReset>(ev).empty());
    cr_expect_eq(events_of<StreamData>(ev)[0].data.size(), 100000u);
    s.consumed(3, 100000);
    cr_expect_eq(all_of<WindowUpdate>(c.read(s)).size(), 2u, "updates still go out; spdystream ignores them");

    // Once the peer sends WINDOW_UPDATE, the windows bind, counted from the start.
    s.feed(c.frame(WindowUpdate{0, 1}));
    cr_expect(s.stats().peer_flow_control);
    cr_expect_eq(s.send_window(1), 65536 - 200000);
    s.send_data(1, "held");
    cr_expect_eq(data_bytes(c.read(s), 1), 0u);
    cr_expect_eq(s.queued(1), 4u);
}

Test(spdy_session, detect_mode_binds_from_a_settings_initial_window) {
    ServerSession s;
    Client c;
    s.feed(c.frame(Settings{0, {{1, 7, 1000}}}));
    cr_expect(s.stats().peer_flow_control);
    open(s, c, 1);
    s.send_data(1, std::string(3000, 'x'));
    cr_expect_eq(data_bytes(c.read(s), 1), 1000u);
}

Test(spdy_session, output_high_water_holds_data_until_the_owner_drains) {
    SessionConfig cfg;
    cfg.output_high_water = 20000;
    cfg.max_data_frame = 16384;
    ServerSession s(cfg);
    Client c;
    open(s, c, 1);
    cr_expect_eq(s.send_data(1, std::string(60000, 'a')), 60000u);
    // Frames move while the output is under the mark: 16 KiB, then 16 KiB more.
    cr_expect_eq(s.pending_output().size(), 2 * (16384 + frame_header_size));
    cr_expect_eq(s.queued(1), 60000u - 2 * 16384);
    cr_expect_eq(s.writable(1), 64u * 1024 - (60000 - 2 * 16384));
    size_t got = 0;
    while (!s.pending_output().empty()) got += data_bytes(c.read(s), 1);
    cr_expect_eq(got, 60000u);
}

Test(spdy_session, send_data_takes_at_most_the_queue_room_and_fin_only_with_the_last_byte) {
    SessionConfig cfg = enforcing();
    cfg.max_stream_queue = 70000;
    ServerSession s(cfg);
    Client c;
    open(s, c, 1);
    s.send_data(1, std::string(65536, 'a')); // fills the window
    cr_expect_eq(s.writable(1), 70000u);
    cr_expect_eq(s.send_data(1, std::string(80000, 'b'), true), 70000u);
    cr_expect_eq(s.writable(1), 0u);
    cr_expect_eq(s.send_data(1, "c", true), 0u);
    auto data = all_of<Data>(c.read(s));
    for (const Data& d : data) cr_expect(!d.fin, "FIN was not taken");
    s.feed(c.frame(WindowUpdate{1, 70000}) + c.frame(WindowUpdate{0, 70000}));
    cr_expect_eq(data_bytes(c.read(s), 1), 70000u);
    cr_expect_eq(s.send_data(1, std::string(10, 'd'), true), 10u);
    s.feed(c.frame(WindowUpdate{1, 10}) + c.frame(WindowUpdate{0, 10}));
    auto last = all_of<Data>(c.read(s));
    cr_assert(!last.empty());
    cr_expect(last.back().fin);
}

Test(spdy_session, streams_share_the_output_round_robin) {
    SessionConfig cfg;
    cfg.max_data_frame = 1000;
    cfg.output_high_water = 1; // one frame per drain
    ServerSession s(cfg);
    Client c;
    open(s, c, 1);
    open(s, c, 3);
    s.send_data(1, std::string(3000, 'a'));
    s.send_data(3, std::string(3000, 'b'));
    std::vector<uint32_t> order;
    while (!s.pending_output().empty())
        for (const Data& d : all_of<Data>(c.read(s))) order.push_back(d.stream_id);
    cr_assert_eq(order.size(), 6u);
    for (size_t i = 1; i < order.size(); ++i) cr_expect_neq(order[i], order[i - 1], "frame %zu", i);
}

Test(spdy_session, a_peer_that_does_not_read_fails_the_session_at_the_output_cap) {
    SessionConfig cfg;
    cfg.max_output = 1000;
    ServerSession s(cfg);
    Client c;
    std::string pings;
    for (uint32_t i = 0; i < 100; ++i) pings += c.frame(Ping{2 * i + 1});
    auto err = events_of<SessionError>(s.feed(pings));
    cr_assert_eq(err.size(), 1u);
    cr_expect_eq(err[0].err, ENOBUFS);
    cr_expect(err[0].message.find("the peer is not reading") != std::string::npos, "%s", err[0].message.c_str());
}

Test(spdy_session, larger_receive_windows_are_announced_first) {
    SessionConfig cfg;
    cfg.initial_window = 1 << 20;
    cfg.session_window = 4 << 20;
    ServerSession s(cfg);
    Client c;
    auto out = c.read(s);
    cr_assert_eq(out.size(), 2u);
    auto& settings = std::get<Settings>(out[0]);
    cr_assert_eq(settings.entries.size(), 1u);
    cr_expect_eq(settings.entries[0].id, 7u);
    cr_expect_eq(settings.entries[0].value, 1u << 20);
    cr_expect_eq(std::get<WindowUpdate>(out[1]).delta, (4u << 20) - 65536);
    SessionConfig bad;
    bad.initial_window = 1000;
    expect_error([&] { ServerSession x(bad); }, EINVAL, "initial_window 1000 outside 64 KiB to 2^31-1");
}

Test(spdy_session, consume_output_refuses_more_than_pending) {
    ServerSession s;
    expect_error([&] { s.consume_output(1); }, EINVAL, "consume_output(1) past the 0 pending bytes");
}
