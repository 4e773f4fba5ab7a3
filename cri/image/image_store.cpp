#include "image_store.hpp"

#include "digest.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "json.hpp"
#include "tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

namespace berth::image {

namespace {

constexpr std::string_view kSuffix = ".json";

std::string file_of(const std::string& id) { return digest_hex(id) + std::string(kSuffix); }

bool is_record_name(std::string_view n) {
    if (n.size() != 64 + kSuffix.size() || !n.ends_with(kSuffix)) return false;
    return valid_digest("sha256:" + std::string(n.substr(0, 64)));
}

void write_config(json::Writer& w, const spec::image::ImageConfig& c) {
    w.begin_object();
    w.kv("created", c.created).kv("author", c.author).kv("architecture", c.architecture).kv("os", c.os);
    w.kv("variant", c.variant);
    const auto& d = c.config;
    w.key("config").begin_object();
    w.kv("User", d.user);
    w.key("Env").string_array(d.env);
    w.key("Entrypoint").string_array(d.entrypoint);
    w.key("Cmd").string_array(d.cmd);
    w.kv("WorkingDir", d.working_dir).kv("StopSignal", d.stop_signal);
    w.key("Labels").string_map(d.labels);
    w.key("Volumes").string_array(d.volumes);
    w.key("ExposedPorts").string_array(d.exposed_ports);
    w.end_object();
    w.key("diff_ids").string_array(c.diff_ids);
    w.end_object();
}

std::string opt_string(const json::Value& o, std::string_view k) {
    auto v = o.find(k);
    return v ? v->as_string() : std::string();
}

std::vector<std::string> opt_strings(const json::Value& o, std::string_view k) {
    auto v = o.find(k);
    return v ? v->as_string_array() : std::vector<std::string>{};
}

spec::image::ImageConfig read_config(const json::Value& v) {
    spec::image::ImageConfig c;
    c.created = opt_string(v, "created");
    c.author = opt_string(v, "author");
    c.architecture = opt_string(v, "architecture");
    c.os = opt_string(v, "os");
    c.variant = opt_string(v, "variant");
    if (auto cfg = v.find("config")) {
        auto& d = c.config;
        d.user = opt_string(*cfg, "User");
        d.env = opt_strings(*cfg, "Env");
        d.entrypoint = opt_strings(*cfg, "Entrypoint");
        d.cmd = opt_strings(*cfg, "Cmd");
        d.working_dir = opt_string(*cfg, "WorkingDir");
        d.stop_signal = opt_string(*cfg, "StopSignal");
        if (auto l = cfg->find("Labels")) d.labels = l->as_string_map();
        d.volumes = opt_strings(*cfg, "Volumes");
        d.exposed_ports = opt_strings(*cfg, "ExposedPorts");
    }
    c.diff_ids = opt_strings(v, "diff_ids");
    return c;
}

std::string to_json(const ImageRecord& r) {
    json::Writer w(true);
    w.begin_object();
    w.kv("id", r.id);
    w.key("repo_tags").string_array(r.repo_tags);
    w.key("repo_digests").string_array(r.repo_digests);
    w.kv("manifest_digest", r.manifest_digest).kv("index_digest", r.index_digest);
    w.kv("config_digest", r.config_digest);
    w.key("layer_digests").string_array(r.layer_digests);
    w.key("diff_ids").string_array(r.diff_ids);
    w.key("chain_ids").string_array(r.chain_ids);
    w.kv("size", r.size).kv("pulled_at", r.pulled_at).kv("pinned", r.pinned);
    w.key("config");
    write_config(w, r.config);
    w.end_object();
    return w.str();
}

ImageRecord from_json(std::string_view text, const std::string& what) {
    json::Document doc(text, what);
    auto v = doc.root();
    try {
        ImageRecord r;
        auto id = v.get("id");
        r.id = id.as_string();
        if (!valid_digest(r.id)) id.fail("invalid digest");
        r.repo_tags = opt_strings(v, "repo_tags");
        r.repo_digests = opt_strings(v, "repo_digests");
        r.manifest_digest = opt_string(v, "manifest_digest");
        r.index_digest = opt_string(v, "index_digest");
        r.config_digest = opt_string(v, "config_digest");
        r.layer_digests = opt_strings(v, "layer_digests");
        r.diff_ids = opt_strings(v, "diff_ids");
        r.chain_ids = opt_strings(v, "chain_ids");
        if (auto s = v.find("size")) r.size = s->as_uint64();
        r.pulled_at = opt_string(v, "pulled_at");
        if (auto p = v.find("pinned")) r.pinned = p->as_bool();
        if (auto c = v.find("config")) r.config = read_config(*c);
        return r;
    } catch (const Error& e) {
        throw Error(e.err(), what + ": " + e.what());
    }
}

std::string read_all(int dirfd, const std::string& name, const std::string& what) {
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) throw_errno("open " + what);
    std::string out;
    char buf[16384];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    if (n < 0) throw_errno("read " + what);
    return out;
}

bool erase_name(std::vector<std::string>& v, const std::string& name) {
    auto it = std::find(v.begin(), v.end(), name);
    if (it == v.end()) return false;
    v.erase(it);
    return true;
}

bool is_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

} // namespace

