// The mock's shared world: a named, memory-mapped key/value store several processes share.
#ifndef PVEGW_MOCKSTATE_STORE_H_
#define PVEGW_MOCKSTATE_STORE_H_

#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct MDB_env;
struct MDB_txn;

namespace pvegw::mockstate {

inline constexpr char kDefaultNamespace[] = "default";
inline constexpr char kDefaultStateDir[] = "/dev/shm";
inline constexpr std::size_t kDefaultCapacityBytes = std::size_t{512} << 20;
inline constexpr std::size_t kMaxKeyBytes = 480;  // LMDB's default key limit is 511

struct StoreOptions {
  std::string ns = kDefaultNamespace;  // [A-Za-z0-9._-]{1,64}
  std::string dir = kDefaultStateDir;  // tmpfs: the segment lives in memory
  std::size_t capacity_bytes = kDefaultCapacityBytes;
};

// A consistent snapshot for reading. Views returned by Get stay valid for the
// transaction's lifetime only.
class ReadTxn {
 public:
  virtual ~ReadTxn() = default;
  virtual std::optional<absl::string_view> Get(absl::string_view key) = 0;
  // Visits keys starting with `prefix` in byte order until `fn` returns false.
  virtual absl::Status Scan(
      absl::string_view prefix,
      absl::FunctionRef<bool(absl::string_view key, absl::string_view value)> fn) = 0;
};

class WriteTxn : public virtual ReadTxn {
 public:
  virtual absl::Status Put(absl::string_view key, absl::string_view value) = 0;
  virtual absl::Status Delete(absl::string_view key) = 0;  // missing key is not an error
  virtual absl::Status DeletePrefix(absl::string_view prefix) = 0;
};

// State lives in `<dir>/pvegw-mock-<ns>.mdb` (LMDB, a B+tree in a shared mapping):
//  * readers run concurrently on MVCC snapshots and never block the writer;
//  * writers are exclusive; a Write() is one transaction, all of it or nothing is seen;
//  * a process killed at any moment (even inside a write) leaves the last committed state:
//    its transaction is simply never published, the robust write lock is recovered by the
//    next writer, and its reader slots are reclaimed;
//  * a full segment answers RESOURCE_EXHAUSTED and the store stays usable.
// Thread-safe; share one Store per process and namespace.
class Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  absl::Status Read(absl::FunctionRef<absl::Status(ReadTxn&)> fn);
  // Commits when `fn` returns OK; otherwise nothing it did is kept and its status returned.
  absl::Status Write(absl::FunctionRef<absl::Status(WriteTxn&)> fn);

  // Removes every key.
  absl::Status Reset();
  // Consistent copy of the whole store to `path` (a new file; an existing one is replaced).
  absl::Status SnapshotTo(const std::string& path);
  // Replaces the whole content with a snapshot written by SnapshotTo, atomically.
  absl::Status LoadFrom(const std::string& path);

  const std::string& path() const { return path_; }
  const std::string& ns() const { return ns_; }
  std::size_t capacity_bytes() const { return capacity_bytes_; }
  // Bytes of the mapping in use (pages), for diagnostics.
  std::size_t UsedBytes();

 private:
  Store() = default;
  MDB_txn* AcquireReader(absl::Status& status);
  void ReleaseReader(MDB_txn* txn);

  MDB_env* env_ = nullptr;
  unsigned int dbi_ = 0;
  std::string path_;
  std::string ns_;
  std::size_t capacity_bytes_ = 0;
  // Reset read transactions, renewed on use. Sharded by thread so that concurrent readers
  // do not contend on one lock (LMDB itself needs none for reads).
  struct alignas(64) ReaderShard {
    std::mutex mu;
    std::vector<MDB_txn*> idle;
  };
  static constexpr std::size_t kReaderShards = 16;
  std::array<ReaderShard, kReaderShards> readers_;
};

// True for a usable namespace name.
bool IsValidNamespace(absl::string_view ns);

}  // namespace pvegw::mockstate

#endif  // PVEGW_MOCKSTATE_STORE_H_
