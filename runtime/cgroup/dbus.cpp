// A minimal D-Bus client (see dbus.hpp for why berth has its own): the wire
// format from the D-Bus specification, SASL EXTERNAL, calls and signals.
#include "dbus.hpp"

#include "error.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <bit>
#include <chrono>
#include <cstring>

namespace berth::dbus {

namespace {

[[noreturn]] void protocol_error(const std::string& what) { throw Error(EPROTO, "D-Bus: " + what); }

constexpr size_t kMaxArray = 64u << 20;     // the specification's limits
constexpr size_t kMaxMessage = 128u << 20;
constexpr int kMaxDepth = 64;               // 32 arrays + 32 structs

size_t align_of(char t) {
    switch (t) {
    case 'y': case 'g': case 'v': return 1;
    case 'n': case 'q': return 2;
    case 'b': case 'i': case 'u': case 'h': case 's': case 'o': case 'a': return 4;
    case 'x': case 't': case 'd': case '(': case '{': return 8;
    }
    protocol_error(std::string("unknown type code '") + t + "'");
}

bool is_basic(char t) { return std::strchr("ybnqiuxtdhsog", t) != nullptr && t != '\0'; }

// dict_ok: a dict entry may stand here (right after an array's 'a').
size_t type_end(std::string_view sig, size_t pos, int arrays, int structs, bool dict_ok) {
    if (pos >= sig.size()) protocol_error("signature \"" + std::string(sig) + "\" ends early");
    char t = sig[pos];
    if (is_basic(t) || t == 'v') return pos + 1;
    if (t == 'a') {
        if (arrays >= 32) protocol_error("signature nests arrays too deep");
        return type_end(sig, pos + 1, arrays + 1, structs, true);
    }
    if (t == '(' || t == '{') {
        if (t == '{' && !dict_ok) protocol_error("dict entry outside an array in signature \"" + std::string(sig) + "\"");
        if (structs >= 32) protocol_error("signature nests structs too deep");
        char close = t == '(' ? ')' : '}';
        size_t p = pos + 1, n = 0;
        if (t == '{' && (p >= sig.size() || !is_basic(sig[p]))) protocol_error("dict entry key must be a basic type");
        while (p < sig.size() && sig[p] != close) {
            p = type_end(sig, p, arrays, structs + 1, false);
            ++n;
        }
        if (p >= sig.size()) protocol_error("unterminated struct or dict entry in signature \"" + std::string(sig) + "\"");
        if (t == '(' && n == 0) protocol_error("empty struct in signature");
        if (t == '{' && n != 2) protocol_error("dict entry must hold two types");
        return p + 1;
    }
    protocol_error("invalid signature \"" + std::string(sig) + "\"");
}

void pad_to(std::string& out, size_t a) {
    while (out.size() % a) out.push_back('\0');
}

static_assert(std::endian::native == std::endian::little, "berth writes D-Bus messages little-endian");

template <class T>
void put(std::string& out, T v) {
    pad_to(out, sizeof(T));
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
}

class Reader {
public:
    Reader(std::string_view d, bool be) : d_(d), be_(be) {}

    size_t pos() const { return pos_; }
    bool at_end() const { return pos_ == d_.size(); }

    void align(size_t a) {
        while (pos_ % a) {
            if (pos_ >= d_.size()) protocol_error("message truncated");
            if (d_[pos_] != '\0') protocol_error("non-zero padding");
            ++pos_;
        }
    }

    uint64_t uint(size_t n) {
        align(n);
        if (d_.size() - pos_ < n) protocol_error("message truncated");
        uint64_t v = 0;
        for (size_t i = 0; i < n; ++i) {
            uint64_t b = static_cast<unsigned char>(d_[pos_ + i]);
            v |= be_ ? b << (8 * (n - 1 - i)) : b << (8 * i);
        }
        pos_ += n;
        return v;
    }

    std::string text(size_t len_size) {
        size_t len = len_size == 1 ? uint(1) : uint(4);
        if (d_.size() - pos_ < len + 1) protocol_error("string runs past the message");
        std::string s(d_.substr(pos_, len));
        if (d_[pos_ + len] != '\0') protocol_error("string without its terminating NUL");
        if (s.find('\0') != std::string::npos) protocol_error("string with an embedded NUL");
        pos_ += len + 1;
        return s;
    }

