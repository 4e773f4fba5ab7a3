// Loading a bundle's config.json: read, parse, validate, once.
#include "config.hpp"

#include "error.hpp"
#include "file_util.hpp"

namespace berth::spec {

Config load_bundle_config(const std::string& bundle, std::string* text_out, std::vector<std::string>* warnings) {
    std::string path = bundle + "/config.json";
    std::string text = read_file(path);   // its error already names the path
    return with_context(path, [&] {
        Config c = parse_config(text, "");
        auto relaxed = relax_config(c);
        validate_config(c, bundle);
        if (text_out) *text_out = relaxed.empty() ? std::move(text) : to_json(c);
        if (warnings) {
            for (auto& w : relaxed) warnings->push_back(path + ": " + w);
        }
        return c;
    });
}

} // namespace berth::spec
