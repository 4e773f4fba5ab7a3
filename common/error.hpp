// One error type for all of berth: an errno (0 when none applies) and a
// message built from a chain of context, outermost first, e.g.
//   "create container c1: mount proc on /proc: Operation not permitted".
// Errors are thrown as exceptions and reported at the edge (CLI, shim, CRI).
// The errno's text is shown only for errors raised by a failed system call
// (throw_errno); a logical error keeps its errno for callers to test.
#pragma once

#include <cerrno>
#include <exception>
#include <string>
#include <string_view>

namespace berth {

class Error : public std::exception {
public:
    Error(int err, std::string context, bool from_syscall = false)
        : errno_(err), context_(std::move(context)), sys_(from_syscall) { render(); }
    explicit Error(std::string context) : Error(0, std::move(context)) {}

    int err() const noexcept { return errno_; }
    bool from_syscall() const noexcept { return sys_; }
    // The message without the errno text.
    const std::string& context() const noexcept { return context_; }
    const char* what() const noexcept override { return what_.c_str(); }

    // Add outer context: "outer: inner".
    Error& prefix(std::string_view outer) {
        context_ = std::string(outer) + ": " + context_;
        render();
        return *this;
    }

private:
    void render();
    int errno_;
    std::string context_;
    bool sys_ = false;
    std::string what_;
};

// Throw an Error carrying the current errno.
[[noreturn]] void throw_errno(std::string context);
[[noreturn]] void throw_errno(int err, std::string context);

// Run fn; if it throws an Error, prefix it with context and rethrow.
template <class Fn>
decltype(auto) with_context(std::string_view context, Fn&& fn) {
    try {
        return fn();
    } catch (Error& e) {
        e.prefix(context);
        throw;
    }
}

} // namespace berth
