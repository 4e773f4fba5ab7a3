#include "archive.hpp"

#include "digest.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "json.hpp"
#include "layer_stream.hpp"
#include "reference.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <memory>
#include <optional>
#include <set>

namespace berth::image {

namespace si = spec::image;

namespace {

constexpr size_t kChunk = 1 << 20;
constexpr int kMaxLinks = 16;
constexpr const char* kRefName = "org.opencontainers.image.ref.name";
constexpr const char* kContainerdName = "io.containerd.image.name";
constexpr std::string_view kDockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar";
constexpr std::string_view kDockerLayerZstd = "application/vnd.docker.image.rootfs.diff.tar.zstd";

[[noreturn]] void bad(const std::string& why) { throw Error(EINVAL, why); }

std::string quoted(std::string_view s) {
    std::string q(s.substr(0, 200));
    return "\"" + q + (s.size() > 200 ? "...\"" : "\"");
}

// A path written in manifest.json, or a link's target joined to its
// directory, relative to the archive's top: "." and empty components
// dropped, ".." applied. nullopt when it climbs out.
std::optional<std::string> clean_path(std::string_view p) {
    std::vector<std::string_view> parts;
    size_t i = 0;
    while (i <= p.size()) {
        size_t j = p.find('/', i);
        if (j == std::string_view::npos) j = p.size();
        std::string_view c = p.substr(i, j - i);
        if (c == "..") {
            if (parts.empty()) return std::nullopt;
            parts.pop_back();
        } else if (!c.empty() && c != ".") {
            parts.push_back(c);
        }
        i = j + 1;
    }
    std::string out;
    for (auto c : parts) {
        if (!out.empty()) out += '/';
        out += c;
    }
    return out;
}

// A member's name as the tar writes it, checked: every name in an archive
// is hostile, so an absolute one or one with a ".." component (which tar -x
// would strip or follow out of its directory) refuses the archive. `what`
// says which name ("member", "hard link target") for the error.
std::string member_name(std::string_view raw, const std::string& what) {
    if (!raw.empty() && raw[0] == '/') bad(what + " " + quoted(raw) + ": an absolute path");
    for (size_t i = 0; i <= raw.size();) {
        size_t j = raw.find('/', i);
        if (j == std::string_view::npos) j = raw.size();
        if (raw.substr(i, j - i) == "..") bad(what + " " + quoted(raw) + ": a path with \"..\"");
        i = j + 1;
    }
    return *clean_path(raw);
}

// ---- reading a tar (any of libarchive's built-in compressions) from an fd

class TarReader {
public:
    explicit TarReader(int fd) : fd_(fd), buf_(kChunk) {
        struct stat st;
        if (::fstat(fd, &st) < 0) throw_errno("stat the archive");
        end_ = st.st_size;
        support_builtin_filters(a_);
        archive_read_support_format_tar(a_);
        archive_read_support_format_empty(a_);
        archive_read_set_callback_data(a_, this);
        archive_read_set_read_callback(a_, &TarReader::read_cb);
        archive_read_set_skip_callback(a_, &TarReader::skip_cb);
        if (archive_read_open1(a_) != ARCHIVE_OK) fail();
    }
    TarReader(const TarReader&) = delete;
    TarReader& operator=(const TarReader&) = delete;

    // The next entry, or nullptr at the end.
    archive_entry* next() {
        archive_entry* e = nullptr;
        int rc = archive_read_next_header(a_, &e);
        if (rc == ARCHIVE_EOF) return nullptr;
        if (rc < ARCHIVE_WARN) fail();
        ++ordinal_;
        const char* n = archive_entry_pathname(e);
        if (!n) n = archive_entry_pathname_utf8(e);
        name_ = n ? n : "";
        return e;
    }
    size_t ordinal() const { return ordinal_; }
    // The current entry's bytes (holes of sparse files as zeros); 0 at its end.
    size_t read(char* buf, size_t n) {
        la_ssize_t got = archive_read_data(a_, buf, n);
        if (got < 0) fail();
        return static_cast<size_t>(got);
    }

private:
    // Names the member being read, or the last one read before a bad header.
    [[noreturn]] void fail() {
        const char* s = archive_error_string(a_);
        std::string where;
        if (ordinal_) where = " (at member " + std::to_string(ordinal_) + " " + quoted(name_) + ")";
        bad(std::string("the archive is not a readable tar") + where + ": " + (s ? s : "unknown error"));
    }
    static la_ssize_t read_cb(archive* a, void* ud, const void** out) {
        auto* r = static_cast<TarReader*>(ud);
        for (;;) {
            ssize_t n = ::pread(r->fd_, r->buf_.data(), r->buf_.size(), r->off_);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                archive_set_error(a, errno, "read the archive");
                return -1;
            }
            r->off_ += n;
            *out = r->buf_.data();
            return n;
        }
    }
    static la_int64_t skip_cb(archive*, void* ud, la_int64_t request) {
        auto* r = static_cast<TarReader*>(ud);
        la_int64_t n = std::max<la_int64_t>(0, std::min<la_int64_t>(request, r->end_ - r->off_));
        r->off_ += n;
        return n;
    }

