#include "fixture.hpp"

#include "json.hpp"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace rtest {

namespace {

std::vector<std::string>& dirs() {
    static std::vector<std::string> d;
    return d;
}
std::vector<pid_t>& pids() {
    static std::vector<pid_t> p;
    return p;
}

// waitpid with a limit; true once reaped.
bool reap(pid_t pid, int timeout_ms, int* status) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
        pid_t r = ::waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// fork + exec, so the child gets PR_SET_PDEATHSIG: a server dies with the
// test's worker even when .fini never runs (a crash, a Criterion timeout).
// Only async-signal-safe calls between fork and exec.
pid_t spawn(const std::vector<std::string>& argv, int out_fd) {
    std::string path = argv[0].find('/') == std::string::npos ? which(argv[0]) : argv[0];
    if (path.empty()) return -1;
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(devnull, 0);
        ::dup2(out_fd, 1);
        ::dup2(out_fd, 2);
        ::execve(path.c_str(), args.data(), environ);
        ::_exit(127);
    }
    ::close(devnull);
    return pid;
}

} // namespace

void guard(void (*body)()) {
    try {
        body();
    } catch (const std::exception& e) {
        cr_expect_fail("unexpected exception: %s", e.what());
    }
}

void cleanup() {
    for (pid_t p : pids()) {
        ::kill(p, SIGTERM);
        int st;
        if (!reap(p, 3000, &st)) {
            ::kill(p, SIGKILL);
            reap(p, 3000, &st);
        }
    }
    pids().clear();
    for (auto& d : dirs()) {
        std::error_code ec;
        std::filesystem::remove_all(d, ec);
    }
    dirs().clear();
}

std::string temp_dir() {
    char tmpl[] = "/tmp/berth-reg-XXXXXX";
    if (!::mkdtemp(tmpl)) cr_assert_fail("mkdtemp: %s", std::strerror(errno));
    dirs().push_back(tmpl);
    return tmpl;
}

void write_file(const std::string& path, const std::string& data) {
    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f.write(data.data(), static_cast<std::streamsize>(data.size()));
        if (!f) cr_assert_fail("write %s failed", tmp.c_str());
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) cr_assert_fail("rename %s: %s", tmp.c_str(), std::strerror(errno));
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string which(const std::string& prog) {
    const char* path = std::getenv("PATH");
    std::stringstream ss(path ? path : "/usr/bin:/bin");
    std::string d;
    while (std::getline(ss, d, ':')) {
        std::string p = d + "/" + prog;
        if (::access(p.c_str(), X_OK) == 0) return p;
    }
    return {};
}

Cmd run(const std::vector<std::string>& argv, int timeout_s) {
    Cmd c;
    char tmpl[] = "/tmp/berth-reg-out-XXXXXX";
    int fd = ::mkstemp(tmpl);
    if (fd < 0) return c;
    ::unlink(tmpl);
    pid_t pid = spawn(argv, fd);
    if (pid < 0) {
        ::close(fd);
        c.out = "cannot run " + argv[0];
        return c;
    }
    int st = 0;
    if (!reap(pid, timeout_s * 1000, &st)) {
        ::kill(pid, SIGKILL);
        reap(pid, 5000, &st);
    }
    c.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    ::lseek(fd, 0, SEEK_SET);
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) c.out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return c;
}

pid_t start(const std::vector<std::string>& argv, const std::string& log_path) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) cr_assert_fail("open %s: %s", log_path.c_str(), std::strerror(errno));
    pid_t pid = spawn(argv, fd);
    ::close(fd);
    if (pid < 0) cr_assert_fail("cannot start %s", argv[0].c_str());
    pids().push_back(pid);
    return pid;
}

void stop(pid_t pid) {
    ::kill(pid, SIGTERM);
    int st;
    if (!reap(pid, 3000, &st)) {
        ::kill(pid, SIGKILL);
        reap(pid, 3000, &st);
    }
    std::erase(pids(), pid);
}

int free_port() {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        cr_assert_fail("free port: %s", std::strerror(errno));
    ::close(s);
    return ntohs(a.sin_port);
}

bool wait_port(int port, int timeout_ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < until) {
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(port));
        bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(s);
        if (ok) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

