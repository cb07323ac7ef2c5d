// Custom mock data (PROXMOX_MOCK_DATA_PATH / --mock_data, JSON or YAML) as the mock world
// reads it at start-up and on reset: the input is the file. It must seed the world or be
// refused with a clear error, never crash; the world then answers the reads that list what
// custom data usually seeds.
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "fuzz/mock_world.h"
#include "mockstate/mock_backend.h"

namespace {

using namespace pvegw::mockstate;

struct World {
  std::string dir;
  std::string data;  // the custom data file, rewritten for every input
  std::unique_ptr<MockBackend> mock;
};

World* TheWorld() {
  static World* world = [] {
    auto* w = new World;
    w->dir = pvegw::fuzz::FuzzStateDir("/dev/shm/pvegw-fuzz-data-XXXXXX");
    w->data = w->dir + "/data.yaml";
    std::ofstream(w->data) << "";
    MockOptions options;
    options.data_path = w->data;
    w->mock = pvegw::fuzz::MakeMockWorld(w->dir, std::move(options));
    return w;
  }();
  return world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World* w = TheWorld();
  {
    std::ofstream out(w->data, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const absl::Status st = w->mock->Reset();
  if (!st.ok() && st.message().empty()) __builtin_trap();  // a refusal always says why
  for (const char* path : {"/cluster/resources", "/nodes/pve1/qemu", "/nodes/pve1/qemu/100/config",
                           "/nodes/pve1/storage", "/access/users"}) {
    pvegw::RestRequest get;
    get.verb = "GET";
    get.path = path;
    const pvegw::RestResponse answer = w->mock->Call(get);
    if (answer.status == 0 || answer.body.empty()) __builtin_trap();
  }
  return 0;
}
