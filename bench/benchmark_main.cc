// main() of the Google Benchmark programs that build mock worlds: their scratch directories in
// /dev/shm are removed when the run ends and when it is interrupted (bench/scratch.h).
#include <benchmark/benchmark.h>

#include "bench/scratch.h"

int main(int argc, char** argv) {
  pvegw::bench::Scratch::CleanUpOnSignals();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
