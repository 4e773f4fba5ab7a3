// berthctl's archive verbs (crictl has none; the flags are podman's):
//   load [-i FILE] [--base-name REPO] [--tag NAME]   (stdin without -i)
//   save [-o FILE] [--format docker-archive|oci-archive] IMAGE...   (stdout without -o)
// through berthd's berth.v1.Images (Load, Save), streamed in 1 MiB chunks.
#include "ctl.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

namespace berth::ctl {

namespace {

constexpr size_t kChunk = 1 << 20;

int load(Client& c, const Args& a) {
    if (!a.pos.empty()) throw Error(EINVAL, "load: no arguments expected; usage: berthctl load [-i FILE]");
    std::string path = a.get("input");
    UniqueFd fd;
    if (path.empty() || path == "-") {
        if (::isatty(STDIN_FILENO))
            throw Error(EINVAL, "load: no archive: give one with -i FILE, or on stdin");
        fd.reset(::dup(STDIN_FILENO));
        path = "stdin";
    } else {
        fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    }
    if (!fd) throw_errno("load: open " + path);

    auto ctx = c.context(std::chrono::milliseconds(0));
    berth::v1::LoadResponse resp;
    auto writer = c.berth_images().Load(ctx.get(), &resp);
    berth::v1::LoadChunk chunk;
    chunk.mutable_options()->set_base_name(a.get("base-name"));
    chunk.mutable_options()->set_tag(a.get("tag"));
    std::string buf(kChunk, '\0');
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("load: read " + path);
        if (n == 0) break;
        chunk.set_data(buf.data(), static_cast<size_t>(n));
        if (!writer->Write(chunk)) break;   // the server stopped early: Finish() says why
        chunk.clear_options();
    }
    writer->WritesDone();
    Client::check(writer->Finish(), "Load");
    if (a.has("quiet")) return 0;
    for (const auto& i : resp.images()) {
        for (const auto& t : i.repo_tags()) std::printf("Loaded image: %s\n", t.c_str());
        if (i.repo_tags().empty()) std::printf("Loaded image ID: %s\n", i.id().c_str());
    }
    return 0;
}

// The archive goes to a temp file beside FILE, renamed over it once
// complete: a failed save leaves no partial FILE.
class Output {
public:
    explicit Output(const std::string& path) : path_(path) {
        if (path.empty() || path == "-") {
            if (::isatty(STDOUT_FILENO))
                throw Error(EINVAL, "save: refusing to write an archive to a terminal; use -o FILE");
            fd_ = STDOUT_FILENO;
            return;
        }
        tmp_ = path + ".XXXXXX";
        fd_ = ::mkostemp(tmp_.data(), O_CLOEXEC);
        if (fd_ < 0) throw_errno("save: create " + tmp_);
        mode_t um = ::umask(0);
        ::umask(um);
        ::fchmod(fd_, 0666 & ~um);
    }
    ~Output() {
        if (tmp_.empty()) return;
        ::close(fd_);
        if (!done_) ::unlink(tmp_.c_str());
    }
    void write(const std::string& data) {
        size_t off = 0;
        while (off < data.size()) {
            ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("save: write " + (tmp_.empty() ? std::string("stdout") : tmp_));
            off += static_cast<size_t>(n);
        }
    }
    void commit() {
        if (tmp_.empty()) return;
        if (::fsync(fd_) < 0) throw_errno("save: fsync " + tmp_);
        if (::rename(tmp_.c_str(), path_.c_str()) < 0) throw_errno("save: rename " + tmp_ + " to " + path_);
        done_ = true;
    }

private:
    std::string path_, tmp_;
    int fd_ = -1;
    bool done_ = false;
};

int save(Client& c, const Args& a) {
    if (a.pos.empty())
        throw Error(EINVAL, "save: an image is required; usage: berthctl save [-o FILE] [--format FORMAT] IMAGE...");
    std::string format = a.get("format", "docker-archive");
    if (format != "docker-archive" && format != "oci-archive")
        throw Error(EINVAL, "save: --format: docker-archive or oci-archive, not \"" + format + "\"");
    Output out(a.get("output"));
    berth::v1::SaveRequest req;
    req.set_format(format);
    for (const auto& i : a.pos) req.add_images(i);
    auto ctx = c.context(std::chrono::milliseconds(0));
    auto reader = c.berth_images().Save(ctx.get(), req);
    berth::v1::SaveChunk chunk;
    while (reader->Read(&chunk)) out.write(chunk.data());
    Client::check(reader->Finish(), "Save");
    out.commit();
    return 0;
}

} // namespace

std::vector<Verb> archive_verbs() {
    return {
        {"load", "load [-i FILE] [--base-name REPO] [--tag NAME]",
         "Load images from an archive (docker-archive or OCI archive; stdin without -i)",
         {{"input", true, 'i', "the archive (default: stdin)"},
          {"base-name", true, 0, "the repository for images the archive names none for"},
          {"tag", true, 0, "the tag for them"},
          {"quiet", false, 'q', "print only the image ids"}},
         load},
        {"save", "save [-o FILE] [--format docker-archive|oci-archive] IMAGE...",
         "Save images to an archive (stdout without -o)",
         {{"output", true, 'o', "the archive to write (default: stdout)"},
          {"format", true, 0, "docker-archive (default) or oci-archive"}},
         save},
    };
}

} // namespace berth::ctl
