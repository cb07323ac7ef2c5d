#include "mockstate/store.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/mockstate_test_util.h"

namespace pvegw::mockstate {
namespace {

using ::testing::HasSubstr;
using testing::ScratchSpace;
using testing::Spawn;
using testing::WaitFor;

constexpr int kChildTimeoutMs = 20000;

std::string Get(Store& store, absl::string_view key) {
  std::string out = "<missing>";
  EXPECT_TRUE(store
                  .Read([&](ReadTxn& txn) {
                    if (auto v = txn.Get(key)) out = std::string(*v);
                    return absl::OkStatus();
                  })
                  .ok());
  return out;
}

absl::Status Put(Store& store, absl::string_view key, absl::string_view value) {
  return store.Write([&](WriteTxn& txn) { return txn.Put(key, value); });
}

TEST(StoreTest, PutGetScanDelete) {
  ScratchSpace space;
  auto store = Store::Open(space.Options());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)
                  ->Write([](WriteTxn& txn) -> absl::Status {
                    for (const char* k : {"a/1", "a/2", "a/3", "b/1"}) {
                      absl::Status st = txn.Put(k, absl::StrCat("v", k));
                      if (!st.ok()) return st;
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(Get(**store, "a/2"), "va/2");
  std::vector<std::string> keys;
  ASSERT_TRUE((*store)
                  ->Read([&](ReadTxn& txn) {
                    return txn.Scan("a/", [&](absl::string_view k, absl::string_view) {
                      keys.emplace_back(k);
                      return true;
                    });
                  })
                  .ok());
  EXPECT_THAT(keys, ::testing::ElementsAre("a/1", "a/2", "a/3"));
  ASSERT_TRUE((*store)->Write([](WriteTxn& txn) { return txn.DeletePrefix("a/"); }).ok());
  EXPECT_EQ(Get(**store, "a/1"), "<missing>");
  EXPECT_EQ(Get(**store, "b/1"), "vb/1");
}

TEST(StoreTest, FailedWriteLeavesNothingBehind) {
  ScratchSpace space;
  auto store = Store::Open(space.Options());
  ASSERT_TRUE(store.ok()) << store.status();
  absl::Status st = (*store)->Write([](WriteTxn& txn) -> absl::Status {
    EXPECT_TRUE(txn.Put("x", "1").ok());
    EXPECT_TRUE(txn.Put("y", "1").ok());
    return absl::AbortedError("changed my mind");
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Get(**store, "x"), "<missing>");
  EXPECT_EQ(Get(**store, "y"), "<missing>");
}

TEST(StoreTest, InvalidNamespaceAndDirectoryAreClearErrors) {
  ScratchSpace space;
  StoreOptions bad = space.Options();
  bad.ns = "../etc";
  auto r = Store::Open(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("namespace '../etc' is invalid"));
  StoreOptions nodir = space.Options();
  nodir.dir = space.dir() + "/missing";
  r = Store::Open(nodir);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("does not exist"));
}

TEST(StoreTest, CapacityExhaustionIsAClearErrorAndTheStoreStaysUsable) {
  ScratchSpace space;
  auto store = Store::Open(space.Options(std::size_t{1} << 20));
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(Put(**store, "keep", "me").ok());
  const std::string blob(16 * 1024, 'x');
  absl::Status st;
  int written = 0;
  for (; written < 1000; ++written) {
    st = Put(**store, absl::StrCat("blob/", written), blob);
    if (!st.ok()) break;
  }
  ASSERT_FALSE(st.ok()) << "1 MiB never filled up";
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(st.message(), HasSubstr("is full"));
  EXPECT_THAT(st.message(), HasSubstr("PROXMOX_MOCK_STATE_CAPACITY_MB"));
  EXPECT_EQ(Get(**store, "keep"), "me");
  EXPECT_EQ(Get(**store, "blob/0"), blob) << "committed data survives the failed write";
  ASSERT_TRUE((*store)->Write([](WriteTxn& txn) { return txn.DeletePrefix("blob/"); }).ok());
  EXPECT_TRUE(Put(**store, "after", "ok").ok()) << "space is reusable after deleting";
}

TEST(StoreTest, SnapshotAndLoadRestoreTheWholeContent) {
  ScratchSpace space;
  auto store = Store::Open(space.Options());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(Put(**store, "a", "1").ok());
  ASSERT_TRUE(Put(**store, "b", "2").ok());
  const std::string snap = space.dir() + "/snap.mdb";
  ASSERT_TRUE((*store)->SnapshotTo(snap).ok());
  ASSERT_TRUE(Put(**store, "a", "changed").ok());
  ASSERT_TRUE(Put(**store, "c", "3").ok());
  ASSERT_TRUE((*store)->LoadFrom(snap).ok());
  EXPECT_EQ(Get(**store, "a"), "1");
  EXPECT_EQ(Get(**store, "b"), "2");
  EXPECT_EQ(Get(**store, "c"), "<missing>");

  std::ofstream(space.dir() + "/junk.mdb") << "not a snapshot";
  absl::Status st = (*store)->LoadFrom(space.dir() + "/junk.mdb");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("not a mock state snapshot"));
  EXPECT_EQ(Get(**store, "a"), "1") << "a bad snapshot changes nothing";
  EXPECT_EQ((*store)->LoadFrom(space.dir() + "/none.mdb").code(), absl::StatusCode::kNotFound);
}

TEST(StoreTest, ResetRemovesEverything) {
  ScratchSpace space;
  auto store = Store::Open(space.Options());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(Put(**store, "a", "1").ok());
  ASSERT_TRUE((*store)->Reset().ok());
  EXPECT_EQ(Get(**store, "a"), "<missing>");
}

TEST(StoreMultiProcessTest, AnotherProcessSeesCommittedWrites) {
  ScratchSpace space;
  const StoreOptions options = space.Options();
  const pid_t child = Spawn([&] {
    auto store = Store::Open(options);
    if (!store.ok()) return 1;
    return Put(**store, "from-child", "hello").ok() ? 0 : 2;
  });
  ASSERT_EQ(WaitFor(child, kChildTimeoutMs), 0);
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Get(**store, "from-child"), "hello");
}

TEST(StoreMultiProcessTest, ConcurrentWritersLoseNothing) {
  ScratchSpace space;
  const StoreOptions options = space.Options();
  constexpr int kWriters = 4;
  constexpr int kIncrements = 500;
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    children.push_back(Spawn([&, w] {
      auto store = Store::Open(options);
      if (!store.ok()) return 1;
      for (int i = 0; i < kIncrements; ++i) {
        absl::Status st = (*store)->Write([&](WriteTxn& txn) -> absl::Status {
          std::int64_t n = 0;
          if (auto v = txn.Get("counter")) (void)absl::SimpleAtoi(*v, &n);
          absl::Status put = txn.Put("counter", absl::StrCat(n + 1));
          if (!put.ok()) return put;
          return txn.Put(absl::StrCat("writer/", w, "/", i), "1");
        });
        if (!st.ok()) return 2;
      }
      return 0;
    }));
  }
  for (pid_t child : children) EXPECT_EQ(WaitFor(child, kChildTimeoutMs), 0);
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Get(**store, "counter"), absl::StrCat(kWriters * kIncrements));
  int entries = 0;
  ASSERT_TRUE((*store)
                  ->Read([&](ReadTxn& txn) {
                    return txn.Scan("writer/", [&](absl::string_view, absl::string_view) {
                      ++entries;
                      return true;
                    });
                  })
                  .ok());
  EXPECT_EQ(entries, kWriters * kIncrements);
}

