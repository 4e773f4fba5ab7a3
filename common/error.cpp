#include "error.hpp"

#include <cstring>

namespace berth {

void Error::render() {
    what_ = context_;
    if (sys_ && errno_ != 0) {
        what_ += ": ";
        what_ += std::strerror(errno_);
    }
}

void throw_errno(std::string context) { throw Error(errno, std::move(context), true); }
void throw_errno(int err, std::string context) { throw Error(err, std::move(context), true); }

} // namespace berth
