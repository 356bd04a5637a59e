// Replays a fuzz corpus without libFuzzer: every file under the given
// directories (or the files themselves) is fed once to LLVMFuzzerTestOneInput.
// Used by `make test` so corpus entries, including past crashes, stay green.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

static int replay_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 1;
}

int main(int argc, char** argv) {
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path root(argv[i]);
    if (std::filesystem::is_directory(root)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
        if (e.is_regular_file()) files += replay_file(e.path());
      }
    } else {
      files += replay_file(root);
    }
  }
  std::printf("replayed %d corpus files\n", files);
  return files > 0 ? 0 : 1;  // an empty corpus is a broken test, not a pass
}
