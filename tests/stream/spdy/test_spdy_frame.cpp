// SPDY/3.1 frames: exact bytes of each encoded frame (laid out by hand from
// the draft), round trips through the decoder in any pieces, DATA handed
// out as it arrives, unknown control frames skipped, and malformed or
// oversized frames refused with the frame and field named.
#include "spdy_test_util.hpp"

#include <cerrno>

using namespace spdy_test;

namespace {

// Decodes everything, feeding `step` bytes at a time.
std::vector<Read> decode_in_steps(std::string_view bytes, size_t step, DecoderLimits limits = {}) {
    FrameDecoder d(limits);
    std::vector<Read> out;
    bool open_data = false;
    while (!bytes.empty()) {
        std::string_view piece = bytes.substr(0, step);
        bytes.remove_prefix(piece.size());
        while (auto f = d.next(piece)) {
            if (auto* c = std::get_if<DataChunk>(&*f)) {
                if (!open_data) out.emplace_back(std::in_place_type<Data>, Data{c->stream_id, {}, false});
                Data& data = std::get<Data>(out.back());
                data.data.append(c->data);
                data.fin = c->fin;
                open_data = !c->end_of_frame;
                continue;
            }
            std::visit([&](auto& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (!std::is_same_v<T, DataChunk>) out.emplace_back(std::in_place_type<T>, std::move(v));
            }, *f);
        }
        cr_assert(piece.empty(), "decoder left %zu bytes of a piece unread", piece.size());
    }
    return out;
}

std::string all_frames() {
    std::string out;
    encode(SynStream{1, 0, 3, 0, flag_fin, "block-1"}, out);
    encode(SynReply{1, 0, "block-2"}, out);
    encode(RstStream{3, static_cast<uint32_t>(RstStatus::cancel)}, out);
    encode(Settings{0, {{0, 7, 1 << 20}, {1, 4, 100}}}, out);
    encode(Ping{7}, out);
    encode(Goaway{5, 1}, out);
    encode(HeadersFrame{1, flag_fin, "block-3"}, out);
    encode(WindowUpdate{0, 1000}, out);
    encode_data(1, "hello", true, out);
    encode_data(3, "", false, out);
    return out;
}

void check_all_frames(const std::vector<Read>& r) {
    cr_assert_eq(r.size(), 10u);
    auto& syn = std::get<SynStream>(r[0]);
    cr_expect_eq(syn.stream_id, 1u);
    cr_expect_eq(syn.priority, 3);
    cr_expect_eq(syn.flags, flag_fin);
    cr_expect_eq(syn.header_block, std::string("block-1"));
    cr_expect_eq(std::get<SynReply>(r[1]).header_block, std::string("block-2"));
    cr_expect_eq(std::get<RstStream>(r[2]).status, 5u);
    auto& settings = std::get<Settings>(r[3]);
    cr_assert_eq(settings.entries.size(), 2u);
    cr_expect_eq(settings.entries[0].id, 7u);
    cr_expect_eq(settings.entries[0].value, 1u << 20);
    cr_expect_eq(settings.entries[1].flags, 1);
    cr_expect_eq(std::get<Ping>(r[4]).id, 7u);
    cr_expect_eq(std::get<Goaway>(r[5]).last_good_stream_id, 5u);
    cr_expect_eq(std::get<HeadersFrame>(r[6]).flags, flag_fin);
    cr_expect_eq(std::get<WindowUpdate>(r[7]).delta, 1000u);
    auto& d = std::get<Data>(r[8]);
    cr_expect_eq(d.data, std::string("hello"));
    cr_expect(d.fin);
    cr_expect_eq(std::get<Data>(r[9]).stream_id, 3u);
    cr_expect(std::get<Data>(r[9]).data.empty());
    cr_expect(!std::get<Data>(r[9]).fin);
}

std::string control(uint16_t type, uint8_t flags, std::string_view payload, uint16_t version = 3) {
    std::string out;
    out.push_back(char(0x80 | (version >> 8)));
    out.push_back(char(version & 0xff));
    out.push_back(char(type >> 8));
    out.push_back(char(type & 0xff));
    out.push_back(char(flags));
    out.push_back(char(payload.size() >> 16));
    out.push_back(char((payload.size() >> 8) & 0xff));
    out.push_back(char(payload.size() & 0xff));
    return out + std::string(payload);
}

void expect_decode_error(const std::string& bytes, int err, const char* want, DecoderLimits limits = {}) {
    FrameDecoder d(limits);
    std::string_view in = bytes;
    expect_error([&] {
        while (d.next(in)) {
        }
    }, err, want);
}

} // namespace

