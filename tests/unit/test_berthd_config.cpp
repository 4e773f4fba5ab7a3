// berthd's config file and flags (cri/daemon/daemon_config.cpp): every key, the
// errors that name the key and the file, flags over the file.
#include "daemon_config.hpp"
#include "error.hpp"

#include <criterion/criterion.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using berth::Error;
using namespace berth::cri;

namespace {

std::string error_of(const std::string& text) {
    try {
        parse_config_text(text, "/etc/berth/berthd.toml");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

} // namespace

Test(berthd_config, defaults_without_a_file) {
    Config c = parse_config_text("", "f.toml");
    cr_assert_str_eq(c.root.c_str(), "/var/lib/berth");
    cr_assert_str_eq(c.state.c_str(), "/run/berth");
    cr_assert_str_eq(c.listen.c_str(), "/run/berth/berthd.sock");
    cr_assert_eq(c.images.max_concurrent_downloads, 3);
    cr_assert(c.log_level == LogLevel::info);
}

Test(berthd_config, every_key) {
    Config c = parse_config_text(R"(
root = "/srv/berth"
state = "/run/b2"
listen = "/run/b2/s.sock"
socket_group = "berth"
registry_config = "/etc/berth/certs.d"
log_level = "debug"
[images]
max_concurrent_downloads = 5
copy_rootfs = true
max_manifest_bytes = 1048576
pull_timeout = "5m"
)",
                                 "f.toml");
    cr_assert_str_eq(c.root.c_str(), "/srv/berth");
    cr_assert_str_eq(c.state.c_str(), "/run/b2");
    cr_assert_str_eq(c.listen.c_str(), "/run/b2/s.sock");
    cr_assert_str_eq(c.socket_group.c_str(), "berth");
    cr_assert_str_eq(c.registry_config.c_str(), "/etc/berth/certs.d");
    cr_assert(c.log_level == LogLevel::debug);
    cr_assert_eq(c.images.max_concurrent_downloads, 5);
    cr_assert(c.images.copy_rootfs);
    cr_assert_eq(c.images.max_manifest_bytes, 1048576u);
    cr_assert_eq(c.images.pull_timeout.count(), 300);
}

Test(berthd_config, errors_name_the_key_and_the_file) {
    auto e = error_of("roots = \"/x\"\n");
    cr_assert(has(e, "/etc/berth/berthd.toml") && has(e, "roots") && has(e, "unknown key"), "%s", e.c_str());
    e = error_of("[images]\nmax_downloads = 2\n");
    cr_assert(has(e, "images.max_downloads") && has(e, "unknown key"), "%s", e.c_str());
    e = error_of("root = \"relative/dir\"\n");
    cr_assert(has(e, "root") && has(e, "absolute"), "%s", e.c_str());
    e = error_of("root = 3\n");
    cr_assert(has(e, "root") && has(e, "expected a string"), "%s", e.c_str());
    e = error_of("[images]\nmax_concurrent_downloads = 0\n");
    cr_assert(has(e, "images.max_concurrent_downloads") && has(e, "between"), "%s", e.c_str());
    e = error_of("log_level = \"loud\"\n");
    cr_assert(has(e, "log_level") && has(e, "loud"), "%s", e.c_str());
    e = error_of("[images]\npull_timeout = \"soon\"\n");
    cr_assert(has(e, "images.pull_timeout") && has(e, "duration"), "%s", e.c_str());
    // Durations stop at 7 days in either form, before "...h" overflows (fuzz_berthd_config).
    e = error_of("[runtime]\nshim_start_timeout = \"9223372036854775807h\"\n");
    cr_assert(has(e, "runtime.shim_start_timeout") && has(e, "more than 7 days"), "%s", e.c_str());
    e = error_of("[images]\npull_timeout = \"169h\"\n");
    cr_assert(has(e, "images.pull_timeout") && has(e, "more than 7 days"), "%s", e.c_str());
    Config week = parse_config_text("[images]\npull_timeout = \"168h\"\n", "w.toml");
    cr_assert_eq(week.images.pull_timeout.count(), 86400 * 7);
    e = error_of("images = 1\n");
    cr_assert(has(e, "images") && has(e, "table"), "%s", e.c_str());
    // TOML syntax errors name the line and column.
    e = error_of("root = \"/x\"\nstate = \n");
    cr_assert(has(e, "/etc/berth/berthd.toml:2:"), "%s", e.c_str());
}

Test(berthd_config, flags_override_the_file) {
    char tmpl[] = "/tmp/berthd-config-XXXXXX";
    int fd = mkstemp(tmpl);
    cr_assert_geq(fd, 0);
    std::string text = "root = \"/from/file\"\nstate = \"/state/file\"\n";
    cr_assert_eq(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
    const char* argv[] = {"berthd", "--config", tmpl, "--root", "/from/flag", "--log-level=warn", nullptr};
    bool help = false, version = false;
    Flags f = parse_flags(6, const_cast<char**>(argv), help, version);
    Config c = load_config(f);
    unlink(tmpl);
    cr_assert_str_eq(c.root.c_str(), "/from/flag");
    cr_assert_str_eq(c.state.c_str(), "/state/file");
    cr_assert(c.log_level == LogLevel::warn);
}

Test(berthd_config, a_named_config_must_exist_and_flags_are_checked) {
    const char* argv[] = {"berthd", "--config", "/nonexistent/berthd.toml", nullptr};
    bool help = false, version = false;
    Flags f = parse_flags(3, const_cast<char**>(argv), help, version);
    try {
        load_config(f);
        cr_assert_fail("a missing --config file was accepted");
    } catch (const Error& e) {
        cr_assert(has(e.what(), "--config /nonexistent/berthd.toml"), "%s", e.what());
    }
    const char* bad[] = {"berthd", "--rooot", "/x", nullptr};
    try {
        parse_flags(3, const_cast<char**>(bad), help, version);
        cr_assert_fail("an unknown flag was accepted");
    } catch (const Error& e) {
        cr_assert(has(e.what(), "--rooot"), "%s", e.what());
    }
}

Test(berthd_config, runtime_table_and_handlers) {
    Config c = parse_config_text("[runtime]\nshim = \"/opt/berth-shim\"\ncgroup_parent = \"/pods\"\n"
                                 "shim_start_timeout = \"3s\"\n"
                                 "[runtime.handlers.gpu]\ncdi_devices = [\"nvidia.com/gpu=all\"]\n"
                                 "[runtime.handlers.plain]\n",
                                 "f.toml");
    cr_assert_str_eq(c.runtime.shim.c_str(), "/opt/berth-shim");
    cr_assert_str_eq(c.runtime.cgroup_parent.c_str(), "/pods");
    cr_assert_eq(c.runtime.shim_start_timeout.count(), 3);
    cr_assert_eq(c.runtime.handlers.size(), 2u);
    cr_assert_eq(c.runtime.handlers.at("gpu").cdi_devices.size(), 1u);
    cr_assert_str_eq(c.runtime.handlers.at("gpu").cdi_devices[0].c_str(), "nvidia.com/gpu=all");
    cr_assert(c.runtime.handlers.at("plain").cdi_devices.empty());
    c = parse_config_text("[runtime.handlers.alt]\nshim = \"/opt/alt-shim\"\nshim_start_timeout = \"30s\"\n", "f.toml");
    cr_assert_str_eq(c.runtime.handlers.at("alt").shim.c_str(), "/opt/alt-shim");
    cr_assert_eq(c.runtime.handlers.at("alt").shim_start_timeout.count(), 30);
    std::string e = error_of("[runtime.handlers.alt]\nshim = \"alt-shim\"\n");
    cr_assert(has(e, "runtime.handlers.alt.shim") && has(e, "absolute"), "%s", e.c_str());
}

Test(berthd_config, runtime_errors_name_the_key) {
    std::string e = error_of("[runtime.handlers.gpu]\ncdi_device = [\"x\"]\n");
    cr_assert(has(e, "runtime.handlers.gpu.cdi_device") && has(e, "unknown key"), "%s", e.c_str());
    e = error_of("[runtime.handlers.gpu]\ncdi_devices = [\"gpu\"]\n");
    cr_assert(has(e, "runtime.handlers.gpu.cdi_devices") && has(e, "not a CDI device name"), "%s", e.c_str());
    e = error_of("[runtime]\ncgroup_parent = \"relative\"\n");
    cr_assert(has(e, "runtime.cgroup_parent") && has(e, "absolute"), "%s", e.c_str());
    e = error_of("[runtime]\nshimm = \"/x\"\n");
    cr_assert(has(e, "runtime.shimm") && has(e, "/etc/berth/berthd.toml"), "%s", e.c_str());
}

Test(berthd_config, cgroup_driver_and_its_parents) {
    Config c = parse_config_text("", "f.toml");
    cr_assert_str_eq(c.runtime.cgroup_driver.c_str(), "cgroupfs");
    cr_assert_str_eq(c.runtime.cgroup_parent.c_str(), "/berthd");
    // systemd: the default parent becomes a slice.
    c = parse_config_text("[runtime]\ncgroup_driver = \"systemd\"\n[runtime.handlers.k]\ncgroup_parent = \"k8s.slice\"\n", "f.toml");
    cr_assert_str_eq(c.runtime.cgroup_parent.c_str(), "berthd.slice");
    cr_assert_str_eq(c.runtime.handlers.at("k").cgroup_parent.c_str(), "k8s.slice");
    // A handler may use the other driver, with a parent of that form.
    c = parse_config_text("[runtime.handlers.sd]\ncgroup_driver = \"systemd\"\ncgroup_parent = \"sd.slice\"\n", "f.toml");
    cr_assert_str_eq(c.runtime.handlers.at("sd").cgroup_driver.c_str(), "systemd");
    std::string e = error_of("[runtime]\ncgroup_driver = \"systemd\"\ncgroup_parent = \"/berthd\"\n");
    cr_assert(has(e, "runtime.cgroup_parent") && has(e, "slice"), "%s", e.c_str());
    e = error_of("[runtime]\ncgroup_driver = \"systemdd\"\n");
    cr_assert(has(e, "runtime.cgroup_driver") && has(e, "systemdd"), "%s", e.c_str());
    e = error_of("[runtime.handlers.x]\ncgroup_parent = \"x.slice\"\n");
    cr_assert(has(e, "runtime.handlers.x.cgroup_parent") && has(e, "absolute"), "%s", e.c_str());
}

// The documented file is the defaults: it parses, and changes nothing.
Test(berthd_config, contrib_file_is_the_defaults) {
    const char* src = std::getenv("BERTH_SRC");
    cr_assert(src, "BERTH_SRC is not set");
    std::string path = std::string(src) + "/contrib/berthd.toml";
    FILE* f = std::fopen(path.c_str(), "r");
    cr_assert(f, "%s", path.c_str());
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    Config c = parse_config_text(text, path);
    Config d = parse_config_text("", "empty.toml");
    cr_assert_str_eq(c.root.c_str(), d.root.c_str());
    cr_assert_str_eq(c.runtime.cgroup_parent.c_str(), d.runtime.cgroup_parent.c_str());
    cr_assert_str_eq(c.runtime.cgroup_driver.c_str(), d.runtime.cgroup_driver.c_str());
    cr_assert_eq(c.runtime.cdi_spec_dirs, d.runtime.cdi_spec_dirs);
    cr_assert_eq(c.runtime.shim_start_timeout, d.runtime.shim_start_timeout);
    cr_assert(c.runtime.handlers.empty());
    cr_assert_eq(c.images.max_manifest_bytes, d.images.max_manifest_bytes);
    cr_assert_str_eq(c.cni.conf_dir.c_str(), d.cni.conf_dir.c_str());
    cr_assert_eq(c.cni.bin_dirs, d.cni.bin_dirs);
    cr_assert_eq(c.cni.plugin_timeout, d.cni.plugin_timeout);
    cr_assert_str_eq(c.cni.unconfigured.c_str(), d.cni.unconfigured.c_str());
    cr_assert_str_eq(c.stream.address.c_str(), d.stream.address.c_str());
}

Test(berthd_config, stream_address) {
    // Each Config is kept in a variable: the assertion macros hold the
    // c_str() pointer past the end of the expression.
    Config d = parse_config_text("", "e.toml");
    cr_assert_str_eq(d.stream.address.c_str(), "127.0.0.1:0");
    Config v6 = parse_config_text("[stream]\naddress = \"[::1]:10010\"\n", "f.toml");
    cr_assert_str_eq(v6.stream.address.c_str(), "[::1]:10010");
    auto e = error_of("[stream]\naddress = \"localhost\"\n");
    cr_assert(has(e, "stream.address") && has(e, "HOST:PORT"), "%s", e.c_str());
    e = error_of("[stream]\nport = 1\n");
    cr_assert(has(e, "stream.port: unknown key"), "%s", e.c_str());
    const char* argv[] = {"berthd", "--stream-address", "0.0.0.0:10010", nullptr};
    bool help = false, version = false;
    Flags f = parse_flags(3, const_cast<char**>(argv), help, version);
    f.config = "/nonexistent/berthd.toml";
    Config c = load_config(f);
    cr_assert_str_eq(c.stream.address.c_str(), "0.0.0.0:10010");
}

Test(berthd_config, cni_table_and_flags) {
    Config d = parse_config_text("", "empty.toml");
    cr_assert_str_eq(d.cni.conf_dir.c_str(), "/etc/cni/net.d");
    cr_assert_eq(d.cni.bin_dirs, (std::vector<std::string>{"/usr/lib/cni", "/opt/cni/bin"}));
    cr_assert_eq(d.cni.plugin_timeout.count(), 60);
    cr_assert_str_eq(d.cni.unconfigured.c_str(), "loopback");
    Config c = parse_config_text("[cni]\nconf_dir = \"/n\"\nbin_dirs = [\"/a\", \"/b\"]\nplugin_timeout = \"2m\"\n"
                                 "unconfigured = \"refuse\"\n", "f.toml");
    cr_assert_str_eq(c.cni.conf_dir.c_str(), "/n");
    cr_assert_eq(c.cni.bin_dirs, (std::vector<std::string>{"/a", "/b"}));
    cr_assert_eq(c.cni.plugin_timeout.count(), 120);
    cr_assert_str_eq(c.cni.unconfigured.c_str(), "refuse");
    auto e = error_of("[cni]\nbin_dirs = [\"/a\", \"rel\"]\n");
    cr_assert(has(e, "cni.bin_dirs[1]") && has(e, "absolute"), "%s", e.c_str());
    e = error_of("[cni]\nunconfigured = \"maybe\"\n");
    cr_assert(has(e, "cni.unconfigured") && has(e, "maybe"), "%s", e.c_str());
    e = error_of("[cni]\nplugin_timeout = 0\n");
    cr_assert(has(e, "cni.plugin_timeout") && has(e, "at least 1s"), "%s", e.c_str());
    e = error_of("[cni]\nconfdir = \"/x\"\n");
    cr_assert(has(e, "/etc/berth/berthd.toml: cni.confdir: unknown key"), "%s", e.c_str());

    const char* argv[] = {"berthd", "--cni-conf-dir", "/c", "--cni-bin-dir", "/x", "--cni-bin-dir=/y", nullptr};
    bool help = false, version = false;
    Flags f = parse_flags(6, const_cast<char**>(argv), help, version);
    f.config = "/nonexistent/berthd.toml";   // not given: defaults
    Config fc = load_config(f);
    cr_assert_str_eq(fc.cni.conf_dir.c_str(), "/c");
    cr_assert_eq(fc.cni.bin_dirs, (std::vector<std::string>{"/x", "/y"}));
    const char* rel[] = {"berthd", "--cni-bin-dir", "bin", nullptr};
    Flags fr = parse_flags(3, const_cast<char**>(rel), help, version);
    fr.config = "/nonexistent/berthd.toml";
    try {
        load_config(fr);
        cr_assert_fail("a relative --cni-bin-dir was accepted");
    } catch (const Error& err) {
        cr_assert(has(err.what(), "--cni-bin-dir"), "%s", err.what());
    }
}
