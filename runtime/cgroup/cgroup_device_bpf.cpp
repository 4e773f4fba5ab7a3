#include "cgroup_device_bpf.hpp"

#include "error.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace berth {

namespace {

// Registers the program keeps while it walks the rules.
constexpr uint8_t R0 = BPF_REG_0;   // return value: 1 allow, 0 deny
constexpr uint8_t R1 = BPF_REG_1;   // ctx on entry, then scratch
constexpr uint8_t TYPE = BPF_REG_2; // BPF_DEVCG_DEV_BLOCK or _CHAR
constexpr uint8_t PENDING = BPF_REG_3; // requested access bits not yet allowed
constexpr uint8_t MAJOR = BPF_REG_4;
constexpr uint8_t MINOR = BPF_REG_5;

constexpr int32_t kAllAccess = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

constexpr bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}
constexpr bpf_insn load_u32(uint8_t dst, uint8_t src, int16_t off) {
    return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0);
}
constexpr bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) {
    return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
constexpr bpf_insn mov32_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0); }
constexpr bpf_insn mov64_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
constexpr bpf_insn jmp_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
    return insn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
}
constexpr bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// One spec rule in the program's terms.
struct Rule {
    bool allow = false;
    int32_t type = 0;           // 0: any
    std::optional<int32_t> major, minor;
    int32_t access = 0;
    bool matches_nothing = false;
};

std::optional<int32_t> device_number(const std::optional<int64_t>& v, const std::string& what, bool& never) {
    // -1 is runc's and crun's wildcard; the spec's is an absent field.
    if (!v || *v == -1) return std::nullopt;
    if (*v < 0 || *v > UINT32_MAX) throw Error(EINVAL, what + ": " + std::to_string(*v) + " is not a device number");
    // Beyond what dev_t can hold (12-bit major, 20-bit minor): no device
    // has it, so the rule matches nothing. (The ctx fields are u32 but a
    // 64-bit compare with a sign-extended imm could not test these anyway.)
    if (*v > INT32_MAX) never = true;
    return static_cast<int32_t>(*v & INT32_MAX);
}

Rule parse_rule(const spec::DeviceCgroup& d, size_t index) {
    std::string where = "device rule " + std::to_string(index);
    Rule r;
    r.allow = d.allow;
    if (d.type.empty() || d.type == "a") r.type = 0;
    else if (d.type == "c") r.type = BPF_DEVCG_DEV_CHAR;
    else if (d.type == "b") r.type = BPF_DEVCG_DEV_BLOCK;
    else throw Error(EINVAL, where + ": unknown device type \"" + d.type + "\"");
    r.major = device_number(d.major, where + ": major", r.matches_nothing);
    r.minor = device_number(d.minor, where + ": minor", r.matches_nothing);
    for (char c : d.access) {
        switch (c) {
        case 'r': r.access |= BPF_DEVCG_ACC_READ; break;
        case 'w': r.access |= BPF_DEVCG_ACC_WRITE; break;
        case 'm': r.access |= BPF_DEVCG_ACC_MKNOD; break;
        default: throw Error(EINVAL, where + ": invalid access \"" + d.access + "\" (want a subset of rwm)");
        }
    }
    if (d.access.empty()) r.access = kAllAccess;   // as the v1 writer ("c 1:3 rwm")
    return r;
}

long sys_bpf(int cmd, union bpf_attr& attr) { return ::syscall(SYS_bpf, cmd, &attr, sizeof(attr)); }

uint64_t ptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

struct Attached {
    std::vector<uint32_t> ids;
    uint32_t flags = 0;
};

// The device programs attached directly to this cgroup (not inherited).
Attached query_attached(int cgroup_fd) {
    Attached a;
    a.ids.resize(8);
    for (;;) {
        union bpf_attr attr{};
        attr.query.target_fd = static_cast<uint32_t>(cgroup_fd);
        attr.query.attach_type = BPF_CGROUP_DEVICE;
        attr.query.prog_ids = ptr(a.ids.data());
        attr.query.prog_cnt = static_cast<uint32_t>(a.ids.size());
        if (sys_bpf(BPF_PROG_QUERY, attr) == 0) {
            a.ids.resize(attr.query.prog_cnt);
            a.flags = attr.query.attach_flags;
            return a;
        }
        // The kernel stores the real count before failing with ENOSPC.
        if (errno == ENOSPC && attr.query.prog_cnt > a.ids.size()) {
            a.ids.resize(attr.query.prog_cnt);
            continue;
        }
        throw_errno("query BPF device programs on cgroup");
    }
}

