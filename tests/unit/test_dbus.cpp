// The D-Bus client: byte-exact marshalling (checked against messages that
// GDBus and dbus-daemon wrote), unmarshalling of a call, a reply, an error
// and a signal, alignment and validation, and the client against a fake
// peer over a socketpair. One test talks to a real dbus-daemon when the
// host has one (it skips otherwise).
#include <criterion/criterion.h>

#include "dbus.hpp"
#include "error.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>

// Criterion's string asserts read c_str() after temporaries die: compare copies.
#define STR_EQ(got, want, ...)                                                                      \
    do {                                                                                            \
        std::string g_ = (got), w_ = (want);                                                        \
        cr_assert(g_ == w_, "got:  [%s]\nwant: [%s]", g_.c_str(), w_.c_str());                      \
    } while (0)

using namespace berth;
using namespace berth::dbus;

namespace {

std::string hex(const std::string& s) {
    static const char d[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += d[c >> 4];
        out += d[c & 15];
    }
    return out;
}

std::string unhex(const std::string& h) {
    std::string out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
    return out;
}

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

Value prop(const char* name, Value v) { return Value::structure({Value::str(name), Value::variant(std::move(v))}); }

Message start_transient_unit() {
    auto m = Message::method_call("org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                  "org.freedesktop.systemd1.Manager", "StartTransientUnit");
    m.arg(Value::str("berth-c1.scope"))
        .arg(Value::str("replace"))
        .arg(Value::array("(sv)", {prop("Description", Value::str("berth container berth-c1.scope")),
                                   prop("Slice", Value::str("system.slice")), prop("Delegate", Value::boolean(true)),
                                   prop("PIDs", Value::array("u", {Value::u32(4242)})),
                                   prop("MemoryMax", Value::u64(67108864)), prop("AllowedCPUs", Value::bytes({3}))}))
        .arg(Value::array("(sa(sv))", {}));
    return m;
}

// The same StartTransientUnit call as GDBus sent it (gdbus call ... through
// dbus-daemon, captured with dbus-monitor --binary): its header orders the
// fields differently and carries the sender the daemon added; its body is
// the reference for ours.
const std::string kGdbusCall =
    "6c010001f800000003000000bd00000001016f00190000002f6f72672f667265656465736b746f702f73797374656d64"
    "310000000000000002017300200000006f72672e667265656465736b746f702e73797374656d64312e4d616e61676572"
    "000000000000000006017300140000006f72672e667265656465736b746f702e44427573000000000801670010737361"
    "28737629612873612873762929000000030173001200000053746172745472616e7369656e74556e6974000000000000"
    "07017300040000003a312e32000000000e00000062657274682d63312e73636f70650000070000007265706c61636500"
    "c9000000000000000b0000004465736372697074696f6e00017300001e000000626572746820636f6e7461696e657220"
    "62657274682d63312e73636f7065000005000000536c696365000173000000000c00000073797374656d2e736c696365"
    "00000000000000000800000044656c656761746500016200010000000000000004000000504944730002617500000000"
    "0400000092100000090000004d656d6f72794d6178000174000000000000000000000004000000000b000000416c6c6f"
    "776564435055730002617900010000000300000000000000";
const size_t kGdbusHeader = 16 + 0xbd + 3;   // fields 0xbd bytes, padded to 8

// dbus-daemon's error reply to that call.
const std::string kDaemonError =
    "6c03010148000000040000007500000006017300040000003a312e3200000000040173002b0000006f72672e66726565"
    "6465736b746f702e444275732e4572726f722e556e6b6e6f776e496e7465726661636500000000000501750003000000"
    "080167000173000007017300140000006f72672e667265656465736b746f702e4442757300000000430000006f72672e"
    "667265656465736b746f702e4442757320646f6573206e6f7420756e6465727374616e64206d6573736167652053746172"
    "745472616e7369656e74556e697400";

// A JobRemoved signal as GDBus emits it (gdbus emit ... JobRemoved 42 ...).
const std::string kJobRemoved =
    "6c04010149000000010000009800000001016f00190000002f6f72672f667265656465736b746f702f73797374656d64"
    "310000000000000002017300200000006f72672e667265656465736b746f702e73797374656d64312e4d616e61676572"
    "00000000000000000801670004756f737300000000000000030173000a0000004a6f6252656d6f766564000000000000"
    "070173000f0000003a6e6f742e6163746976652e796574002a000000200000002f6f72672f667265656465736b746f70"
    "2f73797374656d64312f6a6f622f3432000000000e00000062657274682d63312e73636f7065000004000000646f6e65"
    "00";

} // namespace

Test(dbus, start_transient_unit_body_matches_gdbus) {
    auto m = start_transient_unit();
    STR_EQ(m.signature.c_str(), "ssa(sv)a(sa(sv))");
    std::string want = hex(unhex(kGdbusCall).substr(kGdbusHeader));
    STR_EQ(hex(m.body).c_str(), want.c_str());
}

Test(dbus, header_byte_exact) {
    // Subscribe, serial 1, no body: each header field is a (yv) struct at
    // an 8-byte boundary; the array length counts from the first struct
    // to the end of the last, without the padding after it.
    auto m = Message::method_call("org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                  "org.freedesktop.systemd1.Manager", "Subscribe");
    m.serial = 1;
    std::string want =
        std::string("6c010001") + "00000000" + "01000000" + "91000000"   // l, call, no flags, v1; body 0; serial 1; fields 145
        + "01016f00" + "19000000" + hex("/org/freedesktop/systemd1") + "00" + "000000000000"   // PATH o, to 56
        + "02017300" + "20000000" + hex("org.freedesktop.systemd1.Manager") + "00" + "00000000000000"   // INTERFACE s, to 104
        + "03017300" + "09000000" + hex("Subscribe") + "00" + "000000000000"   // MEMBER s, to 128
        + "06017300" + "18000000" + hex("org.freedesktop.systemd1") + "00"   // DESTINATION s, ends at 161
        + "00000000000000";   // the body starts 8-aligned (168)
    STR_EQ(hex(encode(m)).c_str(), want.c_str());

    // With a body: the SIGNATURE field, then the body after the padding.
    auto s = start_transient_unit();
    s.serial = 3;
    auto bytes = encode(s);
    cr_assert_eq((bytes.size() - s.body.size()) % 8, 0u);
    cr_assert_eq(bytes.substr(bytes.size() - s.body.size()), s.body);
    cr_assert_eq(message_size(bytes.substr(0, 16)), bytes.size());
    auto back = decode(bytes);
    cr_assert_eq(back.signature, "ssa(sv)a(sa(sv))");
    cr_assert_eq(back.args(), s.args());
}

Test(dbus, decode_gdbus_method_call) {
    auto m = decode(unhex(kGdbusCall));
    cr_assert_eq(m.type, MessageType::method_call);
    cr_assert_eq(m.serial, 3u);
    STR_EQ(m.path.c_str(), "/org/freedesktop/systemd1");
    STR_EQ(m.interface.c_str(), "org.freedesktop.systemd1.Manager");
    STR_EQ(m.member.c_str(), "StartTransientUnit");
    STR_EQ(m.destination.c_str(), "org.freedesktop.DBus");
    STR_EQ(m.sender.c_str(), ":1.2");
    auto a = m.args();
    cr_assert_eq(a.size(), 4u);
    STR_EQ(a[0].as_str().c_str(), "berth-c1.scope");
    STR_EQ(a[1].as_str().c_str(), "replace");
    const auto& props = a[2].items();
    cr_assert_eq(props.size(), 6u);
    STR_EQ(props[3].items()[0].as_str().c_str(), "PIDs");
    cr_assert_eq(props[3].items()[1].inner().items()[0].as_u64(), 4242u);
    cr_assert_eq(props[2].items()[1].inner().as_bool(), true);
    cr_assert_eq(props[4].items()[1].inner().as_u64(), 67108864u);
    cr_assert_eq(props[5].items()[1].inner().items()[0].as_u64(), 3u);
    cr_assert_eq(a[3].sig(), "a(sa(sv))");
    cr_assert(a[3].items().empty());
    cr_assert(a == start_transient_unit().args());
}

Test(dbus, decode_error_reply) {
    auto m = decode(unhex(kDaemonError));
    cr_assert_eq(m.type, MessageType::error);
    cr_assert_eq(m.reply_serial, 3u);
    STR_EQ(m.error_name.c_str(), "org.freedesktop.DBus.Error.UnknownInterface");
    STR_EQ(m.error_text().c_str(),
                     "org.freedesktop.DBus.Error.UnknownInterface: org.freedesktop.DBus does not understand message "
                     "StartTransientUnit");
    cr_assert_eq(errno_for(m.error_name), EOPNOTSUPP);
    cr_assert_eq(errno_for("org.freedesktop.systemd1.NoSuchUnit"), ENOENT);
    cr_assert_eq(errno_for("org.freedesktop.systemd1.UnitExists"), EEXIST);
    cr_assert_eq(errno_for("System.Error.EBUSY"), EBUSY);
    cr_assert_eq(errno_for("com.example.Whatever"), EIO);
}

Test(dbus, decode_job_removed_signal) {
    auto m = decode(unhex(kJobRemoved));
    cr_assert_eq(m.type, MessageType::signal);
    STR_EQ(m.member.c_str(), "JobRemoved");
    STR_EQ(m.signature.c_str(), "uoss");
    auto a = m.args();
    cr_assert_eq(a[0].as_u64(), 42u);
    cr_assert_eq(a[1].type(), 'o');
    STR_EQ(a[1].as_str().c_str(), "/org/freedesktop/systemd1/job/42");
    STR_EQ(a[2].as_str().c_str(), "berth-c1.scope");
    STR_EQ(a[3].as_str().c_str(), "done");
}

Test(dbus, alignment) {
    auto body = [](std::vector<Value> vs) {
        std::string out;
        for (auto& v : vs) marshal(out, v);
        return hex(out);
    };
    // y then t: seven bytes of padding.
    STR_EQ(body({Value::byte(1), Value::u64(2)}).c_str(), "01000000000000000200000000000000");
    // y then n then u: 2- and 4-byte alignment.
    STR_EQ(body({Value::byte(1), Value::i16(-2), Value::u32(3)}).c_str(), "0100feff03000000");
    // An empty array of structs still pads to the (absent) first element,
    // and its length (0) does not count that padding.
    STR_EQ(body({Value::array("(sv)", {})}).c_str(), "0000000000000000");
    // y, then a(t): the length at 4, the element at 8; length 8.
    STR_EQ(body({Value::byte(7), Value::array("(t)", {Value::structure({Value::u64(5)})})}).c_str(),
                     "07000000080000000500000000000000");
    // A variant: its signature (g, 1-aligned), then its value aligned for its type.
    STR_EQ(body({Value::byte(1), Value::variant(Value::u64(9))}).c_str(), "0101740000000000" "0900000000000000");
    // Strings: length, bytes, NUL; signatures: 1-byte length.
    STR_EQ(body({Value::str("ab"), Value::signature("as")}).c_str(), "0200000061620002617300");
    // A boolean is 4 bytes; a dict entry 8-aligned like a struct.
    STR_EQ(body({Value::boolean(true), Value::array("{sb}", {Value::dict_entry(Value::str("k"), Value::boolean(false))})}).c_str(),
                     "01000000" "0c000000" "010000006b000000" "00000000");
    // Round trips, including values whose alignment depends on the offset.
    std::vector<Value> vs = {Value::byte(1), Value::array("a{sv}", {Value::array("{sv}", {Value::dict_entry(Value::str("x"), Value::variant(Value::i64(-1)))})}),
                             Value::i32(-7), Value::object_path("/a"), Value::strings({"p", "qq"}), Value::bytes({}),
                             Value::structure({Value::byte(2), Value::structure({Value::u16(3)})})};
    std::string out, sig;
    for (auto& v : vs) {
        marshal(out, v);
        sig += v.sig();
    }
    cr_assert(unmarshal(out, sig) == vs);
}

Test(dbus, big_endian_message) {
    // A method return with body "u" 0x01020304, big-endian as a peer may send it.
    std::string m = std::string("B") + '\2' + '\0' + '\1' + std::string("\0\0\0\4", 4) + std::string("\0\0\0\7", 4) +
                    std::string("\0\0\0\x0f", 4)   // fields: 15 bytes
                    + std::string("\5\1u\0\0\0\0\x2a", 8)   // REPLY_SERIAL 42
                    + std::string("\x08\1g\0\1u\0", 7) + std::string(1, '\0')   // SIGNATURE "u", pad to 8
                    + std::string("\1\2\3\4", 4);
    auto d = decode(m);
    cr_assert(d.big_endian);
    cr_assert_eq(d.type, MessageType::method_return);
    cr_assert_eq(d.serial, 7u);
    cr_assert_eq(d.reply_serial, 42u);
    cr_assert_eq(d.args().at(0).as_u64(), 0x01020304u);
}

Test(dbus, invalid_input_is_refused) {
    for (const char* bad : {"a", "(", "()", "{sv}", "a{vs}", "a{s}", "a{sss}", "(s", "z", "a(s}"})
        cr_assert(!error_of([&] { check_signature(bad); }).empty(), "accepted signature %s", bad);
    for (const char* ok : {"", "a{sv}", "a(sa(sv))", "(yv)", "aay", "a{oa{sa{sv}}}", "ssa(sv)a(sa(sv))"})
        cr_assert(error_of([&] { check_signature(ok); }).empty(), "refused signature %s", ok);
    std::string deep(33, 'a');
    deep += 'y';
    cr_assert(!error_of([&] { check_signature(deep); }).empty());
    // A boolean other than 0 or 1, non-zero padding, a string without its
    // NUL, an array running past the data, bytes left over.
    cr_assert(!error_of([] { unmarshal(std::string("\2\0\0\0", 4), "b"); }).empty());
    cr_assert(!error_of([] { unmarshal(std::string("\1\1\0\0\5\0\0\0", 8), "yu"); }).empty());
    cr_assert(!error_of([] { unmarshal(std::string("\2\0\0\0abc", 7), "s"); }).empty());
    cr_assert(!error_of([] { unmarshal(std::string("\x10\0\0\0\1\0\0\0", 8), "au"); }).empty());
    cr_assert(!error_of([] { unmarshal(std::string("\1\0\0\0\1", 5), "u"); }).empty());
    cr_assert(!error_of([] { unmarshal(std::string("\1\0\0\0", 4), "t"); }).empty());
    // A variant must hold one complete type.
    cr_assert(!error_of([] { unmarshal(std::string("\2uu\0", 4), "v"); }).empty());
    // Message headers: bad endianness byte, wrong version, truncation.
    auto good = unhex(kJobRemoved);
    auto bad = good;
    bad[0] = 'x';
    cr_assert(!error_of([&] { decode(bad); }).empty());
    bad = good;
    bad[3] = 2;
    cr_assert(!error_of([&] { decode(bad); }).empty());
    cr_assert(!error_of([&] { decode(good.substr(0, good.size() - 1)); }).empty());
    // Builders check types too.
    cr_assert(!error_of([] { Value::array("u", {Value::str("x")}); }).empty());
    cr_assert(!error_of([] { Value::dict_entry(Value::variant(Value::byte(1)), Value::byte(1)); }).empty());
    cr_assert(!error_of([] { Value::str(std::string("a\0b", 3)); }).empty());
    cr_assert(!error_of([] { Value::u32(1).as_str(); }).empty());
}

// ---- the client against a fake peer ---------------------------------------

namespace {

// The peer's side: raw reads and writes on its end of the socketpair.
struct Peer {
    int fd;
    std::string buf;

    void more() {
        char c[4096];
        ssize_t n = ::read(fd, c, sizeof c);
        if (n <= 0) throw Error(EPIPE, "peer: read");
        buf.append(c, static_cast<size_t>(n));
    }
    std::string line() {
        for (;;) {
            auto p = buf.find("\r\n");
            if (p != std::string::npos) {
                auto l = buf.substr(0, p);
                buf.erase(0, p + 2);
                return l;
            }
            more();
        }
    }
    Message message() {
        while (buf.size() < 16) more();
        size_t n = message_size(buf.substr(0, 16));
        while (buf.size() < n) more();
        auto m = decode(buf.substr(0, n));
        buf.erase(0, n);
        return m;
    }
    void write(const std::string& s) const { cr_assert_eq(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size())); }
    void reply(const Message& to, uint32_t serial, std::vector<Value> args) const {
        Message r;
        r.type = MessageType::method_return;
        r.serial = serial;
        r.reply_serial = to.serial;
        for (auto& a : args) r.arg(a);
        write(encode(r));
    }
    void error(const Message& to, uint32_t serial, const std::string& name, const std::string& text) const {
        Message r;
        r.type = MessageType::error;
        r.serial = serial;
        r.reply_serial = to.serial;
        r.error_name = name;
        r.arg(Value::str(text));
        write(encode(r));
    }
    void signal(uint32_t serial, const std::string& member, std::vector<Value> args) const {
        Message s;
        s.type = MessageType::signal;
        s.serial = serial;
        s.path = "/org/freedesktop/systemd1";
        s.interface = "org.freedesktop.systemd1.Manager";
        s.member = member;
        for (auto& a : args) s.arg(a);
        write(encode(s));
    }
};

std::string uid_hex() {
    std::string out;
    for (char c : std::to_string(::geteuid())) {
        char b[3];
        std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(c));
        out += b;
    }
    return out;
}

} // namespace

