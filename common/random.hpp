// Random bytes from the kernel (getrandom), for ids and tokens.
#pragma once

#include <cstddef>

namespace berth {

// Fills buf with n random bytes; blocks only until the pool is seeded at
// boot. Error naming getrandom on failure.
void random_bytes(void* buf, size_t n);

} // namespace berth
