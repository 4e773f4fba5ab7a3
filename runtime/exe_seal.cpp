#include "exe_seal.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

extern char** environ;

namespace berth {

namespace {
constexpr unsigned kMfdExec = 0x0010U;   // linux/memfd.h (6.3+): executable memfd
constexpr int kAllSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

bool has_cap(const std::vector<std::string>& set, const char* name) {
    return std::find(set.begin(), set.end(), name) != set.end();
}
} // namespace

bool exe_is_sealed() {
    UniqueFd fd(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!fd) return false;
    int seals = ::fcntl(fd.get(), F_GET_SEALS);
    return seals >= 0 && (seals & kAllSeals) == kAllSeals;
}

bool needs_sealed_exe(const spec::Config& c) {
    const auto* pidns = c.linux ? c.linux->find_ns(spec::NsType::pid) : nullptr;
    if (!pidns || !pidns->path.empty()) return true;
    if (!c.process || !c.process->capabilities) return true;   // no change: root keeps every capability
    const auto& caps = *c.process->capabilities;
    return has_cap(caps.bounding, "CAP_SYS_PTRACE") || has_cap(caps.permitted, "CAP_SYS_PTRACE") ||
           has_cap(caps.effective, "CAP_SYS_PTRACE");
}

void reexec_sealed(char** argv) {
    UniqueFd src(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!src) throw_errno("open /proc/self/exe");
    struct stat st;
    if (::fstat(src.get(), &st) < 0) throw_errno("stat /proc/self/exe");
    int fd = static_cast<int>(::syscall(SYS_memfd_create, "berth", MFD_CLOEXEC | MFD_ALLOW_SEALING | kMfdExec));
    if (fd < 0 && errno == EINVAL) fd = static_cast<int>(::syscall(SYS_memfd_create, "berth", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (fd < 0) throw_errno("memfd_create for a sealed copy of berth");
    UniqueFd mem(fd);
    for (off_t left = st.st_size; left > 0;) {
        ssize_t n = ::sendfile(mem.get(), src.get(), nullptr, static_cast<size_t>(left));
        if (n <= 0) throw_errno("copy berth into memfd");
        left -= n;
    }
    if (::fcntl(mem.get(), F_ADD_SEALS, kAllSeals) < 0) throw_errno("seal memfd copy of berth");
    ::fexecve(mem.get(), argv, environ);
    throw_errno("execute the sealed copy of berth");
}

} // namespace berth
