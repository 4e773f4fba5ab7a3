// SPDY/3 header blocks: the dictionary's bytes, the name/value layout,
// blocks compressed by another zlib (Python's, with the SPDY/3 dictionary:
// vectors below) read across frames, our blocks' zlib framing, and the
// refusals: bad names and values, truncation, other dictionaries, inflation
// past the cap.
#include "spdy_test_util.hpp"

#include "spdy_dictionary.hpp"

#include <zlib.h>

#include <cerrno>

using namespace spdy_test;

namespace {

// Made by Python's zlib (compressobj(level=9, zdict=<the SPDY/3 dictionary>),
// compress + flush(Z_SYNC_FLUSH) per block), not by this module: two
// consecutive blocks of one stream, the second leaning on the first.
//   block 1: streamtype: error, x-multi: a\0b
//   block 2: streamtype: stdin
constexpr const char* python_block_1 =
    "78f9e3c6a7c202e50e703a2b294a4dcc851625aca9a0800625d30adddcd29c924c7061c99004000000ffff";
constexpr const char* python_block_2 = "02528c988a8b4b801908000000ffff";
// Block 1's headers compressed against another dictionary.
constexpr const char* other_dictionary_block =
    "78bb67db08e9626060600262aee292a2d4c4dc92ca8254208f35b5a828bf08c860afd0cd2dcd29c904329913199200000000ffff";

} // namespace

Test(spdy_headers, dictionary_is_the_drafts) {
    std::string_view d = header_dictionary();
    cr_assert_eq(d.size(), 1423u);
    cr_expect_eq(d.substr(0, 11), std::string_view("\0\0\0\7options", 11));
    cr_expect_eq(d.substr(d.size() - 7), std::string_view(",enq=0."));
    uLong a = adler32(adler32(0, nullptr, 0), reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size()));
    cr_expect_eq(a, 0xe3c6a7c2ul, "Adler-32 %08lx", a);
    cr_expect_eq(uLong(header_dictionary_adler32), a);
}

Test(spdy_headers, block_layout_has_32_bit_counts_and_lengths) {
    std::string raw = serialize_header_block({{"a", "bc"}});
    cr_expect_eq(hex(raw), std::string("00000001" "00000001" "61" "00000002" "6263"));
    cr_expect_eq(hex(serialize_header_block({})), std::string("00000000"));
}

Test(spdy_headers, serialize_lowercases_and_refuses_what_spdy_forbids) {
    HeaderBlock parsed = parse_header_block(serialize_header_block({{"StreamType", "stdin"}}), 10);
    cr_assert_eq(parsed.size(), 1u);
    cr_expect_eq(parsed[0].name, std::string("streamtype"));
    expect_error([] { serialize_header_block({{"", "x"}}); }, EINVAL, "empty header name");
    expect_error([] { serialize_header_block({{"a", "1"}, {"A", "2"}}); }, EINVAL, "duplicate header \"a\"");
    expect_error([] { serialize_header_block({{"Connection", "Upgrade"}}); }, EINVAL, "\"connection\" is not allowed");
    expect_error([] { serialize_header_block({{"transfer-encoding", "chunked"}}); }, EINVAL, "not allowed in SPDY");
    expect_error([] { serialize_header_block({{"v", std::string("a\0\0b", 4)}}); }, EINVAL, "empty NUL-separated part");
    expect_error([] { serialize_header_block({{"v", std::string("\0a", 2)}}); }, EINVAL, "empty NUL-separated part");
}

Test(spdy_headers, parse_round_trips_and_splits_values) {
    HeaderBlock in = {{"streamtype", "stdout"}, {"x-multi", std::string("a\0bb\0c", 6)}, {"empty", ""}};
    HeaderBlock out = parse_header_block(serialize_header_block(in), 10);
    cr_assert(out == in);
    auto values = split_values(*find_header(out, "x-multi"));
    cr_assert_eq(values.size(), 3u);
    cr_expect_eq(values[1], std::string_view("bb"));
    cr_expect(split_values("").empty());
    cr_expect_eq(find_header(out, "missing"), nullptr);
}