// A writer killed with SIGKILL at a random moment, often in the middle of a transaction
// that updates several keys together. Afterwards: no deadlock (another process can write
// within the deadline), no crash, and never a half-applied update.
TEST(StoreMultiProcessTest, SigkillAtAnyMomentNeverCorruptsOrDeadlocks) {
  ScratchSpace space;
  const StoreOptions options = space.Options();
  constexpr int kKeys = 8;
  constexpr int kRounds = 60;
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> delay_us(0, 20000);
  int killed_mid_run = 0;
  for (int round = 0; round < kRounds; ++round) {
    const pid_t writer = Spawn([&] {
      auto store = Store::Open(options);
      if (!store.ok()) return 1;
      for (std::int64_t gen = 0;; ++gen) {
        (void)(*store)->Write([&](WriteTxn& txn) -> absl::Status {
          std::int64_t base = 0;
          if (auto v = txn.Get("gen")) (void)absl::SimpleAtoi(*v, &base);
          const std::string value = absl::StrCat(base + 1, ":", std::string(512, 'p'));
          for (int k = 0; k < kKeys; ++k) {
            absl::Status st = txn.Put(absl::StrCat("k", k), value);
            if (!st.ok()) return st;
          }
          return txn.Put("gen", absl::StrCat(base + 1));
        });
      }
    });
    // A reader too, so that dead readers' slots are exercised as well.
    const pid_t reader = Spawn([&] {
      auto store = Store::Open(options);
      if (!store.ok()) return 1;
      for (;;) {
        (void)(*store)->Read([](ReadTxn& txn) {
          (void)txn.Get("k0");
          return absl::OkStatus();
        });
      }
    });
    ::usleep(static_cast<useconds_t>(1000 + delay_us(rng)));
    ::kill(writer, SIGKILL);
    ::kill(reader, SIGKILL);
    if (WaitFor(writer, kChildTimeoutMs) == 128 + SIGKILL) ++killed_mid_run;
    WaitFor(reader, kChildTimeoutMs);

    // Checker in its own process, so a deadlock is a failed deadline, not a hung test.
    const pid_t checker = Spawn([&] {
      auto store = Store::Open(options);
      if (!store.ok()) return 1;
      std::string first;
      absl::Status st = (*store)->Read([&](ReadTxn& txn) -> absl::Status {
        for (int k = 0; k < kKeys; ++k) {
          auto v = txn.Get(absl::StrCat("k", k));
          const std::string value = v ? std::string(*v) : "";
          if (k == 0) first = value;
          if (value != first) return absl::DataLossError("half-applied update");
        }
        return absl::OkStatus();
      });
      if (!st.ok()) return 3;
      return Put(**store, "checker", "wrote").ok() ? 0 : 4;
    });
    ASSERT_EQ(WaitFor(checker, kChildTimeoutMs), 0) << "round " << round
                                                    << ": 1 open failed, 3 torn update, 4 write "
                                                       "failed, -1 deadlock";
  }
  EXPECT_EQ(killed_mid_run, kRounds);
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  std::int64_t gen = 0;
  ASSERT_TRUE(absl::SimpleAtoi(Get(**store, "gen"), &gen));
  EXPECT_GT(gen, 0) << "writers made progress";
}

}  // namespace
}  // namespace pvegw::mockstate
