#pragma once
/// @file
/// The seed-corpus side of the fuzz targets (compiled with -DPARKIT_FUZZ_WRITE_CORPUS): the
/// corpus directory from the command line, and one seed file per call.

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

namespace parkit_fuzz {

/// The directory named by the only argument (created if missing); exits with usage otherwise.
inline std::filesystem::path corpus_directory(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
        std::exit(2);
    }
    std::filesystem::create_directories(argv[1]);
    return argv[1];
}

/// Writes seed-NNN in `dir`: the selector byte (which decoder or mode), then `rest`.
inline void write_seed(const std::filesystem::path& dir, std::size_t selector, const std::vector<std::byte>& rest) {
    static int count = 0;
    char name[32];
    std::snprintf(name, sizeof name, "seed-%03d", count++);
    std::ofstream out(dir / name, std::ios::binary);
    out.put(static_cast<char>(selector));
    out.write(reinterpret_cast<const char*>(rest.data()), static_cast<std::streamsize>(rest.size()));
}

}  // namespace parkit_fuzz
