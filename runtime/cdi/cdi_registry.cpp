// Loading the CDI spec directories into a Registry.
#include "cdi_devices.hpp"

#include "error.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

namespace berth::cdi {

namespace {

bool spec_file_name(const std::string& n) {
    auto ends = [&](const char* s) {
        size_t l = std::char_traits<char>::length(s);
        return n.size() > l && n.compare(n.size() - l, l, s) == 0;
    };
    return ends(".json") || ends(".yaml");
}

// The spec file names of dir, sorted; a missing dir has none.
std::vector<std::string> list_dir(const std::string& dir, std::vector<std::string>& errors) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        if (errno != ENOENT && errno != ENOTDIR) errors.push_back(dir + ": " + std::strerror(errno));
        return out;
    }
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n[0] == '.' || !spec_file_name(n)) continue;
        struct stat st;
        std::string p = dir + "/" + n;
        if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) out.push_back(p);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

void Registry::add(spec::cdi::Spec s, const std::string& path, int priority) {
    try {
        spec::cdi::validate_spec(s, path);
    } catch (const Error& e) {
        errors.push_back(e.what());
        return;
    }
    size_t fi = files.size();
    files.push_back({path, priority, std::move(s)});
    const auto& spec = files.back().spec;
    for (size_t di = 0; di < spec.devices.size(); ++di) {
        std::string name = spec.kind + "=" + spec.devices[di].name;
        auto it = devices.find(name);
        if (it == devices.end()) {
            devices[name] = {fi, di};
            continue;
        }
        const auto& old = files[it->second.file];
        if (priority > old.priority) {
            it->second = {fi, di};
            conflicts.erase(name);
        } else if (priority == old.priority) {
            conflicts[name] = "CDI device " + name + " is defined by both " + old.path + " and " + path;
        }
    }
}

Registry Registry::load(const std::vector<std::string>& dirs) {
    Registry r;
    r.dirs = dirs;
    for (size_t i = 0; i < dirs.size(); ++i) {
        for (const auto& path : list_dir(dirs[i], r.errors)) {
            spec::cdi::Spec s;
            try {
                s = spec::cdi::read_spec_file(path);
            } catch (const Error& e) {
                r.errors.push_back(e.what());
                continue;
            }
            r.add(std::move(s), path, static_cast<int>(i));
        }
    }
    return r;
}

} // namespace berth::cdi