uint32_t prog_id(int prog_fd) {
    struct bpf_prog_info info{};
    union bpf_attr attr{};
    attr.info.bpf_fd = static_cast<uint32_t>(prog_fd);
    attr.info.info_len = sizeof(info);
    attr.info.info = ptr(&info);
    if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, attr) != 0) throw_errno("get BPF program info");
    return info.id;
}

std::string trimmed_log(const std::string& buf) {
    std::string log(buf.c_str());   // up to the NUL the kernel wrote
    while (!log.empty() && (log.back() == '\n' || log.back() == ' ')) log.pop_back();
    // The verdict is at the end; a long log keeps its tail.
    constexpr size_t kMax = 4096;
    if (log.size() > kMax) log = "..." + log.substr(log.size() - kMax);
    return log;
}

} // namespace

std::vector<bpf_insn> device_program(const std::vector<spec::DeviceCgroup>& rules) {
    std::vector<Rule> parsed;
    parsed.reserve(rules.size());
    for (size_t i = 0; i < rules.size(); ++i) parsed.push_back(parse_rule(rules[i], i));

    // struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }
    std::vector<bpf_insn> p = {
        load_u32(TYPE, R1, offsetof(bpf_cgroup_dev_ctx, access_type)),
        alu32_imm(BPF_AND, TYPE, 0xffff),
        load_u32(PENDING, R1, offsetof(bpf_cgroup_dev_ctx, access_type)),
        alu32_imm(BPF_RSH, PENDING, 16),
        alu32_imm(BPF_AND, PENDING, kAllAccess),
        load_u32(MAJOR, R1, offsetof(bpf_cgroup_dev_ctx, major)),
        load_u32(MINOR, R1, offsetof(bpf_cgroup_dev_ctx, minor)),
    };

    // Last match wins, per access bit: walk the rules from the last. An
    // allow rule clears the bits it grants from PENDING and allows once none
    // is left; a deny rule denies if it names a bit still pending (a later
    // rule would have cleared a bit it allows). Bits left at the end are
    // denied.
    for (auto it = parsed.rbegin(); it != parsed.rend(); ++it) {
        const Rule& r = *it;
        if (r.matches_nothing || r.access == 0) continue;
        bool match_all = r.type == 0 && !r.major && !r.minor;
        if (match_all && r.access == kAllAccess) {
            // Everything earlier is shadowed (and would be unreachable code,
            // which the verifier rejects). Deny-all is what the end of the
            // program does anyway.
            if (!r.allow) break;
            p.insert(p.end(), {mov64_imm(R0, 1), exit_insn()});
            return p;
        }
        // "if (reg == v) goto +1; goto next_rule" rather than the shorter
        // "if (reg != v) goto next_rule": the verifier walks the fall-through
        // first, so this way it reaches each next rule first with nothing
        // known about the device and prunes every later arrival there.
        // With JNE it first arrives knowing "major == M" (from a matched
        // check before a failed one), walks the rest of the program with
        // that, and again for each rule: quadratic, and near 1100 rules past
        // the verifier's 1M-instruction limit.
        std::vector<size_t> to_next;   // jumps to the next rule, patched below
        auto check = [&](uint8_t reg, int32_t v) {
            p.push_back(jmp_imm(BPF_JEQ, reg, v, 1));
            to_next.push_back(p.size());
            p.push_back(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0));
        };
        if (r.type != 0) check(TYPE, r.type);
        if (r.major) check(MAJOR, *r.major);
        if (r.minor) check(MINOR, *r.minor);
        if (r.access == kAllAccess) {
            p.insert(p.end(), {mov64_imm(R0, r.allow ? 1 : 0), exit_insn()});
        } else if (r.allow) {
            p.insert(p.end(), {
                alu32_imm(BPF_AND, PENDING, ~r.access),
                jmp_imm(BPF_JNE, PENDING, 0, 2),
                mov64_imm(R0, 1),
                exit_insn(),
            });
        } else {
            p.insert(p.end(), {
                mov32_reg(R1, PENDING),
                alu32_imm(BPF_AND, R1, r.access),
                jmp_imm(BPF_JEQ, R1, 0, 2),
                mov64_imm(R0, 0),
                exit_insn(),
            });
        }
        for (size_t at : to_next) {
            size_t off = p.size() - at - 1;
            if (off > INT16_MAX) throw Error(E2BIG, "device rules: a rule's program block is too long");
            p[at].off = static_cast<int16_t>(off);
        }
    }
    p.insert(p.end(), {mov64_imm(R0, 0), exit_insn()});
    return p;
}