Test(dbus, client_against_fake_peer) {
    int sv[2];
    cr_assert_eq(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    std::string peer_problem;
    std::thread peer([&, fd = sv[1]] {
        try {
            Peer p{fd, {}};
            // The NUL byte, AUTH EXTERNAL with the uid's digits in hex, and
            // BEGIN in the same write (systemd's private socket needs that).
            while (p.buf.size() < 2 || p.buf.find("BEGIN\r\n") == std::string::npos) p.more();
            if (p.buf[0] != '\0') throw Error("no leading NUL byte");
            p.buf.erase(0, 1);
            auto auth = p.line();
            if (auth != "AUTH EXTERNAL " + uid_hex()) throw Error("auth line: " + auth);
            if (p.line() != "BEGIN") throw Error("no BEGIN");
            // The OK, with a signal right behind it in the same write.
            p.write("OK 0123456789abcdef0123456789abcdef\r\n");
            p.signal(99, "UnitNew", {Value::str("early.scope"), Value::object_path("/early")});
            // A call answered after a signal and an unrelated reply.
            auto c1 = p.message();
            if (c1.member != "Ping" || c1.args().at(0).as_str() != "hello") throw Error("first call: " + c1.member);
            p.signal(100, "JobRemoved", {Value::u32(1), Value::object_path("/org/freedesktop/systemd1/job/1"),
                                         Value::str("x.scope"), Value::str("done")});
            Message stray = c1;
            stray.serial = c1.serial + 1000;
            p.reply(stray, 101, {Value::str("not for you")});
            p.reply(c1, 102, {Value::str("pong")});
            // A call answered with an error.
            auto c2 = p.message();
            p.error(c2, 103, "org.freedesktop.systemd1.NoSuchUnit", "Unit x.scope not loaded.");
            // A signal the client waits for, after one it does not want.
            p.signal(104, "UnitNew", {Value::str("y.scope"), Value::object_path("/y")});
            p.signal(105, "JobRemoved", {Value::u32(2), Value::object_path("/org/freedesktop/systemd1/job/2"),
                                         Value::str("y.scope"), Value::str("failed")});
            // A send with no reply expected, then the peer hangs up.
            auto c3 = p.message();
            if (!(c3.flags & kNoReplyExpected)) throw Error("no-reply flag missing");
            ::close(fd);
        } catch (const std::exception& e) {
            peer_problem = e.what();
            ::close(fd);
        }
    });
    {
        Connection c{UniqueFd(sv[0])};
        auto ping = Message::method_call("org.example", "/", "org.example.Test", "Ping");
        ping.arg(Value::str("hello"));
        auto r = c.call(ping, 5000);
        STR_EQ(r.args().at(0).as_str().c_str(), "pong");

        try {
            c.call(Message::method_call("org.example", "/", "org.example.Test", "Stop"), 5000);
            cr_assert_fail("an error reply did not throw");
        } catch (const Error& e) {
            cr_assert_eq(e.err(), ENOENT);
            STR_EQ(e.what(), "org.freedesktop.systemd1.NoSuchUnit: Unit x.scope not loaded.");
        }
        // The signal that came during the first call was kept; it is not job 2.
        auto job = [](const std::string& path) {
            return [path](const Message& m) { return m.member == "JobRemoved" && m.args().at(1).as_str() == path; };
        };
        auto s = c.wait_signal(job("/org/freedesktop/systemd1/job/2"), 5000);
        STR_EQ(s.args().at(3).as_str().c_str(), "failed");
        c.send(Message::method_call("org.example", "/", "org.example.Test", "Bye"));
        // The peer closed: a wait ends with ECONNRESET, not a hang.
        try {
            c.wait_signal(job("/never"), 5000);
            cr_assert_fail("wait on a closed connection did not throw");
        } catch (const Error& e) {
            cr_assert_eq(e.err(), ECONNRESET, "%s", e.what());
        }
    }
    peer.join();
    cr_assert(peer_problem.empty(), "peer: %s", peer_problem.c_str());
}

Test(dbus, client_auth_refused_and_timeout) {
    int sv[2];
    cr_assert_eq(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    std::thread peer([fd = sv[1]] {
        Peer p{fd, {}};
        p.line();
        p.write("REJECTED EXTERNAL\r\n");
        ::close(fd);
    });
    auto why = error_of([&] { Connection c{UniqueFd(sv[0])}; });
    peer.join();
    cr_assert(why.find("REJECTED") != std::string::npos, "%s", why.c_str());

    // A peer that never answers: the call times out.
    cr_assert_eq(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    std::thread silent([fd = sv[1]] {
        Peer p{fd, {}};
        p.line();
        p.write("OK 0123456789abcdef0123456789abcdef\r\n");
        p.line();
        p.message();
        char c;
        while (::read(fd, &c, 1) > 0) {
        }
        ::close(fd);
    });
    int err = 0;
    {
        Connection c{UniqueFd(sv[0])};
        try {
            c.call(Message::method_call("org.example", "/", "org.example.Test", "Ping"), 100);
        } catch (const Error& e) {
            err = e.err();
        }
    }
    silent.join();
    cr_assert_eq(err, ETIMEDOUT);
}

// ---- a real bus, when the host has dbus-daemon ---------------------------

Test(dbus, real_dbus_daemon) {
    if (::access("/usr/bin/dbus-daemon", X_OK) != 0) cr_skip_test("no /usr/bin/dbus-daemon");
    char dir[] = "/tmp/berth-dbus-test.XXXXXX";
    cr_assert_not_null(::mkdtemp(dir));
    std::string sock = std::string(dir) + "/bus";
    pid_t pid = ::fork();
    if (pid == 0) {
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 1);
        ::dup2(null, 2);
        std::string addr = "--address=unix:path=" + sock;
        ::execl("/usr/bin/dbus-daemon", "dbus-daemon", "--session", "--nofork", "--nopidfile", addr.c_str(), nullptr);
        _exit(127);
    }
    std::string problem;
    try {
        std::optional<Connection> c;
        for (int i = 0; i < 500 && !c; ++i) {
            try {
                c.emplace(Connection::connect(sock));
            } catch (const Error&) {
                ::usleep(10000);
            }
        }
        if (!c) throw Error("dbus-daemon did not come up at " + sock);
        auto name = c->hello();
        if (name.empty() || name[0] != ':') throw Error("Hello gave " + name);
        auto names = c->call(Message::method_call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                                  "ListNames")).args().at(0).items();
        bool found = false;
        for (const auto& n : names) found = found || n.as_str() == name;
        if (!found) throw Error("ListNames lacks our own name");
        // An error reply from the daemon.
        int err = 0;
        try {
            c->call(Message::method_call("org.example.Nobody", "/", "org.example.X", "Y"));
        } catch (const Error& e) {
            err = e.err();
        }
        if (err != ENOENT) throw Error("ServiceUnknown gave errno " + std::to_string(err));
        // A signal to ourselves through the daemon, every type on the way.
        auto match = Message::method_call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch");
        match.arg(Value::str("type='signal',interface='org.example.T'"));
        c->call(match);
        Message s;
        s.type = MessageType::signal;
        s.path = "/x";
        s.interface = "org.example.T";
        s.member = "Sig";
        s.arg(Value::str("hi"))
            .arg(Value::array("(sv)", {prop("a", Value::u64(7)), prop("b", Value::bytes({1, 2, 3}))}))
            .arg(Value::array("{sv}", {Value::dict_entry(Value::str("k"), Value::variant(Value::boolean(true)))}))
            .arg(Value::array("(sa(sv))", {}))
            .arg(Value::i64(-5)).arg(Value::byte(9)).arg(Value::i16(-2)).arg(Value::u16(3))
            .arg(Value::object_path("/a/b")).arg(Value::signature("a{sv}"));
        c->send(s);
        auto got = c->wait_signal([](const Message& m) { return m.member == "Sig"; }, 5000);
        if (got.sender != name) throw Error("signal sender " + got.sender);
        if (!(got.args() == s.args())) throw Error("signal arguments changed on the way");
    } catch (const std::exception& e) {
        problem = e.what();
    }
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
    ::unlink(sock.c_str());
    ::rmdir(dir);
    cr_assert(problem.empty(), "%s", problem.c_str());
}