    int fd_;
    off_t off_ = 0, end_ = 0;
    std::vector<char> buf_;
    // Owned by a member so a constructor that throws still frees it.
    std::unique_ptr<archive, decltype(&archive_read_free)> own_{archive_read_new(), &archive_read_free};
    archive* a_ = own_.get();
    size_t ordinal_ = 0;
    std::string name_;
};

std::string entry_name(archive_entry* e) {
    const char* n = archive_entry_pathname(e);
    if (!n) n = archive_entry_pathname_utf8(e);
    return n ? n : "";
}

// ---- pass one: every member hashed, small JSON documents kept

struct Member {
    enum class Kind { file, dir, symlink, hardlink } kind = Kind::file;
    size_t ordinal = 0;
    std::string name;
    std::string target;   // links: the member it leads to (cleaned, inside the archive)
    int64_t size = 0;
    std::string digest;
    std::string head;     // the first bytes (compression magic)
    std::optional<std::string> doc;
};

std::string_view type_name(mode_t t) {
    switch (t) {
    case AE_IFCHR: return "a character device";
    case AE_IFBLK: return "a block device";
    case AE_IFIFO: return "a FIFO";
    case AE_IFSOCK: return "a socket";
    default: return "of an unknown type";
    }
}

// Every member checked and hashed. Names never touch the file system, but
// the archive is refused as tar -x would be hurt by it: a name absolute or
// with "..", a link leading out of the archive, a member under a link or a
// file (a path through a symlink), a device or FIFO.
class Members {
public:
    Members(int fd, const ArchiveOptions& o) {
        TarReader r(fd);
        std::vector<char> buf(kChunk);
        uint64_t kept = 0;
        while (archive_entry* e = r.next()) {
            if (r.ordinal() > o.max_members)
                bad("the archive has more than " + std::to_string(o.max_members) + " members");
            std::string raw = entry_name(e);
            std::string what = "member " + quoted(raw);
            Member m;
            m.ordinal = r.ordinal();
            m.name = member_name(raw, "member");
            if (m.name.empty()) continue;   // "." or "./": the top itself
            mode_t type = archive_entry_filetype(e);
            if (const char* hl = archive_entry_hardlink(e)) {
                m.kind = Member::Kind::hardlink;
                m.target = member_name(hl, what + ": hard link target");
                if (m.target.empty()) bad(what + ": a hard link to the archive's top");
            } else if (type == AE_IFLNK) {
                const char* t = archive_entry_symlink(e);
                std::string target = t ? t : "";
                m.kind = Member::Kind::symlink;
                auto slash = m.name.rfind('/');
                auto joined = clean_path((slash == std::string::npos ? "" : m.name.substr(0, slash + 1)) + target);
                if (target.empty() || target[0] == '/' || !joined)
                    bad(what + ": a symlink to " + quoted(target) + ", outside the archive");
                if (joined->empty()) bad(what + ": a symlink to " + quoted(target) + ", the archive's top");
                m.target = *joined;
            } else if (type == AE_IFDIR) {
                m.kind = Member::Kind::dir;
            } else if (type == AE_IFREG) {
                bool keep = archive_entry_size(e) <= static_cast<int64_t>(o.max_document_bytes);
                std::string doc;
                Sha256 h;
                uint64_t total = 0;
                while (size_t n = r.read(buf.data(), buf.size())) {
                    h.update(buf.data(), n);
                    total += n;
                    if (m.head.size() < 8) m.head.append(buf.data(), std::min(n, 8 - m.head.size()));
                    if (keep) {
                        doc.append(buf.data(), n);
                        if (doc.size() > o.max_document_bytes) {
                            keep = false;
                            doc = {};
                        }
                    }
                }
                m.size = static_cast<int64_t>(total);
                m.digest = h.finish();
                auto first = doc.find_first_not_of(" \t\r\n");
                if (keep && first != std::string::npos && (doc[first] == '{' || doc[first] == '[')) {
                    kept += doc.size();
                    if (kept > o.max_documents_bytes)
                        bad("the archive's JSON documents take more than " +
                            std::to_string(o.max_documents_bytes >> 20) + " MiB");
                    m.doc = std::move(doc);
                }
            } else {
                bad(what + ": " + std::string(type_name(type)) +
                    "; an image archive holds only files, directories and links");
            }
            by_name_[m.name] = std::move(m);   // a later member of a name wins, as with tar -x
        }
        // A member under a symlink, a hard link or a file: tar -x would write
        // through the link (or fail); refused whatever the order.
        for (const auto& [name, m] : by_name_) {
            for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
                auto it = by_name_.find(name.substr(0, slash));
                if (it == by_name_.end() || it->second.kind == Member::Kind::dir) continue;
                bad("member " + quoted(name) + ": its parent " + quoted(it->first) + " is " +
                    (it->second.kind == Member::Kind::symlink ? "a symlink"
                     : it->second.kind == Member::Kind::hardlink ? "a hard link" : "a file") +
                    ", not a directory");
            }
        }
    }