    Value value(std::string_view sig, int depth) {
        if (depth > kMaxDepth) protocol_error("values nest too deep");
        char t = sig[0];
        switch (t) {
        case 'y': return Value::byte(static_cast<uint8_t>(uint(1)));
        case 'b': {
            auto v = uint(4);
            if (v > 1) protocol_error("boolean value " + std::to_string(v));
            return Value::boolean(v == 1);
        }
        case 'n': return Value::i16(static_cast<int16_t>(uint(2)));
        case 'q': return Value::u16(static_cast<uint16_t>(uint(2)));
        case 'i': return Value::i32(static_cast<int32_t>(uint(4)));
        case 'u': case 'h': return Value::u32(static_cast<uint32_t>(uint(4)));
        case 'x': return Value::i64(static_cast<int64_t>(uint(8)));
        case 't': case 'd': return Value::u64(uint(8));
        case 's': return Value::str(text(4));
        case 'o': return Value::object_path(text(4));
        case 'g': return Value::signature(text(1));
        case 'v': {
            std::string inner = text(1);
            check_signature(inner);
            if (inner.empty() || complete_type_end(inner) != inner.size())
                protocol_error("variant signature \"" + inner + "\" is not one complete type");
            return Value::variant(value(inner, depth + 1));
        }
        case 'a': {
            size_t len = uint(4);
            if (len > kMaxArray) protocol_error("array of " + std::to_string(len) + " bytes");
            std::string_view elem = sig.substr(1, complete_type_end(sig, 1) - 1);
            align(align_of(elem[0]));
            if (d_.size() - pos_ < len) protocol_error("array runs past the message");
            size_t end = pos_ + len;
            std::vector<Value> items;
            while (pos_ < end) items.push_back(value(elem, depth + 1));
            if (pos_ != end) protocol_error("array element runs past the array");
            return Value::array(std::string(elem), std::move(items));
        }
        case '(': case '{': {
            align(8);
            std::vector<Value> fields;
            size_t p = 1;
            size_t close = complete_type_end(sig) - 1;
            while (p < close) {
                size_t e = complete_type_end(sig, p);
                fields.push_back(value(sig.substr(p, e - p), depth + 1));
                p = e;
            }
            if (t == '{') return Value::dict_entry(std::move(fields.at(0)), std::move(fields.at(1)));
            return Value::structure(std::move(fields));
        }
        }
        protocol_error(std::string("unknown type code '") + t + "'");
    }

private:
    std::string_view d_;
    bool be_;
    size_t pos_ = 0;
};

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string hex(std::string_view s) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

} // namespace

// ---- Value ---------------------------------------------------------------

Value Value::basic(const char* sig, uint64_t v) {
    Value x;
    x.sig_ = sig;
    x.num_ = v;
    return x;
}

Value Value::text(const char* sig, std::string v) {
    if (v.find('\0') != std::string::npos) throw Error(EINVAL, "D-Bus: string with an embedded NUL");
    Value x;
    x.sig_ = sig;
    x.str_ = std::move(v);
    return x;
}

Value Value::signature(std::string v) {
    check_signature(v);
    return text("g", std::move(v));
}

Value Value::array(std::string elem_sig, std::vector<Value> items) {
    if (elem_sig.empty() || complete_type_end(elem_sig) != elem_sig.size())
        throw Error(EINVAL, "D-Bus: array element signature \"" + elem_sig + "\" is not one complete type");
    for (const auto& i : items)
        if (i.sig_ != elem_sig)
            throw Error(EINVAL, "D-Bus: array of \"" + elem_sig + "\" given an element of \"" + i.sig_ + "\"");
    Value x;
    x.sig_ = "a" + elem_sig;
    check_signature(x.sig_);
    x.items_ = std::move(items);
    return x;
}

Value Value::bytes(const std::vector<uint8_t>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (auto b : v) items.push_back(byte(b));
    return array("y", std::move(items));
}

Value Value::strings(const std::vector<std::string>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (const auto& s : v) items.push_back(str(s));
    return array("s", std::move(items));
}

Value Value::structure(std::vector<Value> fields) {
    if (fields.empty()) throw Error(EINVAL, "D-Bus: empty struct");
    Value x;
    x.sig_ = "(";
    for (const auto& f : fields) x.sig_ += f.sig_;
    x.sig_ += ")";
    check_signature(x.sig_);
    x.items_ = std::move(fields);
    return x;
}

Value Value::dict_entry(Value key, Value value) {
    if (!is_basic(key.type())) throw Error(EINVAL, "D-Bus: dict entry key of type \"" + key.sig_ + "\"");
    Value x;
    x.sig_ = "{" + key.sig_ + value.sig_ + "}";
    x.items_.push_back(std::move(key));
    x.items_.push_back(std::move(value));
    return x;
}

Value Value::variant(Value inner) {
    check_signature(inner.sig_);
    Value x;
    x.sig_ = "v";
    x.items_.push_back(std::move(inner));
    return x;
}

void Value::expect(std::string_view types, const char* what) const {
    if (types.find(type()) == std::string_view::npos)
        throw Error(EPROTO, std::string("D-Bus: expected ") + what + ", got a value of type \"" + sig_ + "\"");
}

bool Value::as_bool() const {
    expect("b", "a boolean");
    return num_ != 0;
}
uint64_t Value::as_u64() const {
    expect("yqutb", "an unsigned integer");
    return num_;
}
int64_t Value::as_i64() const {
    expect("nix", "a signed integer");
    return static_cast<int64_t>(num_);
}
const std::string& Value::as_str() const {
    expect("sog", "a string");
    return str_;
}
const std::vector<Value>& Value::items() const {
    expect("a({", "an array or struct");
    return items_;
}
const Value& Value::inner() const {
    expect("v", "a variant");
    return items_.front();
}

// ---- signatures and the wire format -------------------------------------

size_t complete_type_end(std::string_view sig, size_t pos) { return type_end(sig, pos, 0, 0, true); }

void check_signature(std::string_view sig) {
    if (sig.size() > 255) protocol_error("signature longer than 255 bytes");
    for (size_t p = 0; p < sig.size();) p = type_end(sig, p, 0, 0, false);
}

void marshal(std::string& out, const Value& v) {
    switch (v.type()) {
    case 'y': out.push_back(static_cast<char>(v.as_u64())); return;
    case 'b': put<uint32_t>(out, v.as_bool() ? 1 : 0); return;
    case 'n': put<int16_t>(out, static_cast<int16_t>(v.as_i64())); return;
    case 'q': put<uint16_t>(out, static_cast<uint16_t>(v.as_u64())); return;
    case 'i': put<int32_t>(out, static_cast<int32_t>(v.as_i64())); return;
    case 'u': put<uint32_t>(out, static_cast<uint32_t>(v.as_u64())); return;
    case 'x': put<int64_t>(out, v.as_i64()); return;
    case 't': put<uint64_t>(out, v.as_u64()); return;
    case 's': case 'o': {
        const auto& s = v.as_str();
        put<uint32_t>(out, static_cast<uint32_t>(s.size()));
        out.append(s);
        out.push_back('\0');
        return;
    }
    case 'g': {
        const auto& s = v.as_str();
        out.push_back(static_cast<char>(s.size()));
        out.append(s);
        out.push_back('\0');
        return;
    }
    case 'v': {
        const auto& in = v.inner();
        out.push_back(static_cast<char>(in.sig().size()));
        out.append(in.sig());
        out.push_back('\0');
        marshal(out, in);
        return;
    }
    case 'a': {
        pad_to(out, 4);
        size_t len_at = out.size();
        out.append(4, '\0');
        // The length counts the elements only, not the padding before the first.
        pad_to(out, align_of(v.sig()[1]));
        size_t start = out.size();
        for (const auto& i : v.items()) marshal(out, i);
        size_t len = out.size() - start;
        if (len > kMaxArray) throw Error(E2BIG, "D-Bus: array of " + std::to_string(len) + " bytes");
        uint32_t l = static_cast<uint32_t>(len);
        std::memcpy(&out[len_at], &l, 4);
        return;
    }
    case '(': case '{':
        pad_to(out, 8);
        for (const auto& f : v.items()) marshal(out, f);
        return;
    }
    throw Error(EINVAL, "D-Bus: cannot marshal a value of type \"" + v.sig() + "\"");
}

std::vector<Value> unmarshal(std::string_view data, std::string_view signature, bool big_endian) {
    check_signature(signature);
    Reader r(data, big_endian);
    std::vector<Value> out;
    for (size_t p = 0; p < signature.size();) {
        size_t e = complete_type_end(signature, p);
        out.push_back(r.value(signature.substr(p, e - p), 0));
        p = e;
    }
    if (!r.at_end()) protocol_error(std::to_string(data.size() - r.pos()) + " bytes after the body's values");
    return out;
}

// ---- messages --------------------------------------------------------------

namespace {

enum Field : uint8_t { kPath = 1, kInterface, kMember, kErrorName, kReplySerial, kDestination, kSender, kSignature, kUnixFds };

} // namespace

Message Message::method_call(std::string destination, std::string path, std::string interface, std::string member) {
    Message m;
    m.type = MessageType::method_call;
    m.destination = std::move(destination);
    m.path = std::move(path);
    m.interface = std::move(interface);
    m.member = std::move(member);
    return m;
}

Message& Message::arg(const Value& v) {
    marshal(body, v);
    signature += v.sig();
    return *this;
}

std::vector<Value> Message::args() const { return unmarshal(body, signature, big_endian); }

std::string Message::error_text() const {
    std::string text = error_name.empty() ? "D-Bus error" : error_name;
    if (!signature.empty() && signature[0] == 's') {
        try {
            auto a = args();
            text += ": " + a.at(0).as_str();
        } catch (const Error&) {
        }
    }
    return text;
}

std::string encode(const Message& m) {
    if (m.serial == 0) throw Error(EINVAL, "D-Bus: message without a serial");
    std::vector<Value> fields;
    auto field = [&](Field code, Value v) {
        fields.push_back(Value::structure({Value::byte(code), Value::variant(std::move(v))}));
    };
    if (!m.path.empty()) field(kPath, Value::object_path(m.path));
    if (!m.interface.empty()) field(kInterface, Value::str(m.interface));
    if (!m.member.empty()) field(kMember, Value::str(m.member));
    if (!m.error_name.empty()) field(kErrorName, Value::str(m.error_name));
    if (m.reply_serial) field(kReplySerial, Value::u32(m.reply_serial));
    if (!m.destination.empty()) field(kDestination, Value::str(m.destination));
    if (!m.sender.empty()) field(kSender, Value::str(m.sender));
    if (!m.signature.empty()) field(kSignature, Value::signature(m.signature));
    if (m.unix_fds) field(kUnixFds, Value::u32(m.unix_fds));

    std::string out;
    out.push_back('l');
    out.push_back(static_cast<char>(m.type));
    out.push_back(static_cast<char>(m.flags));
    out.push_back(1);   // protocol version
    put<uint32_t>(out, static_cast<uint32_t>(m.body.size()));
    put<uint32_t>(out, m.serial);
    marshal(out, Value::array("(yv)", std::move(fields)));
    pad_to(out, 8);
    out += m.body;
    if (out.size() > kMaxMessage) throw Error(E2BIG, "D-Bus: message of " + std::to_string(out.size()) + " bytes");
    return out;
}

size_t message_size(std::string_view h) {
    if (h.size() < 16) protocol_error("short header");
    bool be = h[0] == 'B';
    if (h[0] != 'l' && !be) protocol_error("bad endianness byte");
    if (h[3] != 1) protocol_error("protocol version " + std::to_string(static_cast<unsigned char>(h[3])));
    Reader r(h, be);
    r.uint(4);
    uint64_t body = r.uint(4);
    r.uint(4);
    uint64_t fields = r.uint(4);
    if (body > kMaxMessage || fields > kMaxArray) protocol_error("message too large");
    uint64_t total = 16 + ((fields + 7) & ~uint64_t(7)) + body;
    if (total > kMaxMessage) protocol_error("message too large");
    return static_cast<size_t>(total);
}

Message decode(std::string_view bytes) {
    size_t size = message_size(bytes);
    if (bytes.size() != size) protocol_error("message of " + std::to_string(bytes.size()) + " bytes, header says " + std::to_string(size));
    Message m;
    m.big_endian = bytes[0] == 'B';
    m.type = static_cast<MessageType>(bytes[1]);
    m.flags = static_cast<uint8_t>(bytes[2]);
    Reader r(bytes, m.big_endian);
    r.uint(4);
    uint64_t body_len = r.uint(4);
    m.serial = static_cast<uint32_t>(r.uint(4));
    if (m.serial == 0) protocol_error("message with serial 0");
    Value fields = r.value("a(yv)", 0);
    r.align(8);
    for (const auto& f : fields.items()) {
        auto code = f.items()[0].as_u64();
        const Value& v = f.items()[1].inner();
        auto want = [&](char t) {
            if (v.type() != t) protocol_error("header field " + std::to_string(code) + " of type \"" + v.sig() + "\"");
        };
        switch (code) {
        case kPath: want('o'); m.path = v.as_str(); break;
        case kInterface: want('s'); m.interface = v.as_str(); break;
        case kMember: want('s'); m.member = v.as_str(); break;
        case kErrorName: want('s'); m.error_name = v.as_str(); break;
        case kReplySerial: want('u'); m.reply_serial = static_cast<uint32_t>(v.as_u64()); break;
        case kDestination: want('s'); m.destination = v.as_str(); break;
        case kSender: want('s'); m.sender = v.as_str(); break;
        case kSignature: want('g'); m.signature = v.as_str(); break;
        case kUnixFds: want('u'); m.unix_fds = static_cast<uint32_t>(v.as_u64()); break;
        default: break;   // unknown fields are ignored, as the specification says
        }
    }
    if (bytes.size() - r.pos() != body_len) protocol_error("body length mismatch");
    m.body = std::string(bytes.substr(r.pos()));
    switch (m.type) {
    case MessageType::method_call:
        if (m.path.empty() || m.member.empty()) protocol_error("method call without path or member");
        break;
    case MessageType::method_return:
        if (!m.reply_serial) protocol_error("method return without reply serial");
        break;
    case MessageType::error:
        if (!m.reply_serial || m.error_name.empty()) protocol_error("error without reply serial or name");
        break;
    case MessageType::signal:
        if (m.path.empty() || m.interface.empty() || m.member.empty()) protocol_error("signal without path, interface or member");
        break;
    default: break;   // unknown types are ignored by the reader
    }
    if (m.body.empty() != m.signature.empty() && !m.body.empty()) protocol_error("body without a signature");
    return m;
}

int errno_for(std::string_view name) {
    struct { const char* name; int err; } map[] = {
        {"org.freedesktop.DBus.Error.AccessDenied", EACCES},
        {"org.freedesktop.DBus.Error.AuthFailed", EACCES},
        {"org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", EACCES},
        {"org.freedesktop.DBus.Error.ServiceUnknown", ENOENT},
        {"org.freedesktop.DBus.Error.NameHasNoOwner", ENOENT},
        {"org.freedesktop.DBus.Error.UnknownMethod", EOPNOTSUPP},
        {"org.freedesktop.DBus.Error.UnknownInterface", EOPNOTSUPP},
        {"org.freedesktop.DBus.Error.UnknownObject", ENOENT},
        {"org.freedesktop.DBus.Error.UnknownProperty", ENOENT},
        {"org.freedesktop.DBus.Error.PropertyReadOnly", EPERM},
        {"org.freedesktop.DBus.Error.InvalidArgs", EINVAL},
        {"org.freedesktop.DBus.Error.NoMemory", ENOMEM},
        {"org.freedesktop.DBus.Error.Timeout", ETIMEDOUT},
        {"org.freedesktop.DBus.Error.NoReply", ETIMEDOUT},
        {"org.freedesktop.DBus.Error.Disconnected", ECONNRESET},
        {"org.freedesktop.DBus.Error.LimitsExceeded", EAGAIN},
        {"org.freedesktop.DBus.Error.NotSupported", EOPNOTSUPP},
        {"org.freedesktop.systemd1.NoSuchUnit", ENOENT},
        {"org.freedesktop.systemd1.LoadFailed", ENOENT},
        {"org.freedesktop.systemd1.UnitExists", EEXIST},
        {"org.freedesktop.systemd1.NoSuchJob", ENOENT},
        {"org.freedesktop.systemd1.UnitMasked", EPERM},
        {"org.freedesktop.systemd1.TransactionIsDestructive", EBUSY},
        {"org.freedesktop.systemd1.JobTypeNotApplicable", EINVAL},
        {"org.freedesktop.systemd1.NoIsolation", EINVAL},
        {"org.freedesktop.systemd1.ShuttingDown", ECANCELED},
    };
    for (const auto& e : map)
        if (name == e.name) return e.err;
    // sd-bus names plain errnos "System.Error.ENOENT" and the like.
    if (name.starts_with("System.Error.")) {
        struct { const char* n; int e; } sys[] = {{"ENOENT", ENOENT}, {"EEXIST", EEXIST}, {"EINVAL", EINVAL},
                                                  {"EPERM", EPERM}, {"EACCES", EACCES}, {"EBUSY", EBUSY},
                                                  {"ENOMEM", ENOMEM}, {"EOPNOTSUPP", EOPNOTSUPP}, {"ENXIO", ENXIO}};
        for (const auto& e : sys)
            if (name.substr(13) == e.n) return e.e;
    }
    return EIO;
}

// ---- the connection --------------------------------------------------------

Connection Connection::connect(const std::string& path) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) throw Error(ENAMETOOLONG, "connect " + path + ": path too long");
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("D-Bus: socket");
    while (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
        if (errno != EINTR) throw_errno("connect " + path);
    return with_context(path, [&] { return Connection(std::move(fd)); });
}