ImageStore::ImageStore(std::string root) : root_(std::move(root)) {
    make_dirs(root_);
    UniqueFd dfd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) throw_errno("open " + root_);
    std::vector<std::string> names;
    {
        int dup = ::fcntl(dfd.get(), F_DUPFD_CLOEXEC, 0);
        DIR* d = dup < 0 ? nullptr : ::fdopendir(dup);
        if (!d) throw_errno("open " + root_);
        while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
        ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
        if (std::string_view(n).starts_with(kTempPrefix)) {   // a write a crash cut short
            ::unlinkat(dfd.get(), n.c_str(), 0);
            continue;
        }
        if (!is_record_name(n)) continue;
        std::string what = root_ + "/" + n;
        try {
            ImageRecord r = from_json(read_all(dfd.get(), n, what), what);
            if (r.id != "sha256:" + n.substr(0, 64)) throw Error(EINVAL, what + ": id " + r.id + " does not match the file's name");
            by_id_[r.id] = std::move(r);
        } catch (const Error& e) {
            load_errors_.push_back(std::string("image record skipped: ") + e.what());
        }
    }
    // The names index; a name two records claim (a crash between the two
    // writes of a put) belongs to the one pulled last.
    std::vector<std::string> fix;
    for (auto& [id, r] : by_id_) {
        for (auto* names_of : {&r.repo_tags, &r.repo_digests})
            for (const auto& name : *names_of) {
                auto [it, fresh] = names_.emplace(name, id);
                if (fresh || it->second == id) continue;
                ImageRecord& other = by_id_[it->second];
                if (other.pulled_at <= r.pulled_at) {
                    erase_name(other.repo_tags, name) || erase_name(other.repo_digests, name);
                    fix.push_back(other.id);
                    it->second = id;
                } else {
                    fix.push_back(id);
                }
            }
    }
    for (auto& [id, r] : by_id_) {
        if (std::find(fix.begin(), fix.end(), id) == fix.end()) continue;
        std::erase_if(r.repo_tags, [&](const std::string& n) { return names_[n] != id; });
        std::erase_if(r.repo_digests, [&](const std::string& n) { return names_[n] != id; });
        try {
            write(r);
        } catch (const Error& e) {
            load_errors_.push_back(std::string("image record not repaired: ") + e.what());
        }
    }
}

void ImageStore::write(const ImageRecord& r) { write_file_durable(root_, file_of(r.id), to_json(r)); }

