// The streaming server's tokens (cri/stream/stream_tokens.cpp): random,
// single-use, expiring, bounded.
#include "error.hpp"
#include "stream_tokens.hpp"

#include <criterion/criterion.h>

#include <set>
#include <thread>

using namespace berth;
using namespace berth::stream;

Test(stream_tokens, random_urlsafe_and_distinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        std::string t = random_token();
        cr_assert_eq(t.size(), 43u);
        cr_assert(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos,
                  "%s", t.c_str());
        cr_assert(seen.insert(t).second);
    }
}

Test(stream_tokens, a_token_is_taken_once) {
    Tokens tokens;
    ExecRequest e;
    e.container_id = "c1";
    e.cmd = {"sh"};
    std::string t = tokens.put(e);
    cr_assert_eq(tokens.pending(), 1u);
    auto r = tokens.take(t);
    cr_assert(r && std::holds_alternative<ExecRequest>(*r));
    cr_assert_eq(std::get<ExecRequest>(*r).container_id, "c1");
    cr_assert(!tokens.take(t), "a token worked twice");
    cr_assert(!tokens.take("made-up"));
    cr_assert_eq(tokens.pending(), 0u);
}

Test(stream_tokens, tokens_expire) {
    Tokens tokens(std::chrono::seconds(1));
    std::string t = tokens.put(AttachRequest{"c2", false, true, true, false});
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    cr_assert(!tokens.take(t), "an expired token was accepted");
    cr_assert_eq(tokens.pending(), 0u);
}

Test(stream_tokens, pending_tokens_are_bounded) {
    Tokens tokens(std::chrono::seconds(60), 3);
    for (int i = 0; i < 3; ++i) tokens.put(PortForwardRequest{"p", {80}});
    try {
        tokens.put(PortForwardRequest{"p", {80}});
        cr_assert_fail("a fourth pending token was handed out");
    } catch (const Error& e) {
        cr_assert_eq(e.err(), EAGAIN);
    }
}