    bool has(const std::string& name) const {
        auto it = by_name_.find(name);
        return it != by_name_.end() && it->second.kind != Member::Kind::dir;
    }

    // The file `ref` names (a path as manifest.json writes it), through
    // links (each already known to stay inside). `what` names the field.
    const Member& resolve(const std::string& ref, const std::string& what) const {
        if (ref.empty()) bad(what + ": empty path");
        auto outside = [&] { bad(what + ": " + quoted(ref) + " is outside the archive"); };
        if (ref[0] == '/') outside();
        auto n = clean_path(ref);
        if (!n || n->empty()) outside();
        std::string name = *n;
        for (int i = 0; i < kMaxLinks; ++i) {
            auto it = by_name_.find(name);
            if (it == by_name_.end()) bad(what + ": " + quoted(ref) + " is not in the archive");
            const Member& m = it->second;
            if (m.kind == Member::Kind::file) return m;
            if (m.kind == Member::Kind::dir) bad(what + ": " + quoted(ref) + " is a directory");
            name = m.target;
        }
        bad(what + ": " + quoted(ref) + ": too many levels of links");
    }

    const std::string& doc(const Member& m, const std::string& what) const {
        if (!m.doc) bad(what + ": " + quoted(m.name) + " is not a JSON document (of at most 4 MiB)");
        return *m.doc;
    }

private:
    std::map<std::string, Member> by_name_;
};

// ---- names

bool bare_tag(std::string_view s) {
    if (s.empty() || s.size() > 128 || s[0] == '.' || s[0] == '-') return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
    return true;
}

std::string tag_of(const std::string& ref, const std::string& what) {
    try {
        auto r = parse_reference(ref);
        if (r.tag.empty()) bad("no tag");
        return r.with_tag();
    } catch (const Error& e) {
        bad(what + ": " + e.what());
    }
}