Connection::Connection(UniqueFd fd, int timeout_ms) : fd_(std::move(fd)) {
    // The NUL byte first (it carries credentials on some systems), then
    // EXTERNAL with our uid in hex digits of its decimal text. BEGIN goes
    // in the same write, before the OK, as sd-bus clients send it: systemd's
    // private socket (v252) never reads a message that reaches it in the
    // same read as BEGIN, so BEGIN must not follow the OK with a call behind it.
    std::string uid = std::to_string(::geteuid());
    write_all(std::string(1, '\0') + "AUTH EXTERNAL " + hex(uid) + "\r\nBEGIN\r\n");
    int64_t deadline = now_ms() + timeout_ms;
    std::string line = read_line(deadline);
    if (!line.starts_with("OK ")) throw Error(EACCES, "D-Bus authentication refused: " + line);
}

void Connection::write_all(std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("D-Bus: write");
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
}

void Connection::fill(int64_t deadline) {
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) throw Error(ETIMEDOUT, "D-Bus: timed out waiting for the peer");
            wait = static_cast<int>(left);
        }
        pollfd p{fd_.get(), POLLIN, 0};
        int r = ::poll(&p, 1, wait);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw_errno("D-Bus: poll");
        }
        if (r == 0) continue;   // the deadline check above throws
        char chunk[16384];
        ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            throw_errno("D-Bus: read");
        }
        if (n == 0) throw Error(ECONNRESET, "D-Bus: connection closed by the peer");
        buf_.append(chunk, static_cast<size_t>(n));
        return;
    }
}

