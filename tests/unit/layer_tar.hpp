// Layer tars for the image store's tests, written with libarchive's writer
// (pax, so xattrs and long names fit), plain, gzip or zstd.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace layer_tar {

struct Entry {
    std::string name;
    mode_t type = AE_IFREG;
    mode_t perm = 0644;
    std::string data;           // regular files
    std::string link;           // symlink target
    std::string hardlink;       // a hardlink to this earlier entry
    int64_t uid = 0, gid = 0;
    int64_t mtime = 1500000000, mtime_nsec = 0;
    unsigned dev_major = 0, dev_minor = 0;
    std::map<std::string, std::string> xattrs;
};

inline Entry file(std::string name, std::string data, mode_t perm = 0644) {
    Entry e;
    e.name = std::move(name);
    e.data = std::move(data);
    e.perm = perm;
    return e;
}
inline Entry dir(std::string name, mode_t perm = 0755) {
    Entry e;
    e.name = std::move(name);
    e.type = AE_IFDIR;
    e.perm = perm;
    return e;
}
inline Entry symlink(std::string name, std::string target) {
    Entry e;
    e.name = std::move(name);
    e.type = AE_IFLNK;
    e.perm = 0777;
    e.link = std::move(target);
    return e;
}
inline Entry hardlink(std::string name, std::string target) {
    Entry e;
    e.name = std::move(name);
    e.hardlink = std::move(target);
    return e;
}

enum class Compression { none, gzip, zstd };

inline std::string make(const std::vector<Entry>& entries, Compression c = Compression::gzip) {
    std::string out;
    archive* a = archive_write_new();
    archive_write_set_format_pax(a);
    if (c == Compression::gzip) archive_write_add_filter_gzip(a);
    if (c == Compression::zstd) archive_write_add_filter_zstd(a);
    archive_write_set_bytes_in_last_block(a, 1);
    auto write_cb = [](archive*, void* ud, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(ud)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
    };
    if (archive_write_open(a, &out, nullptr, write_cb, nullptr) != ARCHIVE_OK)
        throw std::runtime_error(archive_error_string(a));
    for (const auto& e : entries) {
        archive_entry* ae = archive_entry_new();
        archive_entry_set_pathname(ae, e.name.c_str());
        archive_entry_set_uid(ae, e.uid);
        archive_entry_set_gid(ae, e.gid);
        archive_entry_set_mtime(ae, e.mtime, e.mtime_nsec);
        if (!e.hardlink.empty()) {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, e.perm);
            archive_entry_set_hardlink(ae, e.hardlink.c_str());
            archive_entry_set_size(ae, 0);
        } else {
            archive_entry_set_filetype(ae, e.type);
            archive_entry_set_perm(ae, e.perm);
            if (e.type == AE_IFLNK) archive_entry_set_symlink(ae, e.link.c_str());
            if (e.type == AE_IFCHR || e.type == AE_IFBLK) {
                archive_entry_set_rdevmajor(ae, e.dev_major);
                archive_entry_set_rdevminor(ae, e.dev_minor);
            }
            archive_entry_set_size(ae, e.type == AE_IFREG ? static_cast<la_int64_t>(e.data.size()) : 0);
        }
        for (const auto& [k, v] : e.xattrs) archive_entry_xattr_add_entry(ae, k.c_str(), v.data(), v.size());
        // ARCHIVE_WARN: a name the C locale cannot convert, written as its bytes.
        if (archive_write_header(a, ae) < ARCHIVE_WARN) throw std::runtime_error(archive_error_string(a));
        if (e.type == AE_IFREG && e.hardlink.empty() && !e.data.empty())
            archive_write_data(a, e.data.data(), e.data.size());
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

// The uncompressed tar (what the diff id is the digest of).
inline std::string plain(const std::vector<Entry>& entries) { return make(entries, Compression::none); }

inline void write_file(const std::string& path, const std::string& data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("open " + path);
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n <= 0) {
            ::close(fd);
            throw std::runtime_error("write " + path);
        }
        off += static_cast<size_t>(n);
    }
    ::close(fd);
}

} // namespace layer_tar
