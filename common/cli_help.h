// `--help` and `--version` for our binaries, generated from the flags themselves so the
// list cannot drift from what the binary accepts.
#ifndef PVEGW_COMMON_CLI_HELP_H_
#define PVEGW_COMMON_CLI_HELP_H_

#include "absl/flags/commandlineflag.h"
#include "absl/strings/string_view.h"

namespace pvegw {

// Whether `flag` is defined in `file` (pass __FILE__). absl reports a flag's file with its
// leading '/' cut off, so comparing with __FILE__ directly fails for absolute paths.
bool FlagDefinedIn(const absl::CommandLineFlag& flag, absl::string_view file);

// Call first in main(), before absl::ParseCommandLine. `--help` (or -h, -help) prints the
// program usage message and every flag defined in `flags_file` (pass __FILE__ from the file
// that defines the binary's flags), sorted by name, with default and help text, then exits
// 0. `--version` prints "<program> <PROJECT_VERSION>" and exits 0. (absl's own --help lists
// only flags of files named after the binary and exits 1.)
void HandleHelpAndVersion(int argc, char** argv, absl::string_view program,
                          absl::string_view flags_file);

// Turns off absl::Mutex's deadlock detection for the process. Debian builds Abseil without
// NDEBUG, which leaves it on: every lock of every absl::Mutex (gRPC's own included) then
// updates a global lock graph. Call first in main() of the servers and load tools.
void DisableMutexDeadlockDetection();

}  // namespace pvegw

#endif  // PVEGW_COMMON_CLI_HELP_H_