Test(spdy_frame, control_frames_encode_to_the_drafts_layout) {
    std::string out;
    encode(SynReply{5, flag_fin, "xyz"}, out);
    cr_expect_eq(hex(out), std::string("80030002" "01" "000007" "00000005" "78797a"));
    out.clear();
    encode(SynStream{1, 0, 7, 0, flag_unidirectional, "b"}, out);
    cr_expect_eq(hex(out), std::string("80030001" "02" "00000b" "00000001" "00000000" "e0" "00" "62"));
    out.clear();
    encode(RstStream{3, 7}, out);
    cr_expect_eq(hex(out), std::string("80030003" "00" "000008" "00000003" "00000007"));
    out.clear();
    encode(Settings{0, {{1, 7, 65536}}}, out);
    cr_expect_eq(hex(out), std::string("80030004" "00" "00000c" "00000001" "01000007" "00010000"));
    out.clear();
    encode(Ping{2}, out);
    cr_expect_eq(hex(out), std::string("80030006" "00" "000004" "00000002"));
    out.clear();
    encode(Goaway{9, 1}, out);
    cr_expect_eq(hex(out), std::string("80030007" "00" "000008" "00000009" "00000001"));
    out.clear();
    encode(WindowUpdate{0, 0x7fffffff}, out);
    cr_expect_eq(hex(out), std::string("80030009" "00" "000008" "00000000" "7fffffff"));
    out.clear();
    encode(HeadersFrame{3, 0, "h"}, out);
    cr_expect_eq(hex(out), std::string("80030008" "00" "000005" "00000003" "68"));
}

Test(spdy_frame, data_frames_encode_with_fin) {
    std::string out;
    encode_data(3, "ab", true, out);
    cr_expect_eq(hex(out), std::string("00000003" "01" "000002" "6162"));
    out.clear();
    encode_data(0x7fffffff, "", false, out);
    cr_expect_eq(hex(out), std::string("7fffffff" "00" "000000"));
}

Test(spdy_frame, every_frame_round_trips_whole_and_byte_by_byte) {
    const std::string bytes = all_frames();
    check_all_frames(decode_in_steps(bytes, bytes.size()));
    check_all_frames(decode_in_steps(bytes, 1));
    check_all_frames(decode_in_steps(bytes, 7));
}

Test(spdy_frame, data_is_handed_out_as_it_arrives) {
    std::string frame;
    encode_data(9, std::string(100, 'x'), true, frame);
    FrameDecoder d;
    std::string_view a = std::string_view(frame).substr(0, 30); // header + 22 bytes
    std::string_view b = std::string_view(frame).substr(30, 50);
    std::string_view c = std::string_view(frame).substr(80);
    auto f1 = d.next(a);
    cr_assert(f1.has_value());
    auto& c1 = std::get<DataChunk>(*f1);
    cr_expect_eq(c1.data.size(), 22u);
    cr_expect(!c1.end_of_frame && !c1.fin);
    cr_expect(!d.next(a).has_value());
    auto f2 = d.next(b);
    auto& c2 = std::get<DataChunk>(*f2);
    cr_expect_eq(c2.data.size(), 50u);
    cr_expect(!c2.end_of_frame);
    auto f3 = d.next(c);
    auto& c3 = std::get<DataChunk>(*f3);
    cr_expect_eq(c3.data.size(), 28u);
    cr_expect(c3.end_of_frame && c3.fin);
    cr_expect_eq(c3.stream_id, 9u);
}

Test(spdy_frame, reserved_bits_of_stream_ids_are_ignored) {
    // The "X" bit above a 31-bit stream id or delta (§2.6) is not part of it.
    std::string bytes = unhex("80030003" "00" "000008" "80000005" "00000001") +
                        unhex("80030009" "00" "000008" "80000007" "80000010");
    auto r = decode_in_steps(bytes, bytes.size());
    cr_assert_eq(r.size(), 2u);
    cr_expect_eq(std::get<RstStream>(r[0]).stream_id, 5u);
    cr_expect_eq(std::get<WindowUpdate>(r[1]).stream_id, 7u);
    cr_expect_eq(std::get<WindowUpdate>(r[1]).delta, 16u);
}

Test(spdy_frame, unknown_control_frames_are_skipped) {
    // NOOP (SPDY/2's type 5), CREDENTIAL (10), spdy-transport's X_FORWARDED_FOR (0xf000).
    std::string bytes = control(5, 0, "") + control(10, 0, std::string(40, 'c')) + control(0xf000, 0, "host") +
                        Client::frame(Ping{1});
    FrameDecoder d;
    std::string_view in = bytes;
    auto f = d.next(in);
    cr_assert(f.has_value());
    cr_expect_eq(std::get<Ping>(*f).id, 1u);
    cr_expect_eq(d.ignored_frames(), 3u);
    // Skipped without buffering, in pieces too.
    auto r = decode_in_steps(bytes, 3);
    cr_assert_eq(r.size(), 1u);
}