// An OCI index entry's name, from its annotations; "" for none.
std::string oci_name(const si::Descriptor& d, const ArchiveOptions& o, const std::string& what) {
    if (auto it = d.annotations.find(kContainerdName); it != d.annotations.end())
        return tag_of(it->second, what + ": annotation " + kContainerdName);
    auto it = d.annotations.find(kRefName);
    if (it == d.annotations.end()) return "";
    if (bare_tag(it->second)) {
        if (o.base_name.empty()) return "";
        return tag_of(o.base_name + ":" + it->second, what + ": " + kRefName + " with the base name");
    }
    return tag_of(it->second, what + ": annotation " + kRefName);
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

// ---- the plan

class Planner {
public:
    Planner(const Members& m, const ArchiveOptions& o) : m_(m), o_(o) {}

    ArchivePlan plan() {
        if (m_.has("manifest.json")) {
            plan_.format = ArchiveFormat::docker;
            docker();
        } else if (m_.has("index.json")) {
            plan_.format = ArchiveFormat::oci;
            oci();
        } else {
            bad("neither manifest.json (a docker-archive) nor index.json (an OCI layout) at the top of the archive");
        }
        if (plan_.images.empty()) bad("no image for " + o_.platform.os + "/" + o_.platform.architecture +
                                      " in the archive");
        name_unnamed();
        for (auto& [d, b] : blobs_) plan_.blobs.push_back(b);
        return std::move(plan_);
    }

private:
    void add_blob(const Member& mem, const std::string& digest) {
        ArchiveBlob b;
        b.digest = digest;
        b.size = mem.size;
        b.member = mem.ordinal;
        b.name = mem.name;
        blobs_.emplace(digest, b);
    }

    // An OCI layout's blob for a descriptor: present, with its digest and size.
    const Member& oci_blob(const si::Descriptor& d, const std::string& what) {
        check_digest(d.digest, what + ": digest");
        std::string path = "blobs/sha256/" + digest_hex(d.digest);
        const Member& mem = m_.resolve(path, what + " (" + d.digest + ")");
        if (mem.digest != d.digest) bad(what + ": " + path + " has the digest " + mem.digest);
        if (mem.size != d.size)
            bad(what + ": " + path + " is " + std::to_string(mem.size) + " bytes, the descriptor says " +
                std::to_string(d.size));
        add_blob(mem, d.digest);
        return mem;
    }

    void add_image(ArchiveImage img, const std::string& name) {
        for (auto& x : plan_.images)
            if (x.config_digest == img.config_digest) {
                if (!name.empty()) add_unique(x.tags, name);
                return;
            }
        if (!name.empty()) img.tags.push_back(name);
        plan_.images.push_back(std::move(img));
    }

    static bool is_layer_type(const std::string& mt) {
        return mt.empty() || mt.starts_with("application/vnd.oci.image.layer.") ||
               mt.starts_with("application/vnd.docker.image.rootfs.");
    }

    void oci() {
        if (m_.has("oci-layout")) {
            const Member& l = m_.resolve("oci-layout", "oci-layout");
            json::Document doc(m_.doc(l, "oci-layout"), "oci-layout");
            if (!doc.root().is_object() || !doc.root().get("imageLayoutVersion").is_string())
                bad("oci-layout: imageLayoutVersion: expected a string");
        }
        const Member& top = m_.resolve("index.json", "index.json");
        auto index = si::parse_index(m_.doc(top, "index.json"), "index.json");
        for (size_t i = 0; i < index.manifests.size(); ++i) {
            const auto& d = index.manifests[i];
            std::string what = "index.json: manifests[" + std::to_string(i) + "]";
            if (d.platform) {   // an entry for another platform is not ours
                si::Descriptor as_manifest = d;
                as_manifest.media_type = si::media::oci_manifest;
                si::Index one;
                one.manifests.push_back(as_manifest);
                if (!si::select_platform(one, o_.platform)) continue;
            }
            // Artifacts and other documents that are not images are skipped.
            auto declared = si::classify(d.media_type, "");
            if (!d.media_type.empty() && declared == si::DocKind::unknown) continue;
            std::string name = oci_name(d, o_, what);
            const Member& mem = oci_blob(d, what);
            const std::string& body = m_.doc(mem, what);
            ArchiveImage img;
            si::Descriptor man_desc = d;
            std::string man_body = body;
            switch (si::classify(d.media_type, body)) {
            case si::DocKind::index: {
                auto nested = si::parse_index(body, what + " (index " + d.digest + ")");
                const si::Descriptor* m = si::select_platform(nested, o_.platform);
                if (!m)
                    bad(what + ": the index " + d.digest + " has no image for " + o_.platform.os + "/" +
                        o_.platform.architecture);
                img.index_digest = d.digest;
                man_desc = *m;
                std::string mwhat = what + " (index " + d.digest + ")";
                const Member& mm = oci_blob(man_desc, mwhat);
                man_body = m_.doc(mm, mwhat);
                if (si::classify(man_desc.media_type, man_body) != si::DocKind::manifest)
                    bad(mwhat + ": " + man_desc.digest + " is not an image manifest");
                break;
            }
            case si::DocKind::manifest: break;
            case si::DocKind::schema1: bad(what + ": a Docker schema 1 manifest, which berthd does not read");
            case si::DocKind::unknown: bad(what + ": " + d.digest + " is not an image manifest or index");
            }
            std::string mwhat = "manifest " + man_desc.digest;
            auto man = si::parse_manifest(man_body, mwhat);
            const Member& cm = oci_blob(man.config, mwhat + ": config");
            img.config = si::parse_image_config(m_.doc(cm, mwhat + ": config"), "config " + man.config.digest);
            if (img.config.diff_ids.size() != man.layers.size())
                bad(mwhat + ": " + std::to_string(man.layers.size()) + " layers, but its config has " +
                    std::to_string(img.config.diff_ids.size()) + " diff ids");
            img.manifest_digest = man_desc.digest;
            img.config_digest = man.config.digest;
            img.size = man_body.size() + static_cast<uint64_t>(man.config.size);
            for (size_t j = 0; j < man.layers.size(); ++j) {
                const auto& l = man.layers[j];
                std::string lwhat = mwhat + ": layers[" + std::to_string(j) + "]";
                if (!is_layer_type(l.media_type)) bad(lwhat + ": the media type " + quoted(l.media_type) + " is not a layer");
                oci_blob(l, lwhat);
                img.layer_digests.push_back(l.digest);
                img.size += static_cast<uint64_t>(l.size);
            }
            add_image(std::move(img), name);
        }
    }

    void docker() {
        const Member& top = m_.resolve("manifest.json", "manifest.json");
        json::Document doc(m_.doc(top, "manifest.json"), "manifest.json");
        auto root = doc.root();
        if (!root.is_array()) bad("manifest.json: expected an array of images");
        auto entries = root.as_array();
        for (size_t i = 0; i < entries.size(); ++i) {
            const auto& e = entries[i];
            std::string what = "manifest.json: [" + std::to_string(i) + "]";
            if (!e.is_object()) bad(what + ": expected an object");
            std::string cfg_path = e.get("Config").as_string();
            const Member& cm = m_.resolve(cfg_path, what + ".Config");
            ArchiveImage img;
            img.config = si::parse_image_config(m_.doc(cm, what + ".Config"), what + ".Config " + quoted(cfg_path));
            img.config_digest = cm.digest;
            add_blob(cm, cm.digest);
            std::vector<std::string> tags;
            if (auto t = e.find("RepoTags")) {
                auto list = t->as_string_array();
                for (size_t k = 0; k < list.size(); ++k)
                    add_unique(tags, tag_of(list[k], what + ".RepoTags[" + std::to_string(k) + "]"));
            }
            auto layers = e.get("Layers").as_string_array();
            const auto& diff_ids = img.config.diff_ids;
            if (layers.size() != diff_ids.size())
                bad(what + ": " + std::to_string(layers.size()) + " Layers, but its config has " +
                    std::to_string(diff_ids.size()) + " diff ids");
            json::Writer w;
            w.begin_object().kv("schemaVersion", 2).kv("mediaType", si::media::docker_manifest);
            w.key("config").begin_object().kv("mediaType", si::media::docker_config).kv("size", cm.size)
                .kv("digest", cm.digest).end_object();
            w.key("layers").begin_array();
            img.size = static_cast<uint64_t>(cm.size);
            for (size_t j = 0; j < layers.size(); ++j) {
                std::string lwhat = what + ".Layers[" + std::to_string(j) + "]";
                const Member& lm = m_.resolve(layers[j], lwhat);
                std::string_view mt = kDockerLayerTar;
                if (lm.head.starts_with("\x1f\x8b")) mt = si::media::docker_layer_gzip;
                else if (lm.head.starts_with("\x28\xb5\x2f\xfd")) mt = kDockerLayerZstd;
                else if (lm.digest != diff_ids[j])
                    bad(lwhat + " " + quoted(layers[j]) + ": its digest " + lm.digest +
                        " is not the config's diff id " + diff_ids[j] + " (and it is not gzip or zstd)");
                add_blob(lm, lm.digest);
                img.layer_digests.push_back(lm.digest);
                img.size += static_cast<uint64_t>(lm.size);
                w.begin_object().kv("mediaType", mt).kv("size", lm.size).kv("digest", lm.digest).end_object();
            }
            w.end_array().end_object();
            std::string manifest = w.str();
            img.manifest_digest = sha256_digest(manifest);
            img.size += manifest.size();
            plan_.documents[img.manifest_digest] = manifest;
            if (tags.empty()) add_image(std::move(img), "");
            for (const auto& t : tags) add_image(img, t);
        }
    }

    void name_unnamed() {
        if (o_.tag.empty()) return;
        std::string name = tag_of(o_.tag, "tag");
        std::vector<ArchiveImage*> unnamed;
        for (auto& i : plan_.images)
            if (i.tags.empty()) unnamed.push_back(&i);
        if (unnamed.size() > 1)
            bad("tag " + name + ": the archive has " + std::to_string(unnamed.size()) +
                " images without a name; a tag can name one");
        if (unnamed.size() == 1) unnamed[0]->tags.push_back(name);
    }

    const Members& m_;
    const ArchiveOptions& o_;
    ArchivePlan plan_;
    std::map<std::string, ArchiveBlob> blobs_;
};

// ---- writing

class TarWriter {
public:
    TarWriter(const std::function<void(const char*, size_t)>& out, const std::function<bool()>& cancelled)
        : out_(out), cancelled_(cancelled) {
        archive_write_set_format_pax_restricted(a_);
        archive_write_set_bytes_per_block(a_, 256 << 10);
        archive_write_set_bytes_in_last_block(a_, 1);
        if (archive_write_open(a_, this, nullptr, &TarWriter::write_cb, nullptr) != ARCHIVE_OK) fail();
    }
    TarWriter(const TarWriter&) = delete;
    TarWriter& operator=(const TarWriter&) = delete;

    void dir(const std::string& name) { header(name, AE_IFDIR, 0755, 0); }
    void file(const std::string& name, std::string_view data) {
        header(name, AE_IFREG, 0644, static_cast<int64_t>(data.size()));
        write(data.data(), data.size());
    }
    void header(const std::string& name, mode_t type, mode_t perm, int64_t size) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, perm);
        archive_entry_set_size(e, size);
        archive_entry_set_mtime(e, 0, 0);   // the same image makes the same archive
        int rc = archive_write_header(a_, e);
        archive_entry_free(e);
        if (rc < ARCHIVE_WARN) fail();
    }
    void write(const void* p, size_t n) {
        if (cancelled_ && cancelled_()) throw Error(ECANCELED, "save: cancelled");
        if (n && archive_write_data(a_, p, n) < 0) fail();
    }
    void close() {
        if (archive_write_close(a_) != ARCHIVE_OK) fail();
    }

