// Registry auth pieces (cri/registry/auth.cpp): WWW-Authenticate, token
// responses, the token cache, Basic credentials.
#include "auth.hpp"
#include "error.hpp"

#include <criterion/criterion.h>

#include <atomic>
#include <thread>

using namespace berth::image;

Test(www_authenticate, bearer_with_quoted_commas) {
    auto cs = parse_www_authenticate(
        R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push")");
    cr_assert_eq(cs.size(), 1u);
    cr_expect_eq(cs[0].scheme, "bearer");
    cr_expect_eq(cs[0].param("realm"), "https://auth.docker.io/token");
    cr_expect_eq(cs[0].param("service"), "registry.docker.io");
    cr_expect_eq(cs[0].param("scope"), "repository:library/busybox:pull,push");
    cr_expect_eq(cs[0].params.size(), 3u);
}

Test(www_authenticate, several_challenges_spaces_and_case) {
    auto cs = parse_www_authenticate(
        R"(  BEARER  Realm = "https://a/t" , Service=reg ,  Basic realm="the \"realm\", quoted", Newauth)");
    cr_assert_eq(cs.size(), 3u);
    cr_expect_eq(cs[0].scheme, "bearer");
    cr_expect_eq(cs[0].param("realm"), "https://a/t");
    cr_expect_eq(cs[0].param("service"), "reg");
    cr_expect_eq(cs[1].scheme, "basic");
    cr_expect_eq(cs[1].param("realm"), "the \"realm\", quoted");
    cr_expect_eq(cs[2].scheme, "newauth");
    cr_expect(cs[2].params.empty());
}

Test(www_authenticate, basic_and_odd_forms) {
    auto cs = parse_www_authenticate(R"(Basic realm="Registry Realm")");
    cr_assert_eq(cs.size(), 1u);
    cr_expect_eq(cs[0].scheme, "basic");
    cr_expect_eq(cs[0].param("realm"), "Registry Realm");

    // A token68 after the scheme is skipped; the next challenge still parses.
    cs = parse_www_authenticate(R"(Negotiate YWJjZA==, Bearer realm="https://r")");
    cr_assert_eq(cs.size(), 2u);
    cr_expect_eq(cs[0].scheme, "negotiate");
    cr_expect_eq(cs[1].scheme, "bearer");
    cr_expect_eq(cs[1].param("realm"), "https://r");

    // An unquoted URL (some registries send one), an unterminated quote.
    cs = parse_www_authenticate(R"(Bearer realm=https://r.io/token?x=1,service="s)");
    cr_assert_eq(cs.size(), 1u);
    cr_expect_eq(cs[0].param("realm"), "https://r.io/token?x=1");
    cr_expect_eq(cs[0].param("service"), "s");

    cr_expect(parse_www_authenticate("").empty());
    cr_expect(parse_www_authenticate(" , ,").empty());
    cs = parse_www_authenticate("=junk, Bearer realm=\"x\"");
    cr_assert_eq(cs.size(), 1u);
    cr_expect_eq(cs[0].param("realm"), "x");
}

Test(token_response, token_lifetimes) {
    using namespace std::chrono;
    auto now = system_clock::from_time_t(1700000000);   // 2023-11-14T22:13:20Z
    auto r = parse_token_response(R"({"token":"t1","expires_in":300,"issued_at":"2023-11-14T22:13:20Z"})", now, "w");
    cr_expect_eq(r.token, "t1");
    cr_expect_eq(r.lifetime.count(), 270, "90%% of expires_in: %lld", (long long)r.lifetime.count());
    // Issued 100 s ago (with an offset and fractions): 170 s left.
    r = parse_token_response(R"({"token":"t","expires_in":300,"issued_at":"2023-11-14T23:11:40.123+01:00"})", now, "w");
    cr_expect_eq(r.lifetime.count(), 170, "%lld", (long long)r.lifetime.count());
    // access_token wins over token; no expires_in is the spec's 60 s.
    r = parse_token_response(R"({"token":"a","access_token":"b","refresh_token":"rt"})", now, "w");
    cr_expect_eq(r.token, "b");
    cr_expect_eq(r.refresh_token, "rt");
    cr_expect_eq(r.lifetime.count(), 54);
    // An issued_at far in the past (clock skew) counts from now.
    r = parse_token_response(R"({"token":"t","expires_in":600,"issued_at":"2001-01-01T00:00:00Z"})", now, "w");
    cr_expect_eq(r.lifetime.count(), 540);
}

Test(token_response, garbage_is_ebadmsg) {
    auto now = std::chrono::system_clock::now();
    for (const char* body : {"<html>nope</html>", "", "[]", R"({"token":""})", R"({"expires_in":3})",
                             R"({"token":5})", R"({"token":"t","issued_at":"yesterday"})",
                             // Past system_clock's 2262 (signed overflow in from_time_t; fuzz_auth_challenge).
                             R"({"token":"t","issued_at":"9999-12-31T23:59:59Z"})",
                             R"({"token":"t","issued_at":"-999-01-01T00:00:00Z"})"}) {
        try {
            parse_token_response(body, now, "token from https://r");
            cr_expect_fail("accepted %s", body);
        } catch (const berth::Error& e) {
            cr_expect_eq(e.err(), EBADMSG, "%s", e.what());
            cr_expect(std::string(e.what()).find("token from https://r: bad token response") == 0, "%s", e.what());
        }
    }
}

Test(token_cache, caches_until_expiry_and_forgets) {
    TokenCache c;
    int fetches = 0;
    auto fetch = [&] {
        ++fetches;
        TokenResponse r;
        r.token = "tok" + std::to_string(fetches);
        r.lifetime = std::chrono::seconds(100);
        return r;
    };
    cr_expect_eq(c.get("k", fetch), "tok1");
    cr_expect_eq(c.get("k", fetch), "tok1");
    cr_expect_eq(fetches, 1);
    cr_expect_eq(c.get("other", fetch), "tok2");
    c.forget("k", "stale");   // not the cached one: kept
    cr_expect_eq(c.get("k", fetch), "tok1");
    c.forget("k", "tok1");
    cr_expect_eq(c.get("k", fetch), "tok3");

    // A zero lifetime is never reused.
    auto expired = [&] {
        ++fetches;
        TokenResponse r;
        r.token = "e" + std::to_string(fetches);
        return r;
    };
    std::string a = c.get("e", expired), b = c.get("e", expired);
    cr_expect_neq(a, b);

    // A failed fetch caches nothing.
    try {
        c.get("f", []() -> TokenResponse { throw berth::Error(EIO, "down"); });
        cr_expect_fail("no throw");
    } catch (const berth::Error&) {
    }
    cr_expect_eq(c.get("f", fetch).substr(0, 3), "tok");
}

Test(token_cache, one_fetch_for_concurrent_callers) {
    TokenCache c;
    std::atomic<int> fetches{0};
    std::vector<std::thread> ts;
    std::vector<std::string> got(8);
    for (int i = 0; i < 8; ++i)
        ts.emplace_back([&, i] {
            got[i] = c.get("k", [&] {
                ++fetches;
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                TokenResponse r;
                r.token = "only";
                r.lifetime = std::chrono::seconds(60);
                return r;
            });
        });
    for (auto& t : ts) t.join();
    cr_expect_eq(fetches.load(), 1);
    for (auto& g : got) cr_expect_eq(g, "only");
}

Test(token_cache, challenges_by_host) {
    TokenCache c;
    cr_expect_not(c.challenge("https://r/v2").has_value());
    AuthChallenge ch{"bearer", {{"realm", "https://a"}}};
    c.set_challenge("https://r/v2", ch);
    cr_assert(c.challenge("https://r/v2").has_value());
    cr_expect_eq(c.challenge("https://r/v2")->param("realm"), "https://a");
    cr_expect_not(c.challenge("https://other/v2").has_value());
}

Test(credentials, basic_from_fields_or_auth) {
    Credentials c;
    cr_expect(c.empty());
    cr_expect_not(basic_credentials(c).has_value());
    c.username = "u";
    c.password = "p:w";
    cr_expect_not(c.empty());
    auto b = basic_credentials(c);
    cr_assert(b.has_value());
    cr_expect_eq(b->first, "u");
    cr_expect_eq(b->second, "p:w");

    Credentials a;
    a.auth = base64_encode("alice:s3cr:et");
    cr_expect_eq(a.auth, "YWxpY2U6czNjcjpldA==");
    b = basic_credentials(a);
    cr_assert(b.has_value());
    cr_expect_eq(b->first, "alice");
    cr_expect_eq(b->second, "s3cr:et");

    for (const char* bad : {"!!!!", "YWxpY2U=", "abc"}) {   // not base64; no colon; bad length
        Credentials x;
        x.auth = bad;
        try {
            basic_credentials(x);
            cr_expect_fail("accepted auth %s", bad);
        } catch (const berth::Error& e) {
            cr_expect_eq(e.err(), EINVAL);
        }
    }
    Credentials t;
    t.identity_token = "rt";
    cr_expect_not(t.empty());
    cr_expect_not(basic_credentials(t).has_value());
    cr_expect_eq(base64_encode(""), "");
    cr_expect_eq(base64_encode("a"), "YQ==");
}