UniqueFd load_device_program(const std::vector<bpf_insn>& insns) {
    static const char kLicense[] = "Apache";   // no GPL-only helper is called
    union bpf_attr attr{};
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = ptr(insns.data());
    attr.insn_cnt = static_cast<uint32_t>(insns.size());
    attr.license = ptr(kLicense);
    std::memcpy(attr.prog_name, "berth_devices", sizeof("berth_devices"));

    auto load = [&] {
        long fd;
        int tries = 0;
        // The verifier may ask to be retried (EAGAIN), as libbpf does.
        do fd = sys_bpf(BPF_PROG_LOAD, attr);
        while (fd < 0 && (errno == EINTR || errno == EAGAIN) && ++tries < 5);
        return fd;
    };

    // Container create is the hot path: no verifier log unless it fails.
    long fd = load();
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    int err = errno;

    std::string log;
    for (size_t size = 64 * 1024; size <= 16 * 1024 * 1024; size *= 4) {
        log.assign(size, '\0');
        attr.log_level = 1;
        attr.log_buf = ptr(log.data());
        attr.log_size = static_cast<uint32_t>(size);
        fd = load();
        if (fd >= 0) return UniqueFd(static_cast<int>(fd));   // loaded this time
        if (errno != ENOSPC) break;
    }
    std::string msg = "load BPF device program (" + std::to_string(insns.size()) + " instructions)";
    std::string vlog = trimmed_log(log);
    if (!vlog.empty()) msg += ": verifier: " + vlog;
    if (err == EPERM) msg += " (needs CAP_SYS_ADMIN or CAP_BPF; before Linux 5.11 also RLIMIT_MEMLOCK room)";
    throw_errno(err, msg);
}

void attach_device_program(int cgroup_dir_fd, int prog_fd) {
    Attached old = query_attached(cgroup_dir_fd);

    union bpf_attr attr{};
    attr.target_fd = static_cast<uint32_t>(cgroup_dir_fd);
    attr.attach_bpf_fd = static_cast<uint32_t>(prog_fd);
    attr.attach_type = BPF_CGROUP_DEVICE;

    if (!old.ids.empty() && !(old.flags & BPF_F_ALLOW_MULTI)) {
        // Someone attached without BPF_F_ALLOW_MULTI: a multi attach would
        // fail with EPERM, but one with the same flags replaces that single
        // program atomically.
        attr.attach_flags = old.flags;
        if (sys_bpf(BPF_PROG_ATTACH, attr) != 0) throw_errno("attach BPF device program to cgroup");
        return;
    }

    uint32_t self = old.ids.empty() ? 0 : prog_id(prog_fd);
    bool already = std::find(old.ids.begin(), old.ids.end(), self) != old.ids.end();
    if (!already) {
        attr.attach_flags = BPF_F_ALLOW_MULTI;
        if (sys_bpf(BPF_PROG_ATTACH, attr) != 0) throw_errno("attach BPF device program to cgroup");
    }

    // Now that the new filter is in force, drop the old ones.
    for (uint32_t id : old.ids) {
        if (id == self) continue;
        union bpf_attr get{};
        get.prog_id = id;
        long fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, get);
        if (fd < 0) {
            if (errno == ENOENT) continue;   // gone meanwhile
            throw_errno("open old BPF device program " + std::to_string(id));
        }
        UniqueFd old_fd(static_cast<int>(fd));
        union bpf_attr det{};
        det.target_fd = static_cast<uint32_t>(cgroup_dir_fd);
        det.attach_bpf_fd = static_cast<uint32_t>(old_fd.get());
        det.attach_type = BPF_CGROUP_DEVICE;
        if (sys_bpf(BPF_PROG_DETACH, det) != 0 && errno != ENOENT)
            throw_errno("detach old BPF device program " + std::to_string(id));
    }
}

} // namespace berth