private:
    [[noreturn]] void fail() {
        if (error_) std::rethrow_exception(error_);
        const char* s = archive_error_string(a_);
        throw Error(EIO, std::string("write the archive: ") + (s ? s : "unknown error"));
    }
    static la_ssize_t write_cb(archive*, void* ud, const void* buf, size_t n) {
        auto* w = static_cast<TarWriter*>(ud);
        if (w->error_) return -1;
        try {
            w->out_(static_cast<const char*>(buf), n);
        } catch (...) {
            w->error_ = std::current_exception();
            return -1;
        }
        return static_cast<la_ssize_t>(n);
    }

    const std::function<void(const char*, size_t)>& out_;
    const std::function<bool()>& cancelled_;
    std::unique_ptr<archive, decltype(&archive_write_free)> own_{archive_write_new(), &archive_write_free};
    archive* a_ = own_.get();
    std::exception_ptr error_;
};

UniqueFd open_blob(const ContentStore& content, const std::string& digest, int64_t* size) {
    std::string p = content.path(digest);
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) throw Error(ENOENT, "blob " + digest + " is not in the content store");
        throw_errno("open " + p);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) throw_errno("stat " + p);
    *size = st.st_size;
    return fd;
}

void copy_blob(TarWriter& w, const ContentStore& content, const std::string& digest, const std::string& name) {
    int64_t size = 0;
    UniqueFd fd = open_blob(content, digest, &size);
    w.header(name, AE_IFREG, 0644, size);
    std::vector<char> buf(kChunk);
    int64_t done = 0;
    while (done < size) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read blob " + digest);
        if (n == 0) throw Error(EIO, "blob " + digest + ": shorter than it was");
        size_t k = static_cast<size_t>(std::min<int64_t>(n, size - done));
        w.write(buf.data(), k);
        done += static_cast<int64_t>(k);
    }
}