std::string Connection::read_line(int64_t deadline) {
    for (;;) {
        auto nl = buf_.find("\r\n");
        if (nl != std::string::npos) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 2);
            return line;
        }
        if (buf_.size() > 16384) throw Error(EPROTO, "D-Bus: authentication line too long");
        fill(deadline);
    }
}

Message Connection::read_message(int64_t deadline) {
    while (buf_.size() < 16) fill(deadline);
    size_t size = message_size(std::string_view(buf_).substr(0, 16));
    while (buf_.size() < size) fill(deadline);
    Message m = decode(std::string_view(buf_).substr(0, size));
    buf_.erase(0, size);
    return m;
}

std::string Connection::hello() {
    auto r = call(Message::method_call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello"));
    return r.args().at(0).as_str();
}

uint32_t Connection::send(Message m) {
    m.serial = ++serial_;
    if (m.type == MessageType::method_call) m.flags |= kNoReplyExpected;
    write_all(encode(m));
    return m.serial;
}

Message Connection::call(Message m, int timeout_ms) {
    m.serial = ++serial_;
    write_all(encode(m));
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    std::string what = m.interface + "." + m.member;
    for (;;) {
        Message r = with_context(what, [&] { return read_message(deadline); });
        if (r.type == MessageType::signal) {
            if (signals_.size() >= 4096) signals_.pop_front();   // a peer flooding us: keep the newest
            signals_.push_back(std::move(r));
            continue;
        }
        if (r.reply_serial != m.serial) continue;   // a late reply to an earlier send
        if (r.type == MessageType::error) throw Error(errno_for(r.error_name), r.error_text());
        if (r.type == MessageType::method_return) return r;
    }
}

Message Connection::wait_signal(const std::function<bool(const Message&)>& match, int timeout_ms) {
    while (!signals_.empty()) {
        Message s = std::move(signals_.front());
        signals_.pop_front();
        if (match(s)) return s;
    }
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        Message r = read_message(deadline);
        if (r.type == MessageType::signal && match(r)) return r;
    }
}

} // namespace berth::dbus
