#include "mockstate/store.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace pvegw::mockstate {
namespace {

constexpr unsigned int kMaxReaders = 1024;
constexpr std::size_t kMaxIdleReaders = 8;  // per shard
constexpr std::size_t kMinCapacityBytes = std::size_t{1} << 20;

MDB_val Val(absl::string_view s) {
  MDB_val v;
  v.mv_size = s.size();
  v.mv_data = const_cast<char*>(s.data());
  return v;
}

absl::string_view View(const MDB_val& v) {
  return absl::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

absl::Status LmdbError(int rc, absl::string_view what, absl::string_view ns, std::size_t capacity) {
  if (rc == MDB_MAP_FULL) {
    return absl::ResourceExhaustedError(
        absl::StrCat("mock state namespace '", ns, "' is full (capacity ", capacity >> 20,
                     " MiB); raise PROXMOX_MOCK_STATE_CAPACITY_MB or reset the namespace"));
  }
  if (rc == MDB_READERS_FULL) {
    return absl::UnavailableError(
        absl::StrCat("mock state '", ns, "': too many concurrent readers"));
  }
  return absl::InternalError(absl::StrCat("mock state '", ns, "': ", what, ": ", mdb_strerror(rc)));
}

class LmdbReadTxn : public virtual ReadTxn {
 public:
  LmdbReadTxn(MDB_txn* txn, MDB_dbi dbi) : txn_(txn), dbi_(dbi) {}

  std::optional<absl::string_view> Get(absl::string_view key) override {
    if (key.empty() || key.size() > kMaxKeyBytes) return std::nullopt;
    MDB_val k = Val(key);
    MDB_val v;
    if (mdb_get(txn_, dbi_, &k, &v) != MDB_SUCCESS) return std::nullopt;
    return View(v);
  }

  absl::Status Scan(absl::string_view prefix,
                    absl::FunctionRef<bool(absl::string_view, absl::string_view)> fn) override {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, dbi_, &cursor);
    if (rc != MDB_SUCCESS) return absl::InternalError(mdb_strerror(rc));
    MDB_val k = Val(prefix);
    MDB_val v;
    rc = prefix.empty() ? mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
                        : mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    while (rc == MDB_SUCCESS && absl::StartsWith(View(k), prefix)) {
      if (!fn(View(k), View(v))) break;
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cursor);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return absl::InternalError(mdb_strerror(rc));
    return absl::OkStatus();
  }

 protected:
  MDB_txn* txn_;
  MDB_dbi dbi_;
};

class LmdbWriteTxn : public LmdbReadTxn, public WriteTxn {
 public:
  LmdbWriteTxn(MDB_txn* txn, MDB_dbi dbi, absl::string_view ns, std::size_t capacity)
      : LmdbReadTxn(txn, dbi), ns_(ns), capacity_(capacity) {}

  absl::Status Put(absl::string_view key, absl::string_view value) override {
    if (key.empty() || key.size() > kMaxKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("mock state key of ", key.size(), " bytes is empty or too long"));
    }
    MDB_val k = Val(key);
    MDB_val v = Val(value);
    const int rc = mdb_put(txn_, dbi_, &k, &v, 0);
    if (rc != MDB_SUCCESS) return LmdbError(rc, "put", ns_, capacity_);
    return absl::OkStatus();
  }

  absl::Status Delete(absl::string_view key) override {
    if (key.empty() || key.size() > kMaxKeyBytes) return absl::OkStatus();
    MDB_val k = Val(key);
    const int rc = mdb_del(txn_, dbi_, &k, nullptr);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return LmdbError(rc, "delete", ns_, capacity_);
    return absl::OkStatus();
  }

  absl::Status DeletePrefix(absl::string_view prefix) override {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, dbi_, &cursor);
    if (rc != MDB_SUCCESS) return LmdbError(rc, "cursor", ns_, capacity_);
    MDB_val k = Val(prefix);
    MDB_val v;
    rc = mdb_cursor_get(cursor, &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
    while (rc == MDB_SUCCESS && absl::StartsWith(View(k), prefix)) {
      rc = mdb_cursor_del(cursor, 0);
      if (rc != MDB_SUCCESS) break;
      // Re-seek rather than trust the cursor position after deleting a page's last key.
      k = Val(prefix);
      rc = mdb_cursor_get(cursor, &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
    }
    mdb_cursor_close(cursor);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return LmdbError(rc, "delete", ns_, capacity_);
    return absl::OkStatus();
  }

 private:
  std::string ns_;
  std::size_t capacity_;
};

}  // namespace

