// The Kubernetes channel protocol, resize messages and exit statuses
// (cri/stream/ws/channel).
#include "base64.hpp"
#include "channel.hpp"
#include "error.hpp"
#include "protocols.hpp"

#include <criterion/criterion.h>

#include <string>

using namespace berth::stream;
namespace proto = berth::stream::protocol;

namespace {

ChannelCodec codec(std::string_view name) {
    auto p = channel_protocol(name);
    cr_assert(p.has_value(), "not a channel protocol: %s", std::string(name).c_str());
    return ChannelCodec(*p);
}

template <class Fn>
std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const berth::Error& e) {
        return e.what();
    }
    return "";
}

} // namespace

// RFC 4648 §10's vectors, and Go StdEncoding's strictness on padding.
Test(base64, rfc4648_vectors) {
    const char* vectors[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},      {"foo", "Zm9v"},
                                {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (auto& v : vectors) {
        cr_expect_eq(base64_encode(v[0]), v[1]);
        cr_expect_eq(base64_decode(v[1]), v[0]);
    }
    cr_expect_eq(base64_decode("Zm9v\r\nYmFy\n"), "foobar");   // CR and LF skipped, as Go does
    cr_expect_eq(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
    for (auto [bad, offset] : {std::pair<const char*, int>{"Zg", 2}, {"Zg=", 3}, {"Z===", 1}, {"Zg==Zg==", 4},
                               {"Zm9v=", 4}, {"Zm-v", 2}, {"Zg=a", 3}}) {
        cr_expect_eq(error_of([&] { base64_decode(bad); }), "invalid base64 at offset " + std::to_string(offset),
                     "%s", bad);
    }
}

Test(channel_protocol, names) {
    for (auto [name, base64, version, close] :
         {std::tuple<std::string_view, bool, int, bool>{"", false, 1, false},
          {proto::channel_v1, false, 1, false}, {proto::base64_channel_v1, true, 1, false},
          {proto::channel_v4, false, 4, false}, {proto::base64_channel_v4, true, 4, false},
          {proto::channel_v5, false, 5, true}}) {
        auto p = channel_protocol(name);
        cr_assert(p.has_value());
        cr_expect_eq(p->base64, base64);
        cr_expect_eq(p->version, version);
        cr_expect_eq(p->close_signal, close);
    }
    cr_expect_not(channel_protocol(proto::portforward_v1).has_value());
    cr_expect_not(channel_protocol("v3.channel.k8s.io").has_value());   // SPDY only
}

// wsstream/conn.go's examples: "foo\n" on stdin, "\n" on stdout.
Test(channel_codec, binary_examples) {
    ChannelCodec c = codec(proto::channel_v4);
    cr_expect_not(c.text());
    auto m = c.decode(std::string("\x00" "foo\n", 5));
    cr_assert(m.has_value());
    cr_expect(m->kind == ChannelMessage::Kind::data);
    cr_expect_eq(m->channel, channel::stdin_);
    cr_expect_eq(m->data, "foo\n");
    cr_expect_eq(c.encode(channel::stdout_, "\n"), std::string("\x01\n", 2));
    // The empty message kubelet sends to say the streams are ready.
    cr_expect_eq(c.encode(channel::stdout_, ""), std::string("\x01", 1));
    // A channel byte alone is an empty write on it; an empty message is skipped.
    m = c.decode(std::string("\x02", 1));
    cr_assert(m.has_value());
    cr_expect_eq(m->channel, 2);
    cr_expect_eq(m->data, "");
    cr_expect_not(c.decode("").has_value());
    // Binary data passes through untouched, any channel number included.
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    m = c.decode(c.encode(200, all));
    cr_expect_eq(m->channel, 200);
    cr_expect(m->data == all);
    // v4 has no CLOSE signal: 255 is just a channel number.
    m = c.decode(std::string("\xff\x00", 2));
    cr_expect(m->kind == ChannelMessage::Kind::data);
    cr_expect_eq(m->channel, 255);
    cr_expect_eq(error_of([&] { c.encode_close(0); }), "channel 0: CLOSE signal needs v5.channel.k8s.io");
}

Test(channel_codec, base64_examples) {
    ChannelCodec c = codec(proto::base64_channel_v4);
    cr_expect(c.text());
    // conn.go's READ example: "1Cg==" is "\n" on stdout.
    auto m = c.decode("0Zm9vCg==");
    cr_assert(m.has_value());
    cr_expect_eq(m->channel, 0);
    cr_expect_eq(m->data, "foo\n");
    cr_expect_eq(c.encode(1, "\n"), "1Cg==");
    cr_expect_eq(c.encode(3, ""), "3");
    m = c.decode(c.encode(9, std::string(1000, '\x80')));
    cr_expect_eq(m->channel, 9);
    cr_expect_eq(m->data, std::string(1000, '\x80'));
    // Channel characters past '9' stand for channels past 9 (port-forward).
    cr_expect_eq(c.encode(channel::portforward_error(5), "x"), ";eA==");
    cr_expect_eq(c.decode(";eA==")->channel, 11);
    // Errors name the channel or the character.
    cr_expect_eq(error_of([&] { c.decode("0Zm9v!g=="); }), "channel 0: invalid base64 at offset 4");
    // Go's StdEncoding wants the padding.
    cr_expect_eq(error_of([&] { c.decode("1Zm9vCg"); }), "channel 1: invalid base64 at offset 6");
    cr_expect_eq(error_of([&] { c.decode("/Zm9v"); }), "channel message: channel character 47 is below '0'");
    cr_expect_eq(error_of([&] { c.encode(250, "x"); }), "channel 250: too high for a base64 protocol");
}

Test(channel_codec, v5_close_signal) {
    ChannelCodec c = codec(proto::channel_v5);
    cr_expect_eq(c.encode_close(channel::stdin_), std::string("\xff\x00", 2));
    auto m = c.decode(std::string("\xff\x00", 2));
    cr_assert(m.has_value());
    cr_expect(m->kind == ChannelMessage::Kind::close);
    cr_expect_eq(m->channel, channel::stdin_);
    cr_expect_eq(error_of([&] { c.decode(std::string("\xff", 1)); }),
                 "channel message: CLOSE signal of 1 bytes, expected 2 (255, channel)");
    cr_expect_eq(error_of([&] { c.decode(std::string("\xff\x00\x01", 3)); }),
                 "channel message: CLOSE signal of 3 bytes, expected 2 (255, channel)");
    m = c.decode(std::string("\x00hi", 3));
    cr_expect(m->kind == ChannelMessage::Kind::data);
    cr_expect_eq(m->data, "hi");
}

Test(channel_codec, portforward_prefix) {
    cr_expect_eq(portforward_port_prefix(8080), std::string("\x90\x1f", 2));
    cr_expect_eq(channel::portforward_data(0), 0);
    cr_expect_eq(channel::portforward_error(0), 1);
    cr_expect_eq(channel::portforward_data(2), 4);
}

Test(resize, parses_like_go) {
    cr_expect(parse_terminal_size(R"({"Width":80,"Height":24})") == (TerminalSize{80, 24}));
    // Keys case-insensitive, unknown keys ignored, absent fields zero, null ignored.
    cr_expect(parse_terminal_size(R"({"height":5,"WIDTH":7,"extra":[1,{"a":"}"}]})") == (TerminalSize{7, 5}));
    cr_expect(parse_terminal_size(R"({"Width":65535})") == (TerminalSize{65535, 0}));
    cr_expect(parse_terminal_size(R"({"Width":null,"Height":1})") == (TerminalSize{0, 1}));
    cr_expect(parse_terminal_size("{}") == (TerminalSize{0, 0}));
}

Test(resize, rejects_with_the_field) {
    cr_expect_eq(error_of([] { parse_terminal_size(R"({"Width":65536,"Height":1})"); }),
                 "resize message: Width: 65536 out of range for uint16");
    cr_expect_eq(error_of([] { parse_terminal_size(R"({"Width":-1})"); }),
                 "resize message: Width: expected unsigned integer");
    cr_expect_eq(error_of([] { parse_terminal_size(R"({"Height":"24"})"); }),
                 "resize message: Height: expected unsigned integer");
    cr_expect_eq(error_of([] { parse_terminal_size(R"({"Height":2.5})"); }),
                 "resize message: Height: expected unsigned integer");
    cr_expect_eq(error_of([] { parse_terminal_size(R"([80,24])"); }).find("resize message: "), 0u);
    std::string bad = error_of([] { parse_terminal_size(R"({"Width":80,)"); });
    cr_expect(bad.find("resize message: ") == 0 && bad.size() > 16, "%s", bad.c_str());
}

Test(resize, stream_of_objects_in_any_chunks) {
    std::string stream = "{\"Width\":80,\"Height\":24}\n {\"Width\":100,\"Height\":40,\"x\":\"}{\\\"\"}\r\n{\"Width\":1}";
    for (size_t chunk : {1ul, 2ul, 7ul, stream.size()}) {
        ResizeDecoder d;
        std::vector<TerminalSize> got;
        for (size_t i = 0; i < stream.size(); i += chunk)
            for (auto s : d.feed(std::string_view(stream).substr(i, chunk))) got.push_back(s);
        cr_assert_eq(got.size(), 3u, "chunk %zu", chunk);
        cr_expect(got[0] == (TerminalSize{80, 24}));
        cr_expect(got[1] == (TerminalSize{100, 40}));
        cr_expect(got[2] == (TerminalSize{1, 0}));
    }
}

Test(resize, stream_errors_and_cap) {
    ResizeDecoder d;
    cr_expect_eq(error_of([&] { d.feed("80x24"); }), "resize stream: expected '{', got byte 56");
    cr_expect_eq(error_of([&] { d.feed("{}"); }), "resize stream: fed after an error");

    ResizeDecoder capped(64);
    std::string big = "{\"Width\":80,\"pad\":\"" + std::string(100, 'x');
    cr_expect_eq(error_of([&] { capped.feed(big); }), "resize stream: object longer than 64 bytes");
    ResizeDecoder bad;
    cr_expect_eq(error_of([&] { bad.feed(R"({"Width":1e3})"); }), "resize message: Width: expected unsigned integer");
}

// Kubernetes' exact shapes (json.Marshal of metav1.Status, kubelet's exec.go).
Test(status, v4_exit_status_json) {
    cr_expect_eq(exit_status_json(0), R"({"metadata":{},"status":"Success"})");
    cr_expect_eq(exit_status_json(3),
                 R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: )"
                 R"(exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}})");
    cr_expect_eq(exit_status_json(137, "error executing command [sleep 9], exit code 137"),
                 R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: )"
                 R"(error executing command [sleep 9], exit code 137","reason":"NonZeroExitCode",)"
                 R"("details":{"causes":[{"reason":"ExitCode","message":"137"}]}})");
    cr_expect_eq(error_of([] { exit_status_json(256); }), "exit status: code 256 is not 0-255");
    cr_expect_eq(error_of([] { exit_status_json(-1); }), "exit status: code -1 is not 0-255");
    cr_expect_eq(internal_error_status_json("no such \"container\""),
                 R"({"metadata":{},"status":"Failure","message":"Internal error occurred: no such \"container\"",)"
                 R"("reason":"InternalError","details":{"causes":[{"message":"no such \"container\""}]},"code":500})");
}

Test(status, legacy_text) {
    cr_expect_eq(legacy_exit_status_text(0), "");
    cr_expect_eq(legacy_exit_status_text(2), "command terminated with non-zero exit code: exit status 2");
    cr_expect_eq(legacy_internal_error_text("boom"), "Internal error occurred: boom");
}
