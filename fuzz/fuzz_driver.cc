// Runs a libFuzzer target (LLVMFuzzerTestOneInput) without libFuzzer, so every compiler and
// the sanitizer build can run it under ctest: first every file of the seed directories, then
// --runs inputs mutated from them (byte flips, inserts, deletions, truncation, splices and
// bytes from a dictionary of interesting values) with a fixed --seed, so a failure repeats.
// A crash, sanitizer report or abort ends the process; the input is written to
// --crash_dir first. Coverage-guided fuzzing: build the same targets with
// -DPVEGW_LIBFUZZER=ON (clang) instead.
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

constexpr std::size_t kMaxInputBytes = 64 * 1024;
std::string g_current;     // the input being run, for the crash file
std::string g_crash_path;  // where it goes

void OnFatal(int sig) {
  if (!g_crash_path.empty()) {
    if (FILE* f = std::fopen(g_crash_path.c_str(), "wb")) {
      std::fwrite(g_current.data(), 1, g_current.size(), f);
      std::fclose(f);
    }
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void Run(const std::string& input) {
  g_current = input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

std::string Mutate(const std::vector<std::string>& seeds, std::mt19937_64& rng) {
  static const char* const kDictionary[] = {
      "\r\n",   "\r\n\r\n", "%",    "%00",        "%zz",
      "%C3%A9", "\xc3",     "\xff", "=",          "&",
      ";",      ",",        ":",    "!",          "@",
      "\"",     "\\",       "{",    "}",          "[",
      "]",      "-1",       "0",    "4294967296", "99999999999999999999",
      "1e400",  "null",     "true", "UPID:",      "PVEAPIToken=",
      "\t",     " "};
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  std::string s = seeds[pick(seeds.size())];
  const int steps = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < steps; ++i) {
    switch (rng() % 7) {
      case 0:  // flip a byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
        break;
      case 1:  // insert a random byte
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pick(s.size() + 1)),
                 static_cast<char>(rng()));
        break;
      case 2: {  // delete a run
        if (s.empty()) break;
        const std::size_t at = pick(s.size());
        s.erase(at, 1 + pick(std::min<std::size_t>(16, s.size() - at)));
        break;
      }
      case 3:  // truncate
        s.resize(pick(s.size() + 1));
        break;
      case 4: {  // splice another seed's tail
        const std::string& other = seeds[pick(seeds.size())];
        s = s.substr(0, pick(s.size() + 1)) + other.substr(pick(other.size() + 1));
        break;
      }
      case 5:  // an interesting token
        s.insert(pick(s.size() + 1), kDictionary[pick(std::size(kDictionary))]);
        break;
      default: {  // repeat a run
        if (s.empty()) break;
        const std::size_t at = pick(s.size());
        const std::string run = s.substr(at, 1 + pick(8));
        for (int r = static_cast<int>(rng() % 64); r > 0 && s.size() < kMaxInputBytes; --r) {
          s.insert(at, run);
        }
        break;
      }
    }
  }
  if (s.size() > kMaxInputBytes) s.resize(kMaxInputBytes);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 10000;
  unsigned long long seed = 1;
  std::vector<std::string> seeds;
  std::string crash_dir = ".";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--runs=", 0) == 0) {
      runs = std::stol(arg.substr(7));
    } else if (arg.rfind("--seed=", 0) == 0) {
      seed = std::stoull(arg.substr(7));
    } else if (arg.rfind("--crash_dir=", 0) == 0) {
      crash_dir = arg.substr(12);
    } else if (arg == "--help") {
      std::cout << "usage: " << argv[0]
                << " [--runs=N] [--seed=S] [--crash_dir=DIR] SEED_FILE_OR_DIR...\n";
      return 0;
    } else {
      std::error_code ec;
      if (std::filesystem::is_directory(arg, ec)) {
        for (const auto& entry : std::filesystem::directory_iterator(arg)) {
          std::ifstream in(entry.path(), std::ios::binary);
          seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
      } else {
        std::ifstream in(arg, std::ios::binary);
        if (!in) {
          std::cerr << "cannot read seed " << arg << "\n";
          return 2;
        }
        seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
    }
  }
  if (seeds.empty()) seeds.emplace_back();
  g_crash_path = crash_dir + "/crash-" + std::filesystem::path(argv[0]).filename().string();
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, OnFatal);
  for (const std::string& s : seeds) Run(s);
  Run("");
  std::mt19937_64 rng(seed);
  for (long i = 0; i < runs; ++i) Run(Mutate(seeds, rng));
  std::cout << argv[0] << ": " << seeds.size() << " seeds and " << runs
            << " mutated inputs, no crash (seed " << seed << ")\n";
  return 0;
}
