// A minimal D-Bus client, enough for the systemd cgroup driver to talk to
// systemd: a unix socket, SASL EXTERNAL, the little-endian wire format,
// method calls with replies matched by serial, and signals.
//
// Hand-written rather than sd-bus because berth is linked statically (start-up
// speed, and no host shared library mapped into a process a container can
// reach) and Debian ships no static libsystemd; runc (godbus) and youki also
// speak D-Bus natively.
#pragma once

#include "fd.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::dbus {

// One value of a single complete type, with its signature ("u", "a(sv)").
// Integers of every width are kept in num (signed ones sign-extended).
class Value {
public:
    static Value byte(uint8_t v) { return basic("y", v); }
    static Value boolean(bool v) { return basic("b", v ? 1 : 0); }
    static Value i16(int16_t v) { return basic("n", static_cast<uint64_t>(static_cast<int64_t>(v))); }
    static Value u16(uint16_t v) { return basic("q", v); }
    static Value i32(int32_t v) { return basic("i", static_cast<uint64_t>(static_cast<int64_t>(v))); }
    static Value u32(uint32_t v) { return basic("u", v); }
    static Value i64(int64_t v) { return basic("x", static_cast<uint64_t>(v)); }
    static Value u64(uint64_t v) { return basic("t", v); }
    static Value str(std::string v) { return text("s", std::move(v)); }
    static Value object_path(std::string v) { return text("o", std::move(v)); }
    static Value signature(std::string v);
    // Every item must have the signature elem_sig (one complete type).
    static Value array(std::string elem_sig, std::vector<Value> items);
    static Value bytes(const std::vector<uint8_t>& v);   // ay
    static Value strings(const std::vector<std::string>& v);   // as
    static Value structure(std::vector<Value> fields);
    static Value dict_entry(Value key, Value value);     // key: a basic type
    static Value variant(Value inner);

    const std::string& sig() const { return sig_; }
    char type() const { return sig_[0]; }

    // Typed access; a value of another type throws Error(EPROTO).
    bool as_bool() const;
    uint64_t as_u64() const;   // y q u t (and b)
    int64_t as_i64() const;    // n i x
    const std::string& as_str() const;   // s o g
    const std::vector<Value>& items() const;   // array elements, struct or dict entry fields
    const Value& inner() const;   // a variant's value

    bool operator==(const Value& o) const = default;

private:
    static Value basic(const char* sig, uint64_t v);
    static Value text(const char* sig, std::string v);
    void expect(std::string_view types, const char* what) const;

    std::string sig_;
    uint64_t num_ = 0;
    std::string str_;
    std::vector<Value> items_;   // a variant holds its value as the one item
};

// The end of the single complete type starting at sig[pos]; throws
// Error(EPROTO) for an invalid signature.
size_t complete_type_end(std::string_view sig, size_t pos = 0);
// Throws Error(EPROTO) unless sig is a valid signature (any number of
// complete types, at most 255 bytes).
void check_signature(std::string_view sig);

// Append v to out as the wire format lays it out: alignment counts from the
// start of out, which must be 8-aligned in the message (a body is).
void marshal(std::string& out, const Value& v);
// Read values of `signature` (zero or more complete types) from data.
std::vector<Value> unmarshal(std::string_view data, std::string_view signature, bool big_endian = false);

enum class MessageType : uint8_t { invalid = 0, method_call = 1, method_return = 2, error = 3, signal = 4 };

constexpr uint8_t kNoReplyExpected = 0x1;
constexpr uint8_t kNoAutoStart = 0x2;

struct Message {
    MessageType type = MessageType::invalid;
    uint8_t flags = 0;
    uint32_t serial = 0;
    uint32_t reply_serial = 0;
    std::string path, interface, member, error_name, destination, sender;
    std::string signature;   // of the body
    std::string body;        // marshalled
    uint32_t unix_fds = 0;
    bool big_endian = false; // as received

    static Message method_call(std::string destination, std::string path, std::string interface,
                               std::string member);
    // Append an argument to the body (and its signature).
    Message& arg(const Value& v);
    // The body's values.
    std::vector<Value> args() const;
    // "org.freedesktop.DBus.Error.X: text" for an error reply.
    std::string error_text() const;
};

// The wire bytes (little-endian); m.serial must be set.
std::string encode(const Message& m);
// The size of the whole message whose first 16 bytes are given; throws
// Error(EPROTO) for a header no valid message has.
size_t message_size(std::string_view first16);
// One complete message, exactly its bytes (message_size of them).
Message decode(std::string_view bytes);

// A connection to a bus or a peer over a unix stream socket.
class Connection {
public:
    // Connect to the socket at path and authenticate. Errors name the path.
    static Connection connect(const std::string& path);
    // Authenticate (AUTH EXTERNAL with this process's euid) on a connected
    // stream socket: tests hand one end of a socketpair.
    explicit Connection(UniqueFd fd, int timeout_ms = 10000);

    Connection(Connection&&) = default;
    Connection& operator=(Connection&&) = default;

    // org.freedesktop.DBus.Hello: required first on a message bus (not on a
    // direct connection such as systemd's private socket). Returns our name.
    std::string hello();
    // Send m (its serial is set here) and return its reply. An error reply
    // throws Error whose message is "NAME: text" and whose errno maps the
    // name (see errno_for). Signals that arrive meanwhile are kept for
    // wait_signal. timeout_ms < 0: wait forever.
    Message call(Message m, int timeout_ms = 30000);
    // Send without waiting for a reply (the no-reply flag is set); returns the serial.
    uint32_t send(Message m);
    // The first signal (kept or arriving) that `match` accepts; throws
    // Error(ETIMEDOUT) after timeout_ms. Others are dropped.
    Message wait_signal(const std::function<bool(const Message&)>& match, int timeout_ms);

    int fd() const { return fd_.get(); }

private:
    void write_all(std::string_view data);
    // Read more bytes into buf_ before the deadline (ms since the epoch of
    // a steady clock; < 0: none).
    void fill(int64_t deadline);
    std::string read_line(int64_t deadline);
    Message read_message(int64_t deadline);

    UniqueFd fd_;
    uint32_t serial_ = 0;
    std::string buf_;
    std::deque<Message> signals_;
};

// The errno berth reports for a D-Bus error name (EIO for unknown ones).
int errno_for(std::string_view error_name);

} // namespace berth::dbus
