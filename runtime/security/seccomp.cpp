#include "seccomp.hpp"

#include "berth_config.h"
#include "error.hpp"
#include "json.hpp"
#include "terminal.hpp"

#include <seccomp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

namespace berth {

namespace {

struct ActionName {
    const char* name;
    uint32_t base;
    bool takes_errno;
};

const ActionName actions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false},
};

struct OpName {
    const char* name;
    scmp_compare op;
};

const OpName ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

const char* const archs[] = {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM",
                             "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
                             "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
                             "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
                             "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64"};

constexpr const char* kFlagTsync = "SECCOMP_FILTER_FLAG_TSYNC";
constexpr const char* kFlagLog = "SECCOMP_FILTER_FLAG_LOG";
constexpr const char* kFlagSpecAllow = "SECCOMP_FILTER_FLAG_SPEC_ALLOW";
constexpr const char* kFlagWaitKillable = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV";

uint32_t parse_action(const std::string& name, std::optional<uint32_t> errno_ret, const std::string& field) {
    for (const auto& a : actions) {
        if (name != a.name) continue;
        if (!a.takes_errno) return a.base;
        uint32_t e = errno_ret.value_or(EPERM);
        return name == "SCMP_ACT_ERRNO" ? SCMP_ACT_ERRNO(e) : SCMP_ACT_TRACE(e);
    }
    throw Error(EINVAL, field + ": unknown action \"" + name + "\"");
}

scmp_compare parse_op(const std::string& name, const std::string& field) {
    for (const auto& o : ops)
        if (name == o.name) return o.op;
    throw Error(EINVAL, field + ": unknown operator \"" + name + "\"");
}

uint32_t parse_arch(const std::string& name, const std::string& field) {
    std::string lower;
    if (name.rfind("SCMP_ARCH_", 0) == 0)
        for (char c : name.substr(10)) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    uint32_t a = lower.empty() ? 0 : seccomp_arch_resolve_name(lower.c_str());
    if (a == 0) throw Error(EINVAL, field + ": unknown architecture \"" + name + "\"");
    return a;
}

void check(int rc, const std::string& what) {
    if (rc < 0) throw Error(-rc, what, true);
}

} // namespace

std::unique_ptr<SeccompFilter> SeccompFilter::build(const spec::Seccomp& s,
                                                    const std::function<void(const std::string&)>& debug) {
    const std::string base = "linux.seccomp";
    if (s.defaultAction.empty()) throw Error(EINVAL, base + ".defaultAction: missing");
    uint32_t def = parse_action(s.defaultAction, s.defaultErrnoRet, base + ".defaultAction");
    scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx) throw Error(ENOMEM, base + ": seccomp_init failed");
    std::unique_ptr<SeccompFilter> f(new SeccompFilter(ctx));

    // no_new_privs is process.noNewPrivileges' decision, not libseccomp's.
    check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), base + ": clear NNP attribute");
    for (size_t i = 0; i < s.architectures.size(); ++i) {
        std::string field = base + ".architectures[" + std::to_string(i) + "]";
        int rc = seccomp_arch_add(ctx, parse_arch(s.architectures[i], field));
        if (rc < 0 && rc != -EEXIST) check(rc, field);
    }
    for (size_t i = 0; i < s.flags.size(); ++i) {
        const auto& fl = s.flags[i];
        std::string field = base + ".flags[" + std::to_string(i) + "]";
        if (fl == kFlagTsync) check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1), field);
        else if (fl == kFlagLog) check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1), field);
        else if (fl == kFlagSpecAllow) check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1), field);
        else if (fl == kFlagWaitKillable)
            throw Error(ENOTSUP, field + ": " + fl + " is not supported by this libseccomp");
        else throw Error(EINVAL, field + ": unknown flag \"" + fl + "\"");
    }
    f->notify_ = def == SCMP_ACT_NOTIFY;

    for (size_t i = 0; i < s.syscalls.size(); ++i) {
        const auto& sc = s.syscalls[i];
        std::string field = base + ".syscalls[" + std::to_string(i) + "]";
        uint32_t act = parse_action(sc.action, sc.errnoRet, field + ".action");
        std::vector<scmp_arg_cmp> args;
        bool repeated_index = false;
        for (size_t j = 0; j < sc.args.size(); ++j) {
            const auto& a = sc.args[j];
            std::string af = field + ".args[" + std::to_string(j) + "]";
            if (a.index > 5) throw Error(EINVAL, af + ".index: must be 0-5");
            scmp_arg_cmp c{a.index, parse_op(a.op, af + ".op"), a.value, a.valueTwo};
            for (const auto& prev : args) repeated_index = repeated_index || prev.arg == c.arg;
            args.push_back(c);
        }
        if (act == def) continue;   // libseccomp refuses rules that repeat the default
        if (act == SCMP_ACT_NOTIFY) f->notify_ = true;
        for (const auto& name : sc.names) {
            int nr = seccomp_syscall_resolve_name(name.c_str());
            if (nr == __NR_SCMP_ERROR) {
                debug(field + ": unknown syscall \"" + name + "\" skipped");
                continue;
            }
            // One rule ANDs its conditions, but not several on one argument:
            // those become one rule each (an OR), as runc builds them.
            if (repeated_index) {
                for (const auto& c : args)
                    check(seccomp_rule_add_array(ctx, act, nr, 1, &c), field + " (" + name + ")");
            } else {
                check(seccomp_rule_add_array(ctx, act, nr, static_cast<unsigned>(args.size()), args.data()),
                      field + " (" + name + ")");
            }
        }
    }
    if (f->notify_ && s.listenerPath.empty())
        throw Error(EINVAL, base + ".listenerPath: required with SCMP_ACT_NOTIFY");
    return f;
}