Fake start_fake(const std::string& layout, const std::string& config_json) {
    std::string py = which("python3");
    if (py.empty()) cr_skip_test("python3 is not installed");
    Fake f;
    f.dir = temp_dir();
    f.config = f.dir + "/config.json";
    f.log = f.dir + "/requests.jsonl";
    write_file(f.config, config_json);
    std::string port_file = f.dir + "/port";
    f.pid = start({py, FAKE_REGISTRY, "--root", layout, "--port-file", port_file, "--config", f.config, "--log", f.log},
                  f.dir + "/server.log");
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (::access(port_file.c_str(), F_OK) != 0) {
        int st;
        if (::waitpid(f.pid, &st, WNOHANG) == f.pid)
            cr_assert_fail("fake_registry.py exited: %s", read_file(f.dir + "/server.log").c_str());
        if (std::chrono::steady_clock::now() >= until) cr_assert_fail("fake_registry.py did not start");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    f.port = std::stoi(read_file(port_file));
    return f;
}

void set_config(const Fake& f, const std::string& config_json) { write_file(f.config, config_json); }

std::vector<std::string> requests(const Fake& f) {
    std::vector<std::string> out;
    std::stringstream ss(read_file(f.log));
    std::string line;
    while (std::getline(ss, line))
        if (!line.empty()) out.push_back(line);
    return out;
}

int count_requests(const Fake& f, const std::string& needle) {
    int n = 0;
    for (auto& l : requests(f))
        if (l.find(needle) != std::string::npos) ++n;
    return n;
}

std::string random_bytes(size_t n) {
    static std::mt19937_64 rng(std::random_device{}());
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rng();
        std::memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
    }
    return s;
}

std::string put_blob(const std::string& layout, const std::string& data) {
    std::string d = berth::image::sha256_digest(data);
    std::filesystem::create_directories(layout + "/blobs/sha256");
    write_file(layout + "/blobs/sha256/" + d.substr(7), data);
    if (::access((layout + "/oci-layout").c_str(), F_OK) != 0)
        write_file(layout + "/oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
    return d;
}

void add_tag(const std::string& layout, const std::string& tag, const std::string& media_type, const std::string& digest,
             size_t size) {
    struct Entry {
        std::string tag, mt, digest;
        int64_t size;
    };
    std::vector<Entry> entries;
    std::string path = layout + "/index.json";
    if (::access(path.c_str(), F_OK) == 0) {
        berth::json::Document doc(read_file(path), path);
        for (auto& m : doc.root().get("manifests").as_array()) {
            auto ann = m.get("annotations").as_string_map();
            entries.push_back({ann["org.opencontainers.image.ref.name"], m.get("mediaType").as_string(),
                               m.get("digest").as_string(), m.get("size").as_int64()});
        }
    }
    std::erase_if(entries, [&](const Entry& e) { return e.tag == tag; });
    entries.push_back({tag, media_type, digest, static_cast<int64_t>(size)});
    berth::json::Writer w;
    w.begin_object().kv("schemaVersion", 2).key("manifests").begin_array();
    for (auto& e : entries) {
        w.begin_object().kv("mediaType", e.mt).kv("digest", e.digest).kv("size", e.size);
        w.key("annotations").begin_object().kv("org.opencontainers.image.ref.name", e.tag).end_object();
        w.end_object();
    }
    w.end_array().end_object();
    write_file(path, w.str());
}

Image add_image(const std::string& layout, const std::string& tag, const std::vector<size_t>& layer_sizes) {
    Image im;
    im.tag = tag;
    std::vector<std::string> diff_ids;
    for (size_t n : layer_sizes) {
        im.layers.push_back(random_bytes(n));
        im.layer_digests.push_back(put_blob(layout, im.layers.back()));
    }
    berth::json::Writer c;
    c.begin_object().kv("architecture", "amd64").kv("os", "linux");
    c.key("config").begin_object().key("Cmd").string_array({"/bin/sh"}).end_object();
    c.key("rootfs").begin_object().kv("type", "layers").key("diff_ids").string_array(im.layer_digests).end_object();
    c.end_object();
    im.config = c.str();
    im.config_digest = put_blob(layout, im.config);
    berth::json::Writer m;
    m.begin_object().kv("schemaVersion", 2).kv("mediaType", "application/vnd.oci.image.manifest.v1+json");
    m.key("config").begin_object().kv("mediaType", "application/vnd.oci.image.config.v1+json")
        .kv("digest", im.config_digest).kv("size", static_cast<int64_t>(im.config.size())).end_object();
    m.key("layers").begin_array();
    for (size_t i = 0; i < im.layers.size(); ++i)
        m.begin_object().kv("mediaType", "application/vnd.oci.image.layer.v1.tar+gzip")
            .kv("digest", im.layer_digests[i]).kv("size", static_cast<int64_t>(im.layers[i].size())).end_object();
    m.end_array().end_object();
    im.manifest = m.str();
    im.manifest_digest = put_blob(layout, im.manifest);
    add_tag(layout, tag, "application/vnd.oci.image.manifest.v1+json", im.manifest_digest, im.manifest.size());
    return im;
}

} // namespace rtest
