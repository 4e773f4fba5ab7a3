#include "gc.hpp"

#include <set>

namespace berth::image {

GcResult collect_garbage(const ImageStore& images, ContentStore& content, LayerStore& layers, const GcOptions& o) {
    std::set<std::string> blobs(o.leased_digests.begin(), o.leased_digests.end());
    std::set<std::string> chains(o.leased_chain_ids.begin(), o.leased_chain_ids.end());
    for (const auto& r : images.list()) {
        for (const auto* d : {&r.manifest_digest, &r.index_digest, &r.config_digest})
            if (!d->empty()) blobs.insert(*d);
        blobs.insert(r.layer_digests.begin(), r.layer_digests.end());
        chains.insert(r.chain_ids.begin(), r.chain_ids.end());
    }
    GcResult res;
    for (const auto& l : layers.list()) {
        if (chains.count(l.chain_id)) continue;
        layers.remove(l.chain_id);
        res.layers++;
        res.bytes += l.bytes;
    }
    res.layers += layers.remove_incomplete();
    for (const auto& d : content.list()) {
        if (blobs.count(d)) continue;
        int64_t size = content.size(d);
        content.remove(d);
        res.blobs++;
        if (size > 0) res.bytes += static_cast<uint64_t>(size);
    }
    content.remove_stale_ingests(o.ingest_max_age);
    return res;
}

GcResult collect_garbage(const ImageStore& images, ContentStore& content, LayerStore& layers,
                         const std::vector<std::string>& leased_chain_ids) {
    GcOptions o;
    o.leased_chain_ids = leased_chain_ids;
    return collect_garbage(images, content, layers, o);
}

} // namespace berth::image
