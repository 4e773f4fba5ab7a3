#include "random.hpp"

#include "error.hpp"

#include <sys/random.h>

namespace berth {

void random_bytes(void* buf, size_t n) {
    auto* p = static_cast<unsigned char*>(buf);
    size_t got = 0;
    while (got < n) {
        ssize_t r = ::getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw_errno("getrandom");
        }
        got += static_cast<size_t>(r);
    }
}

} // namespace berth
