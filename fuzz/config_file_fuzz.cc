// PROXMOX_CONFIG_FILE: any file content is a configuration or an error naming the place.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "common/config_file.h"

namespace {

// One private file, rewritten for every input and removed at exit.
struct TempFile {
  TempFile() {
    char name[] = "/tmp/pvegw-config-fuzz-XXXXXX";
    const int fd = mkstemp(name);
    if (fd >= 0) close(fd);
    path = name;
  }
  ~TempFile() { unlink(path.c_str()); }
  std::string path;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const TempFile file;
  const std::string& path = file.path;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  std::vector<std::string> warnings;
  (void)pvegw::ConfigFile::Load(path, pvegw::ConfigKeys(), {}, &warnings);
  return 0;
}
