#include "seccomp.hpp"

#include "berth_config.h"
#include "error.hpp"
#include "json.hpp"
#include "terminal.hpp"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>

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

// ---- the ENOSYS stub (runc's libcontainer/seccomp/patchbpf rules) ----------

// Defaults that let a syscall run (or leave it to a tracer) get no stub.
bool permissive(uint32_t def) {
    uint32_t act = def & SECCOMP_RET_ACTION_FULL;
    return def == SCMP_ACT_ALLOW || def == SCMP_ACT_LOG || act == SECCOMP_RET_TRACE;
}

// x86_64 and x32 share one AUDIT_ARCH value (x32 sets bit 30 of the
// syscall number); libseccomp gives x32 a token of its own.
uint32_t audit_arch(uint32_t token) { return token == SCMP_ARCH_X32 ? SCMP_ARCH_X86_64 : token; }
constexpr uint32_t kX32Bit = 0x40000000;

// The largest syscall number the profile names, per architecture token
// (every rule counts, whatever its action; unknown names do not).
std::map<uint32_t, uint32_t> last_syscalls(const spec::Seccomp& s, const std::vector<uint32_t>& tokens) {
    std::map<uint32_t, uint32_t> last;
    for (uint32_t t : tokens) {
        uint32_t max = 0;
        for (const auto& sc : s.syscalls)
            for (const auto& name : sc.names) {
                int nr = seccomp_syscall_resolve_name_arch(t, name.c_str());
                if (nr >= 0 && static_cast<uint32_t>(nr) > max) max = static_cast<uint32_t>(nr);
            }
        if (max) last[t] = max;
    }
    return last;
}

// A small forward-only assembler: jump targets are instruction indices,
// or the two exits of the stub.
class Stub {
public:
    static constexpr int kEnosys = -1;   // return ENOSYS
    static constexpr int kFilter = -2;   // fall into libseccomp's program

    size_t size() const { return ins_.size(); }
    size_t stmt(uint16_t code, uint32_t k) { return add({code, k, 0, 0, false}); }
    size_t jump(uint16_t code, uint32_t k, int jt, int jf) { return add({code, k, jt, jf, true}); }
    size_t ja(int target) { return add({BPF_JMP | BPF_JA, 0, target, 0, true}); }
    void retarget(size_t at, int jt) { ins_[at].jt = jt; }

    std::vector<sock_filter> assemble() {
        size_t enosys = ins_.size(), filter = enosys + 1;
        std::vector<sock_filter> out;
        auto off = [&](size_t i, int target) {
            size_t to = target == kEnosys ? enosys : target == kFilter ? filter : static_cast<size_t>(target);
            if (to <= i) throw Error(EINVAL, "linux.seccomp: internal error: backward jump in the ENOSYS stub");
            return to - i - 1;
        };
        for (size_t i = 0; i < ins_.size(); ++i) {
            const auto& x = ins_[i];
            sock_filter f{x.code, 0, 0, x.k};
            if (x.jumps && BPF_OP(x.code) == BPF_JA) {
                f.k = static_cast<uint32_t>(off(i, x.jt));
            } else if (x.jumps) {
                size_t t = off(i, x.jt), e = off(i, x.jf);
                if (t > 255 || e > 255) throw Error(E2BIG, "linux.seccomp: ENOSYS stub too large");
                f.jt = static_cast<uint8_t>(t);
                f.jf = static_cast<uint8_t>(e);
            }
            out.push_back(f);
        }
        out.push_back(sock_filter{BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)});
        return out;
    }

private:
    struct Ins {
        uint16_t code;
        uint32_t k;
        int jt, jf;
        bool jumps;
    };
    size_t add(Ins i) {
        ins_.push_back(i);
        return ins_.size() - 1;
    }
    std::vector<Ins> ins_;
};

