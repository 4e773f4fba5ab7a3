#include "exec_configs.hpp"

#include "error.hpp"
#include "file_util.hpp"
#include "toml_values.hpp"

#include <toml++/toml.h>

#include <dirent.h>
#include <grp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

namespace berth::cri {

namespace {

using namespace tomlv;

std::string human(int64_t bytes) {
    static const char* units[] = {"", "k", "m", "g", "t"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4 && std::fmod(v, 1024) == 0) v /= 1024, ++u;
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.0f%s", v, units[u]);
    return buf;
}

std::string cpus_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// A config name: it names cgroups (config-NAME) and files.
void check_name(const std::string& name, const std::string& file, const std::string& key) {
    bool ok = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0]));
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') ok = false;
    if (!ok) bad(file, key, "a config name is 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit");
}

// "0-3,6": CPU or memory node lists, as cpuset takes them.
void check_cpuset(const std::string& s, const std::string& file, const std::string& key) {
    bool ok = !s.empty();
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c)) && c != '-' && c != ',') ok = false;
    if (!ok || s.front() == ',' || s.back() == ',' || s.front() == '-' || s.back() == '-')
        bad(file, key, "expected a list such as \"0-3,6\", got \"" + s + "\"");
}


ExecQuota parse_quota(const toml::table& t, const std::string& file, const std::string& base, ExecQuota* per_user) {
    ExecQuota q;
    for (auto&& [k, n] : t) {
        std::string key = base + "." + std::string(k.str());
        if (k == "memory") q.memory = want_size(n, file, key);
        else if (k == "cpus") q.cpus = want_cpus(n, file, key);
        else if (k == "pids") q.pids = want_int(n, file, key, 1, 1 << 22);
        else if (k == "per_user" && per_user) {
            *per_user = parse_quota(want_table(n, file, key), file, key, nullptr);
        } else {
            bad(file, key, "unknown key (memory, cpus, pids" + std::string(per_user ? ", per_user" : "") + ")");
        }
    }
    return q;
}

ExecResources parse_resources(const toml::table& t, const std::string& file, const std::string& base) {
    ExecResources r;
    for (auto&& [k, n] : t) {
        std::string key = base + "." + std::string(k.str());
        if (k == "memory") {
            r.memory = want_size(n, file, key);
            if (*r.memory < 6 * 1024 * 1024) bad(file, key, "the minimum is 6m, as Docker's");
        } else if (k == "memory_swap") {
            r.memory_swap = n.is_integer() && *n.value<int64_t>() == -1 ? -1 : want_size(n, file, key);
        } else if (k == "cpus") r.cpus = want_cpus(n, file, key);
        else if (k == "cpu_shares") r.cpu_shares = static_cast<uint64_t>(want_int(n, file, key, 2, 262144));
        else if (k == "cpu_weight") r.cpu_weight = static_cast<uint64_t>(want_int(n, file, key, 1, 10000));
        else if (k == "pids") r.pids = want_int(n, file, key, -1, 1 << 22);
        else if (k == "cpuset_cpus") check_cpuset(r.cpuset_cpus = want_string(n, file, key), file, key);
        else if (k == "cpuset_mems") check_cpuset(r.cpuset_mems = want_string(n, file, key), file, key);
        else if (k == "io_weight") r.io_weight = static_cast<uint16_t>(want_int(n, file, key, 10, 1000));
        else if (k == "hugepages") {
            for (auto&& [pk, pn] : want_table(n, file, key)) {
                std::string pkey = key + "." + std::string(pk.str());
                std::string size(pk.str());
                static const std::set<std::string> sizes = {"64KB", "2MB", "32MB", "512MB", "1GB", "16GB"};
                if (!sizes.count(size)) bad(file, pkey, "not a huge page size (2MB, 1GB, ...)");
                r.hugepages[size] = want_size(pn, file, pkey);
            }
        } else {
            bad(file, key,
                "unknown key (memory, memory_swap, cpus, cpu_shares, cpu_weight, pids, cpuset_cpus, cpuset_mems, "
                "hugepages, io_weight)");
        }
    }
    if (r.cpu_shares && r.cpu_weight) bad(file, base + ".cpu_weight", "give cpu_shares or cpu_weight, not both");
    if (r.memory_swap && *r.memory_swap != -1) {
        if (!r.memory) bad(file, base + ".memory_swap", "needs memory too (it is memory plus swap)");
        if (*r.memory_swap < *r.memory)
            bad(file, base + ".memory_swap",
                human(*r.memory_swap) + " is less than memory (" + human(*r.memory) + "): it counts memory plus swap");
    }
    return r;
}

