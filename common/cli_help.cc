#include "common/cli_help.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/version.h"

namespace pvegw {
namespace {

constexpr std::size_t kHelpWidth = 84;

void PrintWrapped(const std::string& text) {
  std::size_t col = 0;
  std::cout << "      ";
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (col > 0 && col + word.size() + 1 > kHelpWidth) {
      std::cout << "\n      ";
      col = 0;
    }
    std::cout << (col > 0 ? " " : "") << word;
    col += word.size() + (col > 0 ? 1 : 0);
  }
  std::cout << "\n";
}

}  // namespace

bool FlagDefinedIn(const absl::CommandLineFlag& flag, absl::string_view file) {
  const std::string defined_in = flag.Filename();
  return !defined_in.empty() &&
         (absl::EndsWith(defined_in, file) || absl::EndsWith(file, defined_in));
}

void DisableMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

void HandleHelpAndVersion(int argc, char** argv, absl::string_view program,
                          absl::string_view flags_file) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--version" || arg == "-version") {
      std::cout << program << " " << kVersion << "\n";
      std::exit(0);
    }
    if (arg != "--help" && arg != "-help" && arg != "-h") continue;
    std::vector<const absl::CommandLineFlag*> flags;
    for (const auto& [name, flag] : absl::GetAllFlags()) {
      if (FlagDefinedIn(*flag, flags_file)) {
        flags.push_back(flag);
      }
    }
    std::sort(flags.begin(), flags.end(),
              [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
    std::cout << absl::ProgramUsageMessage() << "\n\nFlags:\n";
    for (const absl::CommandLineFlag* flag : flags) {
      const std::string def = flag->DefaultValue();
      std::cout << "  --" << flag->Name() << (def.empty() ? "" : " (default: " + def + ")") << "\n";
      PrintWrapped(flag->Help());
    }
    std::cout << "  --version\n";
    PrintWrapped("Print the version and exit.");
    std::exit(0);
  }
}

}  // namespace pvegw
