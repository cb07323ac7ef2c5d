// Mock store and MockBackend cost as the world grows: the argument is the number of
// objects (guests) in the store. Single-object reads, a fixed-size collection read and
// VM creation should cost the same at 10 and at 100,000 objects.
// Run: build/bin/mockstate_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "bench/scratch.h"
#include "mockstate/backend_impl.h"
#include "mockstate/mock_backend.h"

namespace pvegw::mockstate {
namespace {

constexpr int kBatch = 10000;

struct World {
  std::string dir;
  std::unique_ptr<MockBackend> backend;
  ~World() {
    backend.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

std::shared_ptr<const api::ApiIndex> Api() {
  static std::shared_ptr<const api::ApiIndex> api = [] {
    const char* path = std::getenv("PVEGW_API_DESCRIPTORS");
    std::ifstream in(path != nullptr ? path : PVEGW_API_DESCRIPTORS, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    auto index = api::ApiIndex::FromDescriptorSet(buffer.str());
    if (!index.ok()) {
      std::fprintf(stderr, "cannot load descriptors: %s\n",
                   std::string(index.status().message()).c_str());
      std::exit(1);
    }
    return std::shared_ptr<const api::ApiIndex>(std::move(*index));
  }();
  return api;
}

// A world with `objects` extra guests on a third node, built once per size.
World& WorldOf(int objects) {
  static std::mutex mu;
  static auto* worlds = new std::map<int, std::unique_ptr<World>>();
  std::lock_guard<std::mutex> lock(mu);
  auto& world = (*worlds)[objects];
  if (world) return *world;
  world = std::make_unique<World>();
  world->dir = bench::Scratch::Get().MakeDir("/dev/shm/pvegw-bench-XXXXXX");
  if (world->dir.empty()) {
    std::perror("mkdtemp /dev/shm/pvegw-bench-XXXXXX");
    std::exit(1);
  }
  MockOptions options;
  options.store.dir = world->dir;
  options.store.capacity_bytes = std::size_t{4} << 30;
  world->backend = *MockBackend::Create(Api(), options);
  Store& store = world->backend->store();
  (void)store.Write([&](WriteTxn& txn) {
    return txn.Put(EntityKey("/nodes", "pve3"), R"({"node":"pve3","status":"online"})");
  });
  for (int start = 0; start < objects; start += kBatch) {
    (void)store.Write([&](WriteTxn& txn) -> absl::Status {
      for (int i = start; i < std::min(objects, start + kBatch); ++i) {
        const int vmid = 1000 + i;
        absl::Status st = txn.Put(
            EntityKey("/nodes/pve3/qemu", absl::StrCat(vmid)),
            absl::StrCat(R"({"vmid":)", vmid, R"(,"node":"pve3","status":"stopped","name":"vm)",
                         vmid, R"(","memory":"2048","cores":2,"net0":"virtio,bridge=vmbr0"})"));
        if (!st.ok()) return st;
        st = txn.Put(VmidKey(vmid), absl::StrCat("qemu", std::string(1, kSep), "pve3"));
        if (!st.ok()) return st;
      }
      return absl::OkStatus();
    });
  }
  return *world;
}

void Expect200(benchmark::State& state, const RestResponse& r) {
  if (r.status != 200) state.SkipWithError(r.reason.c_str());
}

void BM_StoreGet(benchmark::State& state) {
  World& world = WorldOf(static_cast<int>(state.range(0)));
  const std::string key = EntityKey("/nodes/pve1/qemu", "100");
  std::size_t bytes = 0;
  for (auto _ : state) {
    (void)world.backend->store().Read([&](ReadTxn& txn) {
      auto v = txn.Get(key);
      bytes += v ? v->size() : 0;
      return absl::OkStatus();
    });
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(state.iterations());
}

void BM_ReadObject(benchmark::State& state) {
  World& world = WorldOf(static_cast<int>(state.range(0)));
  const RestRequest request{"GET", "/nodes/pve1/qemu/100/config", {}};
  for (auto _ : state) Expect200(state, world.backend->Call(request));
  state.SetItemsProcessed(state.iterations());
}

void BM_ReadCollection(benchmark::State& state) {
  World& world = WorldOf(static_cast<int>(state.range(0)));
  const RestRequest request{"GET", "/nodes/pve1/qemu", {}};
  for (auto _ : state) Expect200(state, world.backend->Call(request));
  state.SetItemsProcessed(state.iterations());
}

void BM_CreateVm(benchmark::State& state) {
  World& world = WorldOf(static_cast<int>(state.range(0)));
  static std::atomic<int> next_vmid{500000000};
  for (auto _ : state) {
    RestRequest request{
        "POST",
        "/nodes/pve1/qemu",
        {{"vmid", absl::StrCat(next_vmid++)}, {"name", "bench"}, {"memory", "1024"}}};
    Expect200(state, world.backend->Call(request));
  }
  state.SetItemsProcessed(state.iterations());
}

#define WORLD_SIZES Arg(10)->Arg(1000)->Arg(100000)->ArgName("objects")
BENCHMARK(BM_StoreGet)->WORLD_SIZES->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_ReadObject)->WORLD_SIZES->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_ReadCollection)->WORLD_SIZES->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_CreateVm)->WORLD_SIZES->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace pvegw::mockstate

// main() is bench/benchmark_main.cc: the worlds live until exit (benchmarks share them);
// their stores are removed then, or when the run is interrupted.
