// sha256 digests (cri/registry/digest.cpp).
#include "digest.hpp"
#include "error.hpp"

#include <criterion/criterion.h>

#include <string>

using namespace berth::image;

Test(digest, known_values) {
    cr_expect_eq(sha256_digest(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_expect_eq(sha256_digest("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(digest, streaming_equals_one_shot) {
    std::string data;
    for (int i = 0; i < 100000; ++i) data += static_cast<char>(i * 7);
    Sha256 h;
    for (size_t i = 0; i < data.size(); i += 997) h.update(data.data() + i, std::min<size_t>(997, data.size() - i));
    h.update(nullptr, 0);
    Sha256 moved = std::move(h);
    cr_expect_eq(moved.finish(), sha256_digest(data));
}

Test(digest, validation) {
    std::string ok = "sha256:" + std::string(64, 'f');
    cr_expect(valid_digest(ok));
    cr_expect_eq(digest_hex(ok), std::string(64, 'f'));
    for (std::string bad : {std::string("sha256:") + std::string(63, 'f'), std::string("sha256:") + std::string(65, 'f'),
                            std::string("sha256:") + std::string(64, 'F'), std::string("sha512:") + std::string(64, 'f'),
                            std::string(64, 'f'), std::string("sha256:") + std::string(63, 'f') + "g", std::string()}) {
        cr_expect_not(valid_digest(bad), "%s", bad.c_str());
        try {
            check_digest(bad, "layer 3");
            cr_expect_fail("accepted %s", bad.c_str());
        } catch (const berth::Error& e) {
            cr_expect_eq(e.err(), EINVAL);
            cr_expect(std::string(e.what()).find("layer 3: invalid digest") == 0, "%s", e.what());
        }
    }
}