SeccompFilter::~SeccompFilter() { seccomp_release(static_cast<scmp_filter_ctx>(ctx_)); }

void SeccompFilter::load() const {
    int rc = seccomp_load(static_cast<scmp_filter_ctx>(ctx_));
    if (rc < 0) throw Error(-rc, "linux.seccomp: load filter", true);
}

UniqueFd SeccompFilter::notify_fd() const {
    int fd = seccomp_notify_fd(static_cast<scmp_filter_ctx>(ctx_));
    if (fd < 0) throw Error(-fd, "linux.seccomp: notify fd", true);
    return UniqueFd(fd);
}

const std::vector<std::string>& seccomp_action_names() {
    static const std::vector<std::string> v = [] {
        std::vector<std::string> out;
        for (const auto& a : actions) out.push_back(a.name);
        return out;
    }();
    return v;
}

const std::vector<std::string>& seccomp_operator_names() {
    static const std::vector<std::string> v = [] {
        std::vector<std::string> out;
        for (const auto& o : ops) out.push_back(o.name);
        return out;
    }();
    return v;
}

const std::vector<std::string>& seccomp_arch_names() {
    static const std::vector<std::string> v(std::begin(archs), std::end(archs));
    return v;
}

const std::vector<std::string>& seccomp_known_flags() {
    static const std::vector<std::string> v = {kFlagTsync, kFlagSpecAllow, kFlagLog, kFlagWaitKillable};
    return v;
}

std::vector<std::string> seccomp_supported_flags() { return {kFlagTsync, kFlagSpecAllow, kFlagLog}; }

void send_to_seccomp_listener(const spec::Seccomp& s, int notify_fd, const std::string& state_json, pid_t pid) {
    const std::string field = "linux.seccomp.listenerPath";
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (s.listenerPath.size() >= sizeof addr.sun_path) throw Error(EINVAL, field + ": path too long");
    std::memcpy(addr.sun_path, s.listenerPath.c_str(), s.listenerPath.size() + 1);
    UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) throw_errno(field + ": socket");
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        throw_errno(field + ": connect " + s.listenerPath);
    // The spec's container process state: the fds it carries, by name.
    json::Writer w;
    w.begin_object()
        .kv("ociVersion", BERTH_OCI_VERSION)
        .key("fds").string_array({"seccompFd"})
        .kv("pid", static_cast<int64_t>(pid))
        .kv("metadata", s.listenerMetadata);
    std::string text = w.str();
    text.pop_back();   // splice the state object in before the closing brace
    text += ",\"state\":" + state_json + "}";
    send_fd(sock.get(), notify_fd, text);
}

} // namespace berth