// A docker-archive wants the uncompressed layer tar, and a tar header
// wants its size first: one pass measures (and checks the diff id), the
// second writes.
void copy_layer_uncompressed(TarWriter& w, const ContentStore& content, const std::string& digest,
                             const std::string& diff_id, const std::string& name) {
    if (digest == diff_id) return copy_blob(w, content, digest, name);
    auto stream = [&](const std::function<void(const void*, size_t)>& each) {
        int64_t size = 0;
        LayerStream s(open_blob(content, digest, &size));
        const void* p;
        size_t n;
        uint64_t total = 0;
        for (;;) {
            if (!s.next(&p, &n)) throw Error(EBADMSG, "layer " + digest + ": " + s.error());
            if (!n) break;
            each(p, n);
            total += n;
        }
        std::string got = s.finish();
        if (got != diff_id)
            throw Error(EBADMSG, "layer " + digest + ": uncompressed, its digest is " + got + ", not the diff id " + diff_id);
        return total;
    };
    uint64_t size = stream([](const void*, size_t) {});
    w.header(name, AE_IFREG, 0644, static_cast<int64_t>(size));
    uint64_t again = stream([&](const void* p, size_t n) {
        if (n > size) throw Error(EBADMSG, "layer " + digest + ": longer than it was");
        size -= n;
        w.write(p, n);
    });
    (void)again;
    if (size) throw Error(EBADMSG, "layer " + digest + ": shorter than it was");
}

