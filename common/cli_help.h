// `--help` for our binaries: usage text plus each flag's help, exit status 0.
#ifndef PVEGW_COMMON_CLI_HELP_H_
#define PVEGW_COMMON_CLI_HELP_H_

#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iostream>
#include <string>

#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"

namespace pvegw {

// absl's own --help lists only flags of files named after the binary and exits 1; ours
// prints the program's usage message and the given flags, then exits 0. Call before
// absl::ParseCommandLine.
inline void HandleHelpFlag(int argc, char** argv, std::initializer_list<const char*> flags) {
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (std::strcmp(arg, "--help") != 0 && std::strcmp(arg, "-help") != 0 &&
        std::strcmp(arg, "-h") != 0) {
      continue;
    }
    std::cout << absl::ProgramUsageMessage() << "\n\nFlags:\n";
    for (const char* name : flags) {
      const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
      if (flag == nullptr) continue;
      std::string def = flag->DefaultValue();
      std::cout << "  --" << name << (def.empty() ? "" : " (default: " + def + ")") << "\n";
      std::string help = flag->Help();
      std::size_t col = 0;
      std::cout << "      ";
      for (std::size_t pos = 0; pos < help.size();) {
        std::size_t end = help.find(' ', pos);
        if (end == std::string::npos) end = help.size();
        const std::string word = help.substr(pos, end - pos);
        if (col > 0 && col + word.size() + 1 > 84) {
          std::cout << "\n      ";
          col = 0;
        }
        std::cout << (col > 0 ? " " : "") << word;
        col += word.size() + (col > 0 ? 1 : 0);
        pos = end + 1;
      }
      std::cout << "\n";
    }
    std::exit(0);
  }
}

}  // namespace pvegw

#endif  // PVEGW_COMMON_CLI_HELP_H_