// Dispatch on the architecture, then per architecture: a syscall number
// above the profile's largest gets ENOSYS; all else (and any architecture
// not listed) goes on to libseccomp's program, which checks it again.
std::vector<sock_filter> enosys_stub(const std::map<uint32_t, uint32_t>& last) {
    std::map<uint32_t, std::map<uint32_t, uint32_t>> by_audit;   // audit arch -> token -> max
    for (const auto& [token, max] : last) by_audit[audit_arch(token)][token] = max;
    Stub st;
    st.stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
    std::vector<std::pair<size_t, uint32_t>> dispatch;
    for (const auto& [audit, maxes] : by_audit) {
        int next = static_cast<int>(st.size() + 1);
        dispatch.emplace_back(st.jump(BPF_JMP | BPF_JEQ | BPF_K, audit, next, next), audit);   // jt set below
    }
    st.ja(Stub::kFilter);
    for (auto& [at, audit] : dispatch) {
        const auto& maxes = by_audit[audit];
        size_t start = st.stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
        st.retarget(at, static_cast<int>(start));
        // s390 passes syscall numbers the kernel does not know as 0 (setup).
        if (audit == SCMP_ARCH_S390 || audit == SCMP_ARCH_S390X)
            st.jump(BPF_JMP | BPF_JEQ | BPF_K, 0, Stub::kEnosys, static_cast<int>(st.size() + 1));
        auto above = [&](uint32_t max) {
            st.jump(BPF_JMP | BPF_JGT | BPF_K, max, Stub::kEnosys, Stub::kFilter);
        };
        if (audit != SCMP_ARCH_X86_64) {
            above(maxes.begin()->second);
            continue;
        }
        auto x86 = maxes.find(SCMP_ARCH_X86_64), x32 = maxes.find(SCMP_ARCH_X32);
        if (x86 != maxes.end() && x32 != maxes.end()) {
            size_t j = st.jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, 0, static_cast<int>(st.size() + 1));
            above(x86->second);
            st.retarget(j, static_cast<int>(st.size()));
            above(x32->second);
        } else if (x86 != maxes.end()) {
            st.jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, Stub::kFilter, static_cast<int>(st.size() + 1));
            above(x86->second);
        } else {
            st.jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, static_cast<int>(st.size() + 1), Stub::kFilter);
            above(x32->second);
        }
    }
    return st.assemble();
}

// libseccomp's program, as it would load it.
std::vector<sock_filter> export_bpf(scmp_filter_ctx ctx) {
    UniqueFd mem(static_cast<int>(::syscall(SYS_memfd_create, "berth-seccomp", MFD_CLOEXEC)));
    if (!mem) throw_errno("linux.seccomp: memfd for the BPF program");
    check(seccomp_export_bpf(ctx, mem.get()), "linux.seccomp: export BPF");
    off_t len = ::lseek(mem.get(), 0, SEEK_END);
    if (len < 0 || len % sizeof(sock_filter)) throw Error(EINVAL, "linux.seccomp: exported BPF has a bad size");
    std::vector<sock_filter> prog(static_cast<size_t>(len) / sizeof(sock_filter));
    if (::pread(mem.get(), prog.data(), static_cast<size_t>(len), 0) != len) throw_errno("linux.seccomp: read BPF");
    return prog;
}


} // namespace