// Images by id, their tags merged, in the order given.
std::vector<ArchiveExport> merged(const std::vector<ArchiveExport>& in) {
    std::vector<ArchiveExport> out;
    for (const auto& x : in) {
        auto it = std::find_if(out.begin(), out.end(), [&](const auto& o) { return o.record.id == x.record.id; });
        if (it == out.end()) {
            out.push_back(x);
            continue;
        }
        for (const auto& t : x.tags) add_unique(it->tags, t);
    }
    return out;
}

// The OCI media type for a Docker schema 2 layer's; "" for one unknown.
std::string_view oci_layer_type(std::string_view docker) {
    if (docker == si::media::docker_layer_gzip) return si::media::oci_layer_gzip;
    if (docker == kDockerLayerTar) return si::media::oci_layer;
    if (docker == kDockerLayerZstd) return si::media::oci_layer_zstd;
    if (docker == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
        return "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    if (docker.starts_with("application/vnd.oci.")) return docker;
    return "";
}

void descriptor(json::Writer& w, const si::Descriptor& d, std::string_view media_type) {
    w.begin_object().kv("mediaType", media_type).kv("digest", d.digest).kv("size", d.size);
    if (!d.urls.empty()) w.key("urls").string_array(d.urls);
    if (!d.annotations.empty()) w.key("annotations").string_map(d.annotations);
    w.end_object();
}

// An OCI archive holds OCI manifests: skopeo and podman look for no other
// media type in index.json. A Docker schema 2 manifest (a pull from Docker
// Hub, a docker-archive loaded) is written again with the OCI media types,
// naming the same config and layer blobs, so the image id stays the same.
std::string as_oci_manifest(const si::Manifest& m, const std::string& what) {
    json::Writer w;
    w.begin_object().kv("schemaVersion", 2).kv("mediaType", si::media::oci_manifest);
    w.key("config");
    descriptor(w, m.config, si::media::oci_config);
    w.key("layers").begin_array();
    for (size_t i = 0; i < m.layers.size(); ++i) {
        auto mt = oci_layer_type(m.layers[i].media_type);
        if (mt.empty())
            throw Error(EINVAL, what + ": layers[" + std::to_string(i) + "]: no OCI media type for " +
                                    quoted(m.layers[i].media_type));
        descriptor(w, m.layers[i], mt);
    }
    w.end_array();
    if (!m.annotations.empty()) w.key("annotations").string_map(m.annotations);
    w.end_object();
    return w.str();
}

void write_oci(TarWriter& w, const std::vector<ArchiveExport>& images, const ContentStore& content) {
    w.file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
    json::Writer idx;
    idx.begin_object().kv("schemaVersion", 2).kv("mediaType", si::media::oci_index);
    idx.key("manifests").begin_array();
    std::vector<std::string> blobs;
    std::map<std::string, std::string> made;   // OCI manifests written from Docker ones
    for (const auto& x : images) {
        const auto& r = x.record;
        std::string what = "manifest " + r.manifest_digest + " of " + r.id;
        std::string body = content.read(r.manifest_digest);
        auto man = si::parse_manifest(body, what);
        std::string digest = r.manifest_digest;
        if (man.media_type == si::media::docker_manifest) {
            body = as_oci_manifest(man, what);
            digest = sha256_digest(body);
            made[digest] = body;
        } else if (!man.media_type.empty() && man.media_type != si::media::oci_manifest) {
            throw Error(EINVAL, what + ": the media type " + quoted(man.media_type) + " is not an image manifest");
        }
        std::vector<std::string> names = x.tags;
        if (names.empty()) names.push_back("");
        for (const auto& n : names) {
            idx.begin_object().kv("mediaType", si::media::oci_manifest).kv("digest", digest);
            idx.kv("size", static_cast<uint64_t>(body.size()));
            if (!n.empty()) {
                idx.key("annotations").begin_object().kv(kContainerdName, n).kv(kRefName, n).end_object();
            }
            idx.end_object();
        }
        add_unique(blobs, digest);
        add_unique(blobs, man.config.digest);
        for (const auto& l : man.layers) add_unique(blobs, l.digest);
    }
    idx.end_array().end_object();
    w.file("index.json", idx.str());
    w.dir("blobs");
    w.dir("blobs/sha256");
    for (const auto& d : blobs) {
        std::string name = "blobs/sha256/" + digest_hex(d);
        if (auto it = made.find(d); it != made.end()) w.file(name, it->second);
        else copy_blob(w, content, d, name);
    }
}

void write_docker(TarWriter& w, const std::vector<ArchiveExport>& images, const ContentStore& content) {
    json::Writer m;
    m.begin_array();
    for (const auto& x : images) {
        const auto& r = x.record;
        if (r.layer_digests.size() != r.diff_ids.size())
            throw Error(EINVAL, "image " + r.id + ": its record has " + std::to_string(r.layer_digests.size()) +
                                    " layers and " + std::to_string(r.diff_ids.size()) + " diff ids");
        m.begin_object().kv("Config", digest_hex(r.config_digest) + ".json");
        m.key("RepoTags").string_array(x.tags);
        m.key("Layers").begin_array();
        for (const auto& d : r.diff_ids) m.string(digest_hex(d) + "/layer.tar");
        m.end_array().end_object();
    }
    m.end_array();
    w.file("manifest.json", m.str());
    std::set<std::string> done;
    for (const auto& x : images) {
        const auto& r = x.record;
        std::string cfg = digest_hex(r.config_digest) + ".json";
        if (done.insert(cfg).second) copy_blob(w, content, r.config_digest, cfg);
        for (size_t i = 0; i < r.diff_ids.size(); ++i) {
            std::string dir = digest_hex(r.diff_ids[i]);
            if (!done.insert(dir).second) continue;
            w.dir(dir);
            copy_layer_uncompressed(w, content, r.layer_digests[i], r.diff_ids[i], dir + "/layer.tar");
        }
    }
}

} // namespace

