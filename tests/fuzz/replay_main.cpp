// Replays a libFuzzer corpus through a target without libFuzzer (the `fuzz` test suite): every
// file in every directory named on the command line is one input.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
    size_t n = 0;
    for (int i = 1; i < argc; ++i) {
        std::error_code ec;
        std::filesystem::directory_iterator it(argv[i], ec);
        if (ec) {
            std::fprintf(stderr, "replay: cannot read corpus %s: %s\n", argv[i], ec.message().c_str());
            return 1;
        }
        for (const auto& entry : it) {
            if (!entry.is_regular_file()) continue;
            std::ifstream in(entry.path(), std::ios::binary);
            std::vector<uint8_t> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            LLVMFuzzerTestOneInput(buf.data(), buf.size());
            ++n;
        }
    }
    if (n == 0) {
        std::fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    std::printf("replay: %zu inputs ran clean\n", n);
    return 0;
}