bool IsValidNamespace(absl::string_view ns) {
  if (ns.empty() || ns.size() > 64) return false;
  for (char c : ns) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return ns != "." && ns != "..";
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (!IsValidNamespace(options.ns)) {
    return absl::InvalidArgumentError(absl::StrCat("mock state namespace '", options.ns,
                                                   "' is invalid: use 1-64 of [A-Za-z0-9._-]"));
  }
  if (options.capacity_bytes < kMinCapacityBytes) {
    return absl::InvalidArgumentError("mock state capacity must be at least 1 MiB");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(options.dir, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("mock state directory ", options.dir, " does not exist"));
  }
  std::unique_ptr<Store> store(new Store());
  store->ns_ = options.ns;
  store->capacity_bytes_ = options.capacity_bytes;
  store->path_ = absl::StrCat(options.dir, "/pvegw-mock-", options.ns, ".mdb");

  int rc = mdb_env_create(&store->env_);
  if (rc != MDB_SUCCESS) return LmdbError(rc, "create", options.ns, options.capacity_bytes);
  mdb_env_set_mapsize(store->env_, options.capacity_bytes);
  mdb_env_set_maxreaders(store->env_, kMaxReaders);
  // NOSYNC: the segment is on tmpfs and only has to survive process crashes, which LMDB's
  // copy-on-write commit already guarantees. NOTLS: read transactions are pooled and may
  // move between threads.
  rc = mdb_env_open(store->env_, store->path_.c_str(),
                    MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS, 0600);
  if (rc != MDB_SUCCESS) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open mock state ", store->path_, ": ", mdb_strerror(rc)));
  }
  MDB_envinfo info;
  mdb_env_info(store->env_, &info);
  store->capacity_bytes_ = info.me_mapsize;  // an existing segment may be larger
  int dead = 0;
  mdb_reader_check(store->env_, &dead);  // slots of processes that died while reading

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(store->env_, nullptr, 0, &txn);
  if (rc != MDB_SUCCESS) return LmdbError(rc, "begin", options.ns, options.capacity_bytes);
  MDB_dbi dbi = 0;
  rc = mdb_dbi_open(txn, nullptr, 0, &dbi);
  if (rc == MDB_SUCCESS)
    rc = mdb_txn_commit(txn);
  else
    mdb_txn_abort(txn);
  if (rc != MDB_SUCCESS) return LmdbError(rc, "open database", options.ns, options.capacity_bytes);
  store->dbi_ = dbi;
  return store;
}

Store::~Store() {
  for (ReaderShard& shard : readers_) {
    for (MDB_txn* txn : shard.idle) mdb_txn_abort(txn);
  }
  if (env_ != nullptr) mdb_env_close(env_);
}

namespace {
std::size_t ShardOfThisThread(std::size_t shards) {
  return std::hash<std::thread::id>()(std::this_thread::get_id()) % shards;
}
}  // namespace

MDB_txn* Store::AcquireReader(absl::Status& status) {
  MDB_txn* txn = nullptr;
  {
    ReaderShard& shard = readers_[ShardOfThisThread(kReaderShards)];
    std::lock_guard<std::mutex> lock(shard.mu);
    if (!shard.idle.empty()) {
      txn = shard.idle.back();
      shard.idle.pop_back();
    }
  }
  if (txn != nullptr) {
    const int rc = mdb_txn_renew(txn);
    if (rc == MDB_SUCCESS) return txn;
    mdb_txn_abort(txn);
    txn = nullptr;
  }
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc == MDB_READERS_FULL) {
    int dead = 0;
    mdb_reader_check(env_, &dead);
    rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  }
  if (rc != MDB_SUCCESS) {
    status = LmdbError(rc, "begin read", ns_, capacity_bytes_);
    return nullptr;
  }
  return txn;
}

void Store::ReleaseReader(MDB_txn* txn) {
  mdb_txn_reset(txn);
  ReaderShard& shard = readers_[ShardOfThisThread(kReaderShards)];
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.idle.size() < kMaxIdleReaders) {
    shard.idle.push_back(txn);
  } else {
    mdb_txn_abort(txn);
  }
}

