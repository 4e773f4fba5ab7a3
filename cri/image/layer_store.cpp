#include "layer_store.hpp"

#include "digest.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "json.hpp"
#include "tree.hpp"
#include "unpack.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <mutex>

namespace berth::image {

namespace {

constexpr const char* kMetadata = "metadata";

std::string key_of(const std::string& chain_id) { return digest_hex(chain_id).substr(0, 16); }

bool is_key(std::string_view s) {
    if (s.size() != 16) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::vector<std::string> keys_in(const std::string& root) {
    std::vector<std::string> out;
    DIR* d = ::opendir(root.c_str());
    if (!d) throw_errno("open " + root);
    while (dirent* e = ::readdir(d))
        if (is_key(e->d_name)) out.emplace_back(e->d_name);
    ::closedir(d);
    return out;
}

} // namespace

std::string chain_id(const std::string& parent_chain_id, const std::string& diff_id) {
    check_digest(diff_id, "diff id");
    if (parent_chain_id.empty()) return diff_id;
    check_digest(parent_chain_id, "parent chain id");
    return sha256_digest(parent_chain_id + " " + diff_id);
}

// One mutex per layer dir, alive while someone uses it.
struct LayerStore::Locks {
    std::mutex m;
    std::map<std::string, std::pair<std::shared_ptr<std::mutex>, int>> keys;
};

namespace {

template <class Locks>
class KeyGuard {
public:
    KeyGuard(Locks& l, std::string key) : l_(l), key_(std::move(key)) {
        {
            std::lock_guard<std::mutex> g(l_.m);
            auto& slot = l_.keys[key_];
            if (!slot.first) slot.first = std::make_shared<std::mutex>();
            slot.second++;
            mu_ = slot.first;
        }
        mu_->lock();
    }
    ~KeyGuard() {
        mu_->unlock();
        std::lock_guard<std::mutex> g(l_.m);
        if (--l_.keys[key_].second == 0) l_.keys.erase(key_);
    }
    KeyGuard(const KeyGuard&) = delete;
    KeyGuard& operator=(const KeyGuard&) = delete;

private:
    Locks& l_;
    std::string key_;
    std::shared_ptr<std::mutex> mu_;
};

// The layer in dir, or nullopt while its metadata is not written.
std::optional<Layer> read_layer(const std::string& dir) {
    UniqueFd fd(::open((dir + "/" + kMetadata).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return std::nullopt;
        throw_errno("open " + dir + "/" + kMetadata);
    }
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    if (n < 0) throw_errno("read " + dir + "/" + kMetadata);
    json::Document doc(text, dir + "/" + kMetadata);
    auto root = doc.root();
    Layer l;
    l.chain_id = root.get("chain_id").as_string();
    l.diff_id = root.get("diff_id").as_string();
    l.bytes = root.get("bytes").as_uint64();
    l.inodes = root.get("inodes").as_uint64();
    l.dir = dir;
    return l;
}

} // namespace

LayerStore::LayerStore(std::string root) : root_(std::move(root)), locks_(std::make_shared<Locks>()) {
    make_dirs(root_);
}

std::optional<Layer> LayerStore::find(const std::string& chain_id) const {
    auto l = read_layer(root_ + "/" + key_of(chain_id));
    if (!l || l->chain_id != chain_id) return std::nullopt;
    return l;
}

Layer LayerStore::ensure(const std::string& chain_id, const std::string& expected_diff_id, const std::string& blob_path,
                         const std::string& what, const std::function<bool()>& cancelled) {
    check_digest(chain_id, what + ": chain id");
    check_digest(expected_diff_id, what + ": diff id");
    std::string key = key_of(chain_id);
    KeyGuard<Locks> g(*locks_, key);
    std::string dir = root_ + "/" + key;
    if (auto l = read_layer(dir)) {
        if (l->chain_id == chain_id) return *l;
        throw Error(EEXIST, what + ": " + dir + " holds layer " + l->chain_id + ", not " + chain_id);
    }
    remove_tree(dir);   // an unpack that did not finish
    if (::mkdir(dir.c_str(), 0700) < 0) throw_errno("mkdir " + dir);
    try {
        UnpackResult r = unpack_layer(blob_path, dir + "/fs", what, cancelled);
        if (r.diff_id != expected_diff_id)
            throw Error(EBADMSG, what + ": the uncompressed layer has digest " + r.diff_id +
                                     ", the image config says " + expected_diff_id);
        json::Writer w;
        w.begin_object()
            .kv("chain_id", chain_id)
            .kv("diff_id", r.diff_id)
            .kv("bytes", r.bytes)
            .kv("inodes", r.inodes)
            .end_object();
        write_file_durable(dir, kMetadata, w.str());
        Layer l;
        l.chain_id = chain_id;
        l.diff_id = r.diff_id;
        l.dir = dir;
        l.bytes = r.bytes;
        l.inodes = r.inodes;
        return l;
    } catch (...) {
        try {
            remove_tree(dir);
        } catch (const Error&) {
        }
        throw;
    }
}

void LayerStore::remove(const std::string& chain_id) {
    std::string key = key_of(chain_id);
    KeyGuard<Locks> g(*locks_, key);
    std::string dir = root_ + "/" + key;
    auto l = read_layer(dir);
    if (!l || l->chain_id != chain_id) return;
    // Metadata first: a crash halfway leaves an unfinished dir, which
    // remove_incomplete() takes care of.
    std::string meta = dir + "/" + kMetadata;
    if (::unlink(meta.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + meta);
    remove_tree(dir);
}

std::vector<Layer> LayerStore::list() const {
    std::vector<Layer> out;
    for (const auto& k : keys_in(root_)) {
        try {
            if (auto l = read_layer(root_ + "/" + k)) out.push_back(std::move(*l));
        } catch (const Error&) {
            // Unreadable metadata: no usable layer; remove_incomplete() drops it.
        }
    }
    return out;
}

size_t LayerStore::remove_incomplete() {
    size_t n = 0;
    for (const auto& k : keys_in(root_)) {
        {
            std::lock_guard<std::mutex> g(locks_->m);
            if (locks_->keys.count(k)) continue;   // an unpack in progress
        }
        KeyGuard<Locks> g(*locks_, k);
        std::string dir = root_ + "/" + k;
        bool complete = false;
        try {
            complete = read_layer(dir).has_value();
        } catch (const Error&) {
        }
        if (complete) continue;
        remove_tree(dir);
        n++;
    }
    return n;
}

} // namespace berth::image
