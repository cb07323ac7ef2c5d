// Measures pve-protogen on the full schema: parse + map + render, no disk I/O.
// Run: PROXMOX_SCHEMA=../shared/schema/pve/openapi.json build/bin/protogen_bench
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "codegen/protogen.h"

namespace {

std::string ReadSchema(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void BM_GenerateFullSchema(benchmark::State& state, const char* env_name) {
  const char* path = std::getenv(env_name);
  if (path == nullptr) {
    state.SkipWithError("set PROXMOX_SCHEMA to openapi.json or apidoc.js");
    return;
  }
  const std::string text = ReadSchema(path);
  if (text.empty()) {
    state.SkipWithError("schema file is empty or unreadable");
    return;
  }
  int rpcs = 0;
  for (auto _ : state) {
    pvegw::codegen::FieldLock lock;
    auto result = pvegw::codegen::GenerateFromText(text, path, "proxmox.ve.v1", lock);
    if (!result.ok()) {
      state.SkipWithError(std::string(result.status().message()).c_str());
      return;
    }
    rpcs = result->rpcs;
    benchmark::DoNotOptimize(result->files);
  }
  state.counters["rpcs"] = rpcs;
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK_CAPTURE(BM_GenerateFullSchema, schema, "PROXMOX_SCHEMA")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