absl::Status Store::Read(absl::FunctionRef<absl::Status(ReadTxn&)> fn) {
  absl::Status status;
  MDB_txn* txn = AcquireReader(status);
  if (txn == nullptr) return status;
  LmdbReadTxn view(txn, dbi_);
  status = fn(view);
  ReleaseReader(txn);
  return status;
}

absl::Status Store::Write(absl::FunctionRef<absl::Status(WriteTxn&)> fn) {
  MDB_txn* txn = nullptr;
  // Blocks on LMDB's robust write mutex; a writer that died holding it is detected here
  // and its uncommitted transaction discarded.
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != MDB_SUCCESS) return LmdbError(rc, "begin write", ns_, capacity_bytes_);
  LmdbWriteTxn view(txn, dbi_, ns_, capacity_bytes_);
  absl::Status status = fn(view);
  if (!status.ok()) {
    mdb_txn_abort(txn);
    return status;
  }
  rc = mdb_txn_commit(txn);
  if (rc == MDB_MAP_FULL) {
    // Old snapshots pinned by readers that died can hold pages; free them for next time.
    int dead = 0;
    mdb_reader_check(env_, &dead);
  }
  if (rc != MDB_SUCCESS) return LmdbError(rc, "commit", ns_, capacity_bytes_);
  return absl::OkStatus();
}

absl::Status Store::Reset() {
  // mdb_drop frees whole pages instead of copying them, so it works even when the
  // segment is full (deleting key by key would need fresh pages first).
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != MDB_SUCCESS) return LmdbError(rc, "begin write", ns_, capacity_bytes_);
  rc = mdb_drop(txn, dbi_, 0);
  if (rc != MDB_SUCCESS) {
    mdb_txn_abort(txn);
    return LmdbError(rc, "reset", ns_, capacity_bytes_);
  }
  rc = mdb_txn_commit(txn);
  if (rc != MDB_SUCCESS) return LmdbError(rc, "commit", ns_, capacity_bytes_);
  return absl::OkStatus();
}

absl::Status Store::SnapshotTo(const std::string& path) {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write snapshot ", path, ": ", std::strerror(errno)));
  }
  const int rc = mdb_env_copyfd2(env_, fd, MDB_CP_COMPACT);
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (rc != MDB_SUCCESS || !synced) {
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat(
        "snapshot to ", path, " failed: ", rc != MDB_SUCCESS ? mdb_strerror(rc) : "fsync"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write snapshot ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status Store::LoadFrom(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("snapshot ", path, " does not exist"));
  }
  MDB_env* snap = nullptr;
  int rc = mdb_env_create(&snap);
  if (rc != MDB_SUCCESS) return LmdbError(rc, "create", ns_, capacity_bytes_);
  rc = mdb_env_open(snap, path.c_str(), MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0600);
  if (rc != MDB_SUCCESS) {
    mdb_env_close(snap);
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a mock state snapshot: ", mdb_strerror(rc)));
  }
  MDB_txn* src = nullptr;
  MDB_dbi src_dbi = 0;
  rc = mdb_txn_begin(snap, nullptr, MDB_RDONLY, &src);
  if (rc == MDB_SUCCESS) rc = mdb_dbi_open(src, nullptr, 0, &src_dbi);
  if (rc != MDB_SUCCESS) {
    if (src != nullptr) mdb_txn_abort(src);
    mdb_env_close(snap);
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a mock state snapshot: ", mdb_strerror(rc)));
  }
  LmdbReadTxn source(src, src_dbi);
  absl::Status status = Write([&](WriteTxn& txn) -> absl::Status {
    absl::Status st = txn.DeletePrefix("");
    if (!st.ok()) return st;
    absl::Status put_status;
    st = source.Scan("", [&](absl::string_view k, absl::string_view v) {
      put_status = txn.Put(k, v);
      return put_status.ok();
    });
    return st.ok() ? put_status : st;
  });
  mdb_txn_abort(src);
  mdb_env_close(snap);
  return status;
}

std::size_t Store::UsedBytes() {
  MDB_envinfo info;
  MDB_stat stat;
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &stat);
  return (info.me_last_pgno + 1) * stat.ms_psize;
}

}  // namespace pvegw::mockstate