std::unique_ptr<SeccompFilter> SeccompFilter::build(const spec::Seccomp& s,
                                                    const std::function<void(const std::string&)>& debug) {
    const std::string base = "linux.seccomp";
    if (s.defaultAction.empty()) throw Error(EINVAL, base + ".defaultAction: missing");
    uint32_t def = parse_action(s.defaultAction, s.defaultErrnoRet, base + ".defaultAction");
    // Every syscall the init makes from the load to the exec would wait on
    // an agent that cannot have the listener yet (runc refuses it too).
    if (def == SCMP_ACT_NOTIFY)
        throw Error(EINVAL, base + ".defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    struct Ctx {
        scmp_filter_ctx c;
        ~Ctx() { seccomp_release(c); }
    } ctx{seccomp_init(def)};
    if (!ctx.c) throw Error(ENOMEM, base + ": seccomp_init failed");
    std::unique_ptr<SeccompFilter> f(new SeccompFilter());

    std::vector<uint32_t> tokens{seccomp_arch_native()};
    for (size_t i = 0; i < s.architectures.size(); ++i) {
        std::string field = base + ".architectures[" + std::to_string(i) + "]";
        uint32_t a = parse_arch(s.architectures[i], field);
        int rc = seccomp_arch_add(ctx.c, a);
        if (rc < 0 && rc != -EEXIST) check(rc, field);
        tokens.push_back(a);
    }
    bool tsync = false;
    for (size_t i = 0; i < s.flags.size(); ++i) {
        const auto& fl = s.flags[i];
        std::string field = base + ".flags[" + std::to_string(i) + "]";
        if (fl == kFlagTsync) tsync = true;
        else if (fl == kFlagLog) f->flags_ |= SECCOMP_FILTER_FLAG_LOG;
        else if (fl == kFlagSpecAllow) f->flags_ |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
        else if (fl == kFlagWaitKillable)
            throw Error(ENOTSUP, field + ": " + fl + " is not supported by this libseccomp");
        else throw Error(EINVAL, field + ": unknown flag \"" + fl + "\"");
    }

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
        if (act == SCMP_ACT_NOTIFY) {
            f->notify_ = true;
            // The init sends the listener to berth with sendmsg, then reports
            // ready with write: a notified one of those could never be answered.
            for (const auto& name : sc.names)
                if (name == "write" || name == "sendmsg")
                    throw Error(EINVAL, field + ": SCMP_ACT_NOTIFY cannot be used for the " + name + " syscall");
        }
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
                    check(seccomp_rule_add_array(ctx.c, act, nr, 1, &c), field + " (" + name + ")");
            } else {
                check(seccomp_rule_add_array(ctx.c, act, nr, static_cast<unsigned>(args.size()), args.data()),
                      field + " (" + name + ")");
            }
        }
    }
    if (f->notify_ && s.listenerPath.empty())
        throw Error(EINVAL, base + ".listenerPath: required with SCMP_ACT_NOTIFY");
    if (f->notify_) f->flags_ |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    // TSYNC matters only to a multi-threaded process, which the init is
    // not; the kernel refuses it beside NEW_LISTENER.
    else if (tsync) f->flags_ |= SECCOMP_FILTER_FLAG_TSYNC;

    std::vector<sock_filter> prog;
    bool skip_stub = permissive(def) || def == SCMP_ACT_ERRNO(ENOSYS);
    if (!skip_stub) prog = enosys_stub(last_syscalls(s, tokens));
    else debug(base + ": default action lets syscalls run; no ENOSYS stub");
    auto filter = export_bpf(ctx.c);
    prog.insert(prog.end(), filter.begin(), filter.end());
    if (prog.size() > BPF_MAXINSNS)
        throw Error(E2BIG, base + ": the filter has " + std::to_string(prog.size()) +
                               " BPF instructions; the kernel takes at most " + std::to_string(BPF_MAXINSNS));
    f->prog_.resize(prog.size());
    std::memcpy(f->prog_.data(), prog.data(), prog.size() * sizeof(sock_filter));
    return f;
}

UniqueFd SeccompFilter::load() const {
    static_assert(sizeof(sock_filter) == sizeof(uint64_t));
    sock_fprog fp{static_cast<unsigned short>(prog_.size()),
                  reinterpret_cast<sock_filter*>(const_cast<uint64_t*>(prog_.data()))};
    long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags_, &fp);
    if (rc < 0) throw_errno("linux.seccomp: load filter");
    return UniqueFd(notify_ ? static_cast<int>(rc) : -1);
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

std::string container_process_state_json(const spec::Seccomp& s, pid_t pid, const std::string& state_json) {
    json::Writer w;
    w.begin_object()
        .kv("ociVersion", BERTH_OCI_VERSION)
        .key("fds").string_array({"seccompFd"})
        .kv("pid", static_cast<int64_t>(pid));
    if (!s.listenerMetadata.empty()) w.kv("metadata", s.listenerMetadata);
    // The writer holds the object open: "state" is spliced in as the last
    // member, already JSON.
    return w.str() + ",\"state\":" + state_json + "}";
}

void send_to_seccomp_listener(const spec::Seccomp& s, int notify_fd, const std::string& state_json, pid_t pid) {
    const std::string field = "linux.seccomp.listenerPath";
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (s.listenerPath.size() >= sizeof addr.sun_path) throw Error(EINVAL, field + ": path too long");
    std::memcpy(addr.sun_path, s.listenerPath.c_str(), s.listenerPath.size() + 1);
    UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) throw_errno(field + ": socket");
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        int err = errno;
        if (err == ENOENT || err == ECONNREFUSED)
            throw Error(err, field + ": no seccomp agent is listening on " + s.listenerPath, true);
        throw_errno(err, field + ": connect " + s.listenerPath);
    }
    send_fd(sock.get(), notify_fd, container_process_state_json(s, pid, state_json));
}

} // namespace berth