void ImageStore::put(const ImageRecord& in) {
    check_digest(in.id, "image id");
    ImageRecord r = in;
    auto dedup = [](std::vector<std::string>& v) {
        std::vector<std::string> out;
        for (auto& s : v)
            if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
        v = std::move(out);
    };
    dedup(r.repo_tags);
    dedup(r.repo_digests);
    std::unique_lock<std::shared_mutex> g(mu_);
    // The new record first: after a crash before the others are rewritten,
    // load() settles shared names by pulled_at.
    write(r);
    if (auto old = by_id_.find(r.id); old != by_id_.end()) {
        for (auto* v : {&old->second.repo_tags, &old->second.repo_digests})
            for (const auto& n : *v)
                if (auto it = names_.find(n); it != names_.end() && it->second == r.id) names_.erase(it);
    }
    for (auto* v : {&r.repo_tags, &r.repo_digests})
        for (const auto& n : *v) {
            auto it = names_.find(n);
            if (it != names_.end() && it->second != r.id) {
                ImageRecord& other = by_id_[it->second];
                erase_name(other.repo_tags, n) || erase_name(other.repo_digests, n);
                write(other);   // keeps its other names, or stays untagged
            }
            names_[n] = r.id;
        }
    by_id_[r.id] = std::move(r);
}

std::optional<ImageRecord> ImageStore::get(const std::string& id) const {
    std::shared_lock<std::shared_mutex> g(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::string> ImageStore::find_id(const std::string& ref, bool* by_id) const {
    *by_id = true;
    if (by_id_.count(ref)) return ref;
    if (auto it = names_.find(ref); it != names_.end()) {
        *by_id = false;
        return it->second;
    }
    std::string_view p = ref;
    if (p.starts_with("sha256:")) p.remove_prefix(7);
    if (p.size() < 12 || p.size() > 64 || !is_hex(p)) return std::nullopt;
    std::string key = "sha256:" + std::string(p);
    std::vector<std::string> hits;
    for (auto it = by_id_.lower_bound(key); it != by_id_.end() && it->first.starts_with(key); ++it) hits.push_back(it->first);
    if (hits.empty()) return std::nullopt;
    if (hits.size() > 1) {
        std::string all;
        for (const auto& h : hits) all += (all.empty() ? "" : ", ") + h;
        throw Error(EINVAL, "image id prefix \"" + ref + "\" is ambiguous: " + all);
    }
    return hits[0];
}

std::optional<ImageRecord> ImageStore::resolve(const std::string& ref_or_id) const {
    std::shared_lock<std::shared_mutex> g(mu_);
    bool by_id;
    auto id = find_id(ref_or_id, &by_id);
    if (!id) return std::nullopt;
    return by_id_.at(*id);
}

std::vector<ImageRecord> ImageStore::list() const {
    std::shared_lock<std::shared_mutex> g(mu_);
    std::vector<ImageRecord> out;
    out.reserve(by_id_.size());
    for (const auto& [_, r] : by_id_) out.push_back(r);
    return out;
}

bool ImageStore::remove(const std::string& ref_or_id) {
    std::unique_lock<std::shared_mutex> g(mu_);
    bool by_id;
    auto id = find_id(ref_or_id, &by_id);
    if (!id) return false;
    ImageRecord& r = by_id_.at(*id);
    if (!by_id) {
        erase_name(r.repo_tags, ref_or_id) || erase_name(r.repo_digests, ref_or_id);
        names_.erase(ref_or_id);
        if (!r.repo_tags.empty()) {
            write(r);
            return true;
        }
    }
    std::string file = root_ + "/" + file_of(r.id);
    if (::unlink(file.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + file);
    UniqueFd dfd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd) ::fsync(dfd.get());
    for (auto* v : {&r.repo_tags, &r.repo_digests})
        for (const auto& n : *v)
            if (auto it = names_.find(n); it != names_.end() && it->second == r.id) names_.erase(it);
    by_id_.erase(*id);
    return true;
}

} // namespace berth::image