// A workload's own limit must fit in each cap above it, or no workload of
// the config could ever run.
void check_fits(const ExecConfig& c, const ExecQuota& q, const std::string& qname, const std::string& file,
                const std::string& base) {
    const auto& r = c.resources;
    if (q.memory && r.memory && *r.memory > *q.memory)
        bad(file, base + ".resources.memory",
            human(*r.memory) + " is more than " + qname + ".memory (" + human(*q.memory) + "): no workload could start");
    if (q.cpus && r.cpus && *r.cpus > *q.cpus)
        bad(file, base + ".resources.cpus",
            cpus_text(*r.cpus) + " is more than " + qname + ".cpus (" + cpus_text(*q.cpus) + "): no workload could start");
    if (q.pids && r.pids && *r.pids > *q.pids)
        bad(file, base + ".resources.pids",
            std::to_string(*r.pids) + " is more than " + qname + ".pids (" + std::to_string(*q.pids) + ")");
}

ExecConfig parse_one(const toml::table& t, const std::string& name, const std::string& file, const std::string& base,
                     const std::set<std::string>& handlers) {
    ExecConfig c;
    c.name = name;
    c.source = file;
    for (auto&& [k, n] : t) {
        std::string key = base + "." + std::string(k.str());
        if (k == "image") c.image = want_string(n, file, key);
        else if (k == "allow_image_override") c.allow_image_override = want_bool(n, file, key);
        else if (k == "registry") {
            if (n.is_string()) {
                c.registry.host = want_string(n, file, key);
            } else {
                for (auto&& [rk, rn] : want_table(n, file, key)) {
                    std::string rkey = key + "." + std::string(rk.str());
                    if (rk == "host") c.registry.host = want_string(rn, file, rkey);
                    else if (rk == "username") c.registry.username = want_string(rn, file, rkey);
                    else if (rk == "password") c.registry.password = want_string(rn, file, rkey);
                    else bad(file, rkey, "unknown key (host, username, password)");
                }
            }
            if (c.registry.host.empty() || c.registry.host.find('/') != std::string::npos)
                bad(file, key, "expected a registry host such as \"registry.example.com:5000\"");
        } else if (k == "resources") c.resources = parse_resources(want_table(n, file, key), file, key);
        else if (k == "runtime") {
            c.runtime = want_string(n, file, key);
            if (!handlers.count(c.runtime)) bad(file, key, "no runtime handler \"" + c.runtime + "\" in [runtime.handlers]");
        } else if (k == "groups") {
            c.groups = want_strings(n, file, key);
            for (size_t i = 0; i < c.groups.size(); ++i)
                c.gids.insert(resolve_group(c.groups[i], file, key + "[" + std::to_string(i) + "]"));
        } else if (k == "quota") c.quota = parse_quota(want_table(n, file, key), file, key, &c.per_user);
        else if (k == "queue") c.queue = want_bool(n, file, key);
        else if (k == "env") {
            for (auto&& [ek, en] : want_table(n, file, key)) {
                std::string name_ek(ek.str());
                if (name_ek.empty() || name_ek.find('=') != std::string::npos)
                    bad(file, key, "\"" + name_ek + "\" is not an environment variable name");
                c.env[name_ek] = want_string(en, file, key + "." + name_ek);
            }
        } else if (k == "mounts") {
            c.mounts = want_strings(n, file, key);
            for (size_t i = 0; i < c.mounts.size(); ++i) {
                const auto& m = c.mounts[i];
                if (m.empty() || m.front() != '/' || m.find("/../") != std::string::npos || m.ends_with("/.."))
                    bad(file, key + "[" + std::to_string(i) + "]", "expected an absolute host path without \"..\", got \"" + m + "\"");
            }
        } else if (k == "network") {
            c.network = want_string(n, file, key);
            if (c.network.empty()) bad(file, key, "expected \"none\", \"host\" or a CNI network's name");
        } else if (k == "max_runtime") c.max_runtime = want_duration(n, file, key);
        else {
            bad(file, key,
                "unknown key (image, allow_image_override, registry, resources, runtime, groups, quota, queue, env, "
                "mounts, network, max_runtime)");
        }
    }
    if (c.image.empty()) bad(file, base + ".image", "required: the config's base image");
    check_fits(c, c.quota, "quota", file, base);
    check_fits(c, c.per_user, "quota.per_user", file, base);
    // A user's share cannot be larger than the whole.
    const auto &q = c.quota, &u = c.per_user;
    if (q.memory && u.memory && *u.memory > *q.memory)
        bad(file, base + ".quota.per_user.memory", human(*u.memory) + " is more than quota.memory (" + human(*q.memory) + ")");
    if (q.cpus && u.cpus && *u.cpus > *q.cpus)
        bad(file, base + ".quota.per_user.cpus", cpus_text(*u.cpus) + " is more than quota.cpus (" + cpus_text(*q.cpus) + ")");
    if (q.pids && u.pids && *u.pids > *q.pids)
        bad(file, base + ".quota.per_user.pids", std::to_string(*u.pids) + " is more than quota.pids (" + std::to_string(*q.pids) + ")");
    // Admission weighs each workload's own memory limit against the memory
    // caps: without both, nothing ever waits.
    if (c.queue && !q.memory && !u.memory) bad(file, base + ".queue", "queueing needs quota.memory or quota.per_user.memory to wait for");
    if (c.queue && !c.resources.memory) bad(file, base + ".queue", "queueing needs resources.memory (what a workload reserves under the quota)");
    return c;
}

