// Unpacked layers, each once, keyed by chain id (the image spec's
// ChainID: sha256 of "parent-chain-id diff-id", the first layer's chain id
// being its diff id), under ROOT/layers/<first 16 hex of the chain id>/ with
//   fs/        the layer's files (an overlayfs lowerdir)
//   metadata   JSON: the full chain id, diff id, bytes and inodes; written
//              last (atomically), so a directory without it is an unpack
//              that did not finish
// Directory names stay short so an overlay of many layers fits one page of
// mount options. Thread-safe: concurrent ensure() of one chain id unpack it
// once; different layers unpack in parallel.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace berth::image {

std::string chain_id(const std::string& parent_chain_id, const std::string& diff_id);

struct Layer {
    std::string chain_id, diff_id;
    std::string dir;          // .../layers/<id16>
    std::string fs() const { return dir + "/fs"; }
    uint64_t bytes = 0, inodes = 0;
};

class LayerStore {
public:
    explicit LayerStore(std::string root);   // the store's dir (ROOT/layers), created
    const std::string& root() const { return root_; }
    std::optional<Layer> find(const std::string& chain_id) const;
    // The layer chain_id, unpacked from blob_path if not there yet; throws
    // EBADMSG when the unpacked stream's digest is not expected_diff_id (and
    // removes what was unpacked). EEXIST if another chain id holds the dir.
    Layer ensure(const std::string& chain_id, const std::string& expected_diff_id, const std::string& blob_path,
                 const std::string& what, const std::function<bool()>& cancelled = {});
    void remove(const std::string& chain_id);   // no error if absent
    std::vector<Layer> list() const;
    // Unfinished unpacks (no metadata, or metadata that does not parse)
    // left by a crash are removed; those
    // in progress in this process are left alone. Returns how many.
    size_t remove_incomplete();

private:
    std::string root_;
    struct Locks;
    std::shared_ptr<Locks> locks_;
};

} // namespace berth::image