Test(spdy_frame, malformed_frames_are_refused_naming_frame_and_field) {
    expect_decode_error(control(3, 0, std::string(12, '\1')), EPROTO, "RST_STREAM frame: length 12, expected 8");
    expect_decode_error(control(3, 0, unhex("0000000100000000")), EPROTO, "RST_STREAM frame: status 0 on stream 1");
    expect_decode_error(control(6, 0, std::string(8, '\0')), EPROTO, "PING frame: length 8, expected 4");
    expect_decode_error(control(7, 0, std::string(4, '\0')), EPROTO, "GOAWAY frame: length 4, expected 8");
    expect_decode_error(control(9, 0, std::string(4, '\0')), EPROTO, "WINDOW_UPDATE frame: length 4, expected 8");
    expect_decode_error(control(4, 0, unhex("00000002" "0100000700010000")), EPROTO,
                        "SETTINGS frame: length 12 does not hold 2 entries");
    expect_decode_error(control(1, 0, std::string(6, '\0')), EPROTO, "SYN_STREAM frame: length 6, expected at least 10");
    expect_decode_error(control(1, 0, std::string(12, '\0')), EPROTO, "SYN_STREAM frame: stream id 0");
    expect_decode_error(control(2, 0, std::string(2, '\0')), EPROTO, "SYN_REPLY frame: length 2, expected at least 4");
    expect_decode_error(control(8, 0, std::string(4, '\0')), EPROTO, "HEADERS frame: stream id 0");
    expect_decode_error(unhex("00000000" "00" "000001" "61"), EPROTO, "DATA frame: stream id 0");
    expect_decode_error(control(6, 0, std::string(4, '\0'), 2), EPROTO, "version 2, expected 3");
}

Test(spdy_frame, oversized_frames_are_refused) {
    DecoderLimits small;
    small.max_frame_size = 1024 + frame_header_size;
    small.max_control_frame_size = 128 + frame_header_size;
    // The header alone is enough: nothing of the payload is buffered first.
    expect_decode_error(unhex("00000001" "00" "000401"), EMSGSIZE, "length 1025 exceeds the limit of 1024 bytes", small);
    expect_decode_error(control(8, 0, std::string(129, 'h')).substr(0, 8), EMSGSIZE,
                        "HEADERS frame: length 129 exceeds the control frame limit of 128 bytes", small);
    expect_decode_error(control(0xf000, 0, std::string(1025, 'u')).substr(0, 8), EMSGSIZE,
                        "length 1025 exceeds the limit", small);
    // At the limits, frames pass.
    std::string ok = Client::data(1, std::string(1024, 'd')) + control(8, 0, unhex("00000001") + std::string(124, 'h'));
    cr_expect_eq(decode_in_steps(ok, 100, small).size(), 2u);
    // The default control limit is 1 MiB; DATA may use the whole 24-bit length.
    expect_decode_error(control(1, 0, "").substr(0, 5) + unhex("100001"), EMSGSIZE, "control frame limit of 1048576");
    std::string big = unhex("00000001" "00" "ffffff") + "0123456789";
    FrameDecoder d;
    std::string_view in = big;
    auto f = d.next(in);
    cr_assert(f.has_value(), "the header of a 16 MiB - 1 DATA frame is accepted");
    cr_expect_eq(std::get<DataChunk>(*f).data, std::string_view("0123456789"));
    cr_expect(!std::get<DataChunk>(*f).end_of_frame);
}

Test(spdy_frame, encoders_refuse_values_outside_their_fields) {
    std::string out;
    expect_error([&] { encode(RstStream{0x80000000u, 1}, out); }, EINVAL, "RST_STREAM: stream id 2147483648 does not fit 31 bits");
    expect_error([&] { encode(WindowUpdate{1, 0x80000000u}, out); }, EINVAL, "WINDOW_UPDATE: delta");
    expect_error([&] { encode(Settings{0, {{0, 0x1000000, 1}}}, out); }, EINVAL, "does not fit 24 bits");
    expect_error([&] { encode_data(1, std::string(max_length_field + 1, 'x'), false, out); }, EMSGSIZE,
                 "exceeds the 24-bit length");
    expect_error([&] { encode(SynReply{1, 0, std::string(max_length_field, 'x')}, out); }, EMSGSIZE,
                 "SYN_REPLY: payload of 16777219 bytes");
}

Test(spdy_frame, status_names) {
    cr_expect_eq(rst_status_name(1), std::string("PROTOCOL_ERROR"));
    cr_expect_eq(rst_status_name(7), std::string("FLOW_CONTROL_ERROR"));
    cr_expect_eq(rst_status_name(11), std::string("FRAME_TOO_LARGE"));
    cr_expect_eq(rst_status_name(99), std::string("status 99"));
}