toml::table parse_file(const std::string& path) {
    try {
        return toml::parse(read_file(path), path);
    } catch (const toml::parse_error& e) {
        const auto& b = e.source().begin;
        throw Error(EINVAL, path + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) + ": " +
                                std::string(e.description()));
    }
}

} // namespace

gid_t resolve_group(const std::string& g, const std::string& file, const std::string& key) {
    group gr{}, *res = nullptr;
    std::vector<char> buf(16384);
    int rc;
    while ((rc = ::getgrnam_r(g.c_str(), &gr, buf.data(), buf.size(), &res)) == ERANGE && buf.size() < (1u << 20))
        buf.resize(buf.size() * 2);
    if (rc != 0 || !res) bad(file, key, "no such group \"" + g + "\"");
    return gr.gr_gid;
}

ExecConfigs parse_exec_configs(const toml::table& configs, const std::string& file, const std::set<std::string>& handlers) {
    ExecConfigs out;
    for (auto&& [k, n] : configs) {
        std::string name(k.str());
        std::string base = "configs." + name;
        check_name(name, file, base);
        out[name] = parse_one(want_table(n, file, base), name, file, base, handlers);
    }
    return out;
}

ExecConfig parse_exec_config_file(const std::string& path, const std::set<std::string>& handlers) {
    std::string base = path.substr(path.rfind('/') + 1);
    std::string name = base.substr(0, base.size() - 5);   // without ".toml"
    check_name(name, path, "the file's name");
    toml::table t = parse_file(path);
    return parse_one(t, name, path, name, handlers);
}

ExecConfigs load_exec_configs(const ExecConfigs& from_main, const std::string& dir, const std::set<std::string>& handlers) {
    ExecConfigs out = from_main;
    if (dir.empty()) return out;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) {
        if (errno == ENOENT) return out;
        throw_errno("execution config dir " + dir);
    }
    std::vector<std::string> files;
    while (dirent* e = ::readdir(d.get())) {
        std::string n = e->d_name;
        if (n.size() > 5 && n.ends_with(".toml") && n[0] != '.') files.push_back(n);
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        ExecConfig c = parse_exec_config_file(dir + "/" + f, handlers);
        if (auto it = out.find(c.name); it != out.end())
            throw Error(EINVAL, dir + "/" + f + ": config \"" + c.name + "\" is also declared in " + it->second.source);
        out[c.name] = std::move(c);
    }
    return out;
}

} // namespace berth::cri