Test(spdy_headers, parse_refuses_malformed_blocks) {
    expect_error([] { parse_header_block(std::string(2, '\0'), 10); }, EPROTO, "truncated: 2 bytes, no pair count");
    expect_error([] { parse_header_block(unhex("0000000b"), 10); }, EPROTO, "11 pairs, over the limit of 10");
    expect_error([] { parse_header_block(unhex("00000001" "0000"), 10); }, EPROTO,
                 "pair 0: truncated before the name length");
    expect_error([] { parse_header_block(unhex("00000001" "00000005" "6162"), 10); }, EPROTO,
                 "pair 0: name length 5 runs past the block's end");
    expect_error([] { parse_header_block(unhex("00000001" "00000001" "61"), 10); }, EPROTO,
                 "pair 0: truncated before the value length");
    expect_error([] { parse_header_block(unhex("00000001" "00000000" "00000000"), 10); }, EPROTO, "pair 0: empty name");
    expect_error([] { parse_header_block(unhex("00000001" "00000001" "41" "00000000"), 10); }, EPROTO,
                 "header \"A\": names must be lowercase");
    expect_error([] { parse_header_block(unhex("00000002" "00000001" "61" "00000000" "00000001" "61" "00000000"), 10); },
                 EPROTO, "duplicate header \"a\"");
    expect_error([] { parse_header_block(unhex("00000001" "00000001" "61" "00000002" "6100"), 10); }, EPROTO,
                 "header \"a\": value has an empty NUL-separated part");
    expect_error([] { parse_header_block(unhex("00000000" "ff"), 10); }, EPROTO, "1 bytes after the last pair");
}

Test(spdy_headers, inflates_another_zlibs_blocks_across_frames) {
    HeaderInflater inf;
    HeaderBlock b1 = parse_header_block(inf.inflate(unhex(python_block_1)), 10);
    cr_assert_eq(b1.size(), 2u);
    cr_expect_eq(b1[0].name, std::string("streamtype"));
    cr_expect_eq(b1[0].value, std::string("error"));
    cr_expect_eq(b1[1].value, std::string("a\0b", 3));
    HeaderBlock b2 = parse_header_block(inf.inflate(unhex(python_block_2)), 10);
    cr_assert_eq(b2.size(), 1u);
    cr_expect_eq(b2[0].value, std::string("stdin"));
    // The second block alone means nothing: the stream is one per direction.
    HeaderInflater fresh;
    expect_error([&] { fresh.inflate(unhex(python_block_2)); }, EPROTO, "SPDY header block");
}

Test(spdy_headers, blocks_for_another_dictionary_are_refused) {
    HeaderInflater inf;
    expect_error([&] { inf.inflate(unhex(other_dictionary_block)); }, EPROTO, "not SPDY/3's");
    HeaderInflater garbage;
    expect_error([&] { garbage.inflate("this is not zlib"); }, EPROTO, "SPDY header block: ");
}

Test(spdy_headers, deflated_blocks_name_the_dictionary_and_end_on_a_sync_flush) {
    HeaderDeflater def;
    std::string b1 = def.deflate(HeaderBlock{{"streamtype", "stdout"}});
    // zlib header: CMF 0x78 (window 32 KiB max... here 2 KiB: 0x38), FDICT, then DICTID.
    cr_expect_eq(uint8_t(b1[0]) & 0x0f, 8, "deflate");
    cr_expect(uint8_t(b1[1]) & 0x20, "FDICT set");
    cr_expect_eq(hex(b1.substr(2, 4)), std::string("e3c6a7c2"));
    cr_expect_eq(hex(b1.substr(b1.size() - 4)), std::string("0000ffff"));
    std::string b2 = def.deflate(HeaderBlock{{"streamtype", "stderr"}, {"x", std::string(5000, 'y')}});
    cr_expect_eq(hex(b2.substr(b2.size() - 4)), std::string("0000ffff"));
    HeaderInflater inf;
    cr_expect_eq(parse_header_block(inf.inflate(b1), 10)[0].value, std::string("stdout"));
    HeaderBlock h2 = parse_header_block(inf.inflate(b2), 10);
    cr_assert_eq(h2.size(), 2u);
    cr_expect_eq(h2[1].value.size(), 5000u);
    // The second block is smaller for what the stream has already seen.
    std::string b3 = def.deflate(HeaderBlock{{"streamtype", "stdout"}});
    cr_expect_lt(b3.size(), b1.size());
    cr_expect_eq(parse_header_block(inf.inflate(b3), 10)[0].value, std::string("stdout"));
}

Test(spdy_headers, inflation_is_capped) {
    HeaderDeflater def;
    std::string bomb = def.deflate(HeaderBlock{{"x-big", std::string(300000, 'a')}});
    cr_expect_lt(bomb.size(), 2000u, "compresses to %zu bytes", bomb.size());
    HeaderInflater inf(256 * 1024);
    expect_error([&] { inf.inflate(bomb); }, EMSGSIZE, "inflates past the limit of 262144 bytes");
    HeaderDeflater def2;
    HeaderInflater roomy(400000);
    cr_expect_eq(parse_header_block(roomy.inflate(def2.deflate(HeaderBlock{{"x-big", std::string(300000, 'a')}})), 10)[0]
                     .value.size(),
                 300000u);
}