std::string_view archive_format_name(ArchiveFormat f) {
    return f == ArchiveFormat::oci ? "oci-archive" : "docker-archive";
}

ArchiveFormat parse_archive_format(std::string_view name) {
    if (name == "oci-archive" || name == "oci") return ArchiveFormat::oci;
    if (name.empty() || name == "docker-archive" || name == "docker") return ArchiveFormat::docker;
    throw Error(EINVAL, "format " + quoted(name) + ": expected oci-archive or docker-archive");
}

ArchivePlan read_archive(int fd, const ArchiveOptions& o) {
    if (!o.base_name.empty()) {
        auto r = parse_reference(o.base_name);   // EINVAL naming it
        auto last = o.base_name.rfind('/');
        if (!r.digest.empty() || o.base_name.find(':', last == std::string::npos ? 0 : last) != std::string::npos)
            bad("base name " + quoted(o.base_name) + ": a repository without a tag or digest expected");
    }
    Members m(fd, o);
    return Planner(m, o).plan();
}

void store_archive(int fd, const ArchivePlan& plan, ContentStore& content, const std::function<bool()>& cancelled) {
    std::map<size_t, const ArchiveBlob*> wanted;
    for (const auto& b : plan.blobs)
        if (!content.has(b.digest)) wanted.emplace(b.member, &b);
    if (!wanted.empty()) {
        TarReader r(fd);
        std::vector<char> buf(kChunk);
        while (!wanted.empty()) {
            if (!r.next()) break;
            auto it = wanted.find(r.ordinal());
            if (it == wanted.end()) continue;
            const ArchiveBlob& b = *it->second;
            auto w = content.writer(b.digest, b.size);
            // No ingest is kept for a resume: a load starts over.
            try {
                if (!w->committed()) {
                    w->restart();
                    while (size_t n = r.read(buf.data(), buf.size())) {
                        if (cancelled && cancelled()) throw Error(ECANCELED, "load: cancelled");
                        w->write(buf.data(), n);
                    }
                    w->commit();
                }
            } catch (const Error& e) {
                w->discard();
                if (e.err() != EBADMSG && e.err() != EFBIG) throw;
                bad(b.name + ": " + e.what());   // the archive changed under us
            }
            wanted.erase(it);
        }
        if (!wanted.empty()) bad(wanted.begin()->second->name + ": no longer in the archive");
    }
    for (const auto& [digest, text] : plan.documents) content.put(digest, text);
}

void write_archive(ArchiveFormat f, const std::vector<ArchiveExport>& images, const ContentStore& content,
                   const std::function<void(const char*, size_t)>& out, const std::function<bool()>& cancelled) {
    auto all = merged(images);
    TarWriter w(out, cancelled);
    if (f == ArchiveFormat::oci) write_oci(w, all, content);
    else write_docker(w, all, content);
    w.close();
}

} // namespace berth::image
