// libFuzzer target for the image archive loader (cri/image/archive.cpp):
// the input is an archive as `berthctl load` hands it to berthd (an OCI
// layout or a docker-archive, as a tar, maybe compressed), read with
// read_archive from a memfd. Its tar headers get their checksums
// recomputed (tar_checksums.hpp). The loader's own parsing is what is
// fuzzed: member names and links resolved inside the archive, index.json,
// nested indexes and manifests (spec/image), manifest.json, image
// configs, RepoTags and ref.name annotations (cri/registry's references).
// What it plans must hold together:
//   - at least one image, each with its config and every layer among the
//     plan's blobs, its manifest among the blobs or the documents berth
//     wrote (docker-archive), as many layers as diff ids;
//   - blobs once per digest, from a member of the archive, sizes not
//     negative; each document's digest is its sha256;
//   - tags unique per image and normalised (they parse to themselves).
// berth::Error is how the loader refuses an archive; anything else is a
// finding.
#include "archive.hpp"
#include "digest.hpp"
#include "error.hpp"
#include "reference.hpp"
#include "tar_checksums.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

using namespace berth::image;

namespace {

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "fuzz_image_archive: %s\n", what.c_str());
    __builtin_trap();
}

void check(const ArchivePlan& plan) {
    if (plan.images.empty()) finding("a plan without an image");
    std::set<std::string> blobs;
    for (const auto& b : plan.blobs) {
        if (!blobs.insert(b.digest).second) finding("blob " + b.digest + " twice in the plan");
        if (!valid_digest(b.digest)) finding("blob digest " + b.digest);
        if (b.size < 0 || b.member < 1) finding("blob " + b.digest + ": size or member");
    }
    for (const auto& [digest, text] : plan.documents)
        if (sha256_digest(text) != digest) finding("document " + digest + " is not its sha256");
    for (const auto& img : plan.images) {
        if (!blobs.count(img.config_digest)) finding("config " + img.config_digest + " is not a blob of the plan");
        if (!blobs.count(img.manifest_digest) && !plan.documents.count(img.manifest_digest))
            finding("manifest " + img.manifest_digest + " is neither a blob nor a document");
        for (const auto& l : img.layer_digests)
            if (!blobs.count(l)) finding("layer " + l + " is not a blob of the plan");
        if (img.layer_digests.size() != img.config.diff_ids.size())
            finding(std::to_string(img.layer_digests.size()) + " layers for " +
                    std::to_string(img.config.diff_ids.size()) + " diff ids");
        std::set<std::string> tags;
        for (const auto& t : img.tags) {
            if (!tags.insert(t).second) finding("tag " + t + " twice on an image");
            try {
                if (parse_reference(t).with_tag() != t) finding("tag " + t + " is not normalised");
            } catch (const berth::Error& e) {
                finding("tag " + t + " does not parse: " + e.what());
            }
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string archive(reinterpret_cast<const char*>(data), size);
    fuzz::fix_tar_checksums(archive);
    int fd = ::memfd_create("fuzz-archive", MFD_CLOEXEC);
    if (fd < 0 || ::write(fd, archive.data(), archive.size()) != static_cast<ssize_t>(archive.size())) {
        std::perror("fuzz_image_archive: memfd");
        std::abort();
    }
    ArchiveOptions o;
    o.platform = {"linux", "amd64", "", "", {}};
    o.base_name = "registry.example.com/base";
    if (size % 2) o.tag = "local/fuzz:1";   // names the one unnamed image, or refuses several
    o.max_members = 1000;
    o.max_document_bytes = 64 << 10;
    o.max_documents_bytes = 1 << 20;
    try {
        check(read_archive(fd, o));
    } catch (const berth::Error& e) {
        static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;   // why a seed is refused
        if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
    }
    ::close(fd);
    return 0;
}
