// Internals of MockBackend, shared by its .cc files (dispatch, guests, tasks, world).
#ifndef PVEGW_MOCKSTATE_BACKEND_IMPL_H_
#define PVEGW_MOCKSTATE_BACKEND_IMPL_H_

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/api_index.h"
#include "api/param_validator.h"
#include "common/json_text.h"
#include "common/status_mapping.h"
#include "mockstate/mock_backend.h"
#include "mockstate/store.h"
#include "mockstate/value_gen.h"

namespace pvegw::mockstate {

namespace json = boost::json;

// --- Keys ---------------------------------------------------------------------------------
// E<sep>collection<sep>id  entity (JSON object of its properties)
// M<sep>collection         collection has been populated (seeded or generated)
// O<sep>path               custom data answering GET path verbatim
// V<sep>vmid               cluster-wide guest index: "qemu<sep>node" / "lxc<sep>node"
// S<sep>name               world metadata (seeded marker, counters)
inline constexpr char kSep = '\x1f';
std::string EntityKey(absl::string_view collection, absl::string_view id);
std::string EntityPrefix(absl::string_view collection);
std::string MarkerKey(absl::string_view collection);
std::string OverrideKey(absl::string_view path);
std::string VmidKey(std::int64_t vmid);

// --- Guests, shared by the files that look them up (guests, cluster resources, pools) -----
// "/nodes/pve1/qemu" or "/nodes/pve1/lxc".
std::string GuestCollection(absl::string_view node, bool lxc);
// An integer property, also from strings and property strings ("current=4096").
std::int64_t IntOf(const json::object& o, absl::string_view key, std::int64_t fallback);
// Where a guest lives, from the cluster-wide index: {"qemu", "pve1"}.
std::optional<std::pair<std::string, std::string>> LookupGuest(ReadTxn& txn, std::int64_t vmid);
std::string MetaKey(absl::string_view name);
// Records where guest `vmid` lives in the cluster-wide index.
absl::Status IndexGuest(WriteTxn& txn, std::int64_t vmid, bool lxc, absl::string_view node);

// --- Errors -------------------------------------------------------------------------------
// Proxmox's 400 for rejected parameters (common/status_mapping.h renders it).
absl::Status ParamError(const std::vector<api::ParamViolation>& violations);
absl::Status ParamError(absl::string_view param, absl::string_view message);

// What a collection template means for the mock.
struct CollectionInfo {
  std::string template_path;  // "/nodes/{node}/qemu"
  std::string child_key;      // "vmid"
  std::string item_template;  // "/nodes/{node}/qemu/{vmid}", empty if none
  bool directory = false;     // rows are the template's literal children
  std::string source;         // entities live in another collection ("/storage")
  NameSet settable;           // config keys: shown only when set
  const google::protobuf::Descriptor* row = nullptr;  // typed rows
  bool untyped_rows = false;  // rows are google.protobuf.Struct: the entity's properties
  // Proxmox has no 404: a handler that finds nothing dies, which is a 500 with its text.
  std::string missing_message;  // "{id}" and "{node}" are substituted
  std::string duplicate_message;
};

// One REST call being answered.
struct CallContext {
  const api::Route* route = nullptr;
  const api::ApiOperation* op = nullptr;
  json::object params;  // validated and typed, path parameters included
  std::string path;     // normalised concrete path
  std::int64_t now_ms = 0;
  std::string user = "root@pam";  // who makes the call (tasks record it)
  // The temporary file of an upload (MockBackend::CallWithUpload), else null.
  const MockBackend::UploadedFile* upload = nullptr;

  // The deepest stored entity the path lies under (e.g. VM 100 for .../qemu/100/config).
  const CollectionInfo* owner = nullptr;
  std::string owner_collection;
  std::string owner_id;
  std::size_t owner_segment = 0;  // index of the id segment in route->segments

  std::string PathParam(absl::string_view name) const;
  std::optional<std::string> Param(absl::string_view name) const;  // as text
  bool IsPathParam(absl::string_view name) const;
};

class MockBackend::Impl {
 public:
  Impl(std::shared_ptr<const api::ApiIndex> api, MockOptions options, std::unique_ptr<Store> store);

  RestResponse Call(const RestRequest& request, absl::string_view user,
                    const MockBackend::UploadedFile* upload = nullptr);
  absl::Status Initialize();  // seed when fresh, then apply custom data
  absl::Status Reset();
  Store& store() { return *store_; }
  const api::ApiIndex& api() const { return *api_; }

  // --- Entities -----------------------------------------------------------------------
  const CollectionInfo* Collection(absl::string_view template_path) const;
  static std::optional<json::object> GetEntity(ReadTxn& txn, absl::string_view collection,
                                               absl::string_view id);
  static absl::Status PutEntity(WriteTxn& txn, absl::string_view collection, absl::string_view id,
                                const json::object& props);
  // Removes the entity and everything stored below its path.
  static absl::Status DeleteEntity(WriteTxn& txn, absl::string_view collection,
                                   absl::string_view id);
  static absl::StatusOr<std::vector<std::pair<std::string, json::object>>> ListEntities(
      ReadTxn& txn, absl::string_view collection);
  // Populates a collection nobody seeded with a few generated, stable entities.
  absl::Status EnsureCollection(absl::string_view collection, const CollectionInfo& info);
  absl::Status MissingError(const CollectionInfo& info, absl::string_view collection,
                            absl::string_view id, const CallContext& ctx) const;
  absl::Status DuplicateError(const CollectionInfo& info, absl::string_view id,
                              absl::string_view where) const;
  // The properties of the entity the path lies under (set by the ancestor check).
  absl::StatusOr<json::object> LoadOwner(const CallContext& ctx);
  // Derived, read-time properties (guest memory in bytes, uptime, digest, ...).
  json::object View(const CollectionInfo& info, absl::string_view collection,
                    const json::object& props, std::int64_t now_ms) const;
  ShapeOptions Shape(const json::object* props, const NameSet* settable) const;
  // The path parameter that names an item of the collection (with its format/enum rules).
  const google::protobuf::FieldDescriptor* ItemIdField(const CollectionInfo& info) const;

  // --- Guests (guests.cc) ----------------------------------------------------------------
  absl::StatusOr<json::value> GuestCreate(CallContext& ctx, bool lxc);
  absl::StatusOr<json::value> GuestDelete(CallContext& ctx, bool lxc);
  absl::StatusOr<json::value> GuestConfig(CallContext& ctx, bool lxc);
  absl::StatusOr<json::value> GuestConfigGet(CallContext& ctx, bool lxc);
  absl::StatusOr<json::value> GuestStatus(CallContext& ctx, bool lxc, absl::string_view action);
  absl::StatusOr<json::value> GuestClone(CallContext& ctx, bool lxc);
  absl::StatusOr<json::value> GuestMigrate(CallContext& ctx, bool lxc);
  json::object GuestView(const json::object& props, absl::string_view seed, bool lxc,
                         std::int64_t now_ms) const;
  // Runs `fn` in one write transaction on the guest the path names (its properties in
  // hand); a missing guest is Proxmox's "Configuration file ... does not exist".
  using GuestFn = std::function<absl::StatusOr<json::value>(WriteTxn&, json::object& props)>;
  absl::StatusOr<json::value> WithGuest(CallContext& ctx, bool lxc, const GuestFn& fn);
  std::string ConfigDigest(const json::object& props, bool lxc) const;
  // Rolling back to a snapshot stops the guest (and starts it with start=1 or RAM state).
  absl::StatusOr<json::value> GuestRollback(CallContext& ctx, bool lxc);
  // GET .../pending: the config as {key, value} rows.
  absl::StatusOr<json::value> GuestPending(CallContext& ctx, bool lxc);
  // Disk operations that change the world: resize grows the volume and size=, unlink
  // detaches (or with force destroys) disks, template renames disks to base-<vmid>-disk-<n>.
  absl::StatusOr<json::value> GuestResize(CallContext& ctx, bool lxc);
  absl::StatusOr<json::value> GuestUnlink(CallContext& ctx);
  absl::StatusOr<json::value> GuestTemplate(CallContext& ctx, bool lxc);
  absl::StatusOr<json::value> ClusterResources(CallContext& ctx);
  absl::StatusOr<json::value> NextId(CallContext& ctx);
  absl::StatusOr<json::value> NodeStorage(CallContext& ctx);
  // GET /storage with Proxmox's ?type= filter.
  absl::StatusOr<json::value> StorageList(CallContext& ctx);
  // GET .../storage/{storage}/content with Proxmox's ?content= and ?vmid= filters.
  absl::StatusOr<json::value> StorageContentList(CallContext& ctx);
  // GET .../content/{volume}: its path on the storage, size and format.
  absl::StatusOr<json::value> VolumeInfo(CallContext& ctx);
  // pve-manager's appliance index and its download into a storage; download-url.
  absl::StatusOr<json::value> ApplianceList(CallContext& ctx);
  absl::StatusOr<json::value> ApplianceDownload(CallContext& ctx);
  absl::StatusOr<json::value> DownloadUrl(CallContext& ctx);
  // pve-storage's upload: the temporary file becomes <storage>:<content>/<filename>.
  absl::StatusOr<json::value> StorageUpload(CallContext& ctx);
  absl::StatusOr<json::value> PoolGet(CallContext& ctx);
  absl::StatusOr<json::value> PoolList(CallContext& ctx);
  absl::StatusOr<json::value> PoolUpdate(CallContext& ctx);
  absl::StatusOr<json::value> PoolDelete(CallContext& ctx);

  // --- Tasks (tasks.cc) ------------------------------------------------------------------
  // Starts a simulated task on `node` for `user` (the caller: a user id, or for API tokens
  // the full token id, as Proxmox records it) and returns its UPID.
  absl::StatusOr<std::string> StartTask(WriteTxn& txn, absl::string_view node,
                                        absl::string_view type, absl::string_view id,
                                        std::int64_t now_ms, absl::string_view user = "root@pam",
                                        absl::string_view error = "");
  json::object TaskView(const json::object& task, std::int64_t now_ms) const;
  absl::StatusOr<json::value> TaskList(CallContext& ctx);
  absl::StatusOr<json::value> TaskStatus(CallContext& ctx);
  absl::StatusOr<json::value> TaskLog(CallContext& ctx);
  absl::StatusOr<json::value> TaskStop(CallContext& ctx);

  // --- Fidelity (fidelity.cc) -------------------------------------------------------------
  // Completes a GET answer with what real hosts send beyond the schema (guest runtime
  // details, ids and types of rows, digests, ...), computed from the world.
  absl::Status AddRealHostKeys(const CallContext& ctx, json::value& data);

  // --- Access (access.cc): logins, passwords, API tokens -----------------------------------
  absl::StatusOr<json::value> Login(CallContext& ctx);
  absl::StatusOr<json::value> UserCreate(CallContext& ctx);
  absl::StatusOr<json::value> UserDelete(CallContext& ctx);
  absl::StatusOr<json::value> PasswordChange(CallContext& ctx);
  absl::StatusOr<json::value> TokenCreate(CallContext& ctx);
  absl::StatusOr<json::value> TokenUpdate(CallContext& ctx);
  absl::StatusOr<json::value> TokenDelete(CallContext& ctx);
  // Groups' members are the users whose "groups" name them (pve-access-control keeps
  // membership on the user).
  absl::StatusOr<json::value> GroupList(CallContext& ctx);
  // With full=1, each user's "tokens" are the API tokens created for it.
  absl::StatusOr<json::value> UserList(CallContext& ctx);
  absl::StatusOr<json::value> GroupGet(CallContext& ctx);
  absl::Status SeedAccess(WriteTxn& txn);
  absl::StatusOr<MockBackend::Identity> VerifyTicket(absl::string_view ticket);
  bool VerifyCsrfToken(absl::string_view token, absl::string_view userid);
  absl::StatusOr<MockBackend::Identity> VerifyApiToken(absl::string_view full_tokenid,
                                                       absl::string_view secret);
  absl::Status SetPassword(absl::string_view userid, absl::string_view password);

  // --- World (world.cc) ------------------------------------------------------------------
  absl::Status Seed(WriteTxn& txn);
  absl::Status ApplyCustomData();

  std::vector<std::string> NodeNames(ReadTxn& txn) const;
  std::int64_t Now() const { return options_.now_ms(); }
  const MockOptions& options() const { return options_; }

 private:
  using Handler = std::function<absl::StatusOr<json::value>(CallContext&)>;
  void BuildCollections();
  void RegisterHandlers();
  absl::StatusOr<json::value> Dispatch(CallContext& ctx);
  absl::Status CheckAncestors(CallContext& ctx);
  absl::StatusOr<json::value> GenericGet(CallContext& ctx);
  absl::StatusOr<json::value> GenericMutation(CallContext& ctx);
  // The cluster-wide secret named `name`, made on first use.
  absl::StatusOr<std::string> Secret(absl::string_view name);
  // Is `userid` a user who may log in now (present, enabled, not expired)?
  bool UserActive(ReadTxn& txn, absl::string_view userid, std::int64_t now_s) const;
  absl::StatusOr<json::value> MutationResult(WriteTxn& txn, CallContext& ctx,
                                             absl::string_view task_id);

  std::shared_ptr<const api::ApiIndex> api_;
  MockOptions options_;
  std::unique_ptr<Store> store_;
  std::map<std::string, CollectionInfo, std::less<>> collections_;
  std::map<std::string, Handler, std::less<>> handlers_;  // "VERB template"
};

// Storage as the nodes see it: whether a storage.cfg entry is available on `node`, its size
// there (stable per node and storage: every answer shows the same numbers), and its
// /cluster/resources row (also a pool member; `props` may be null for a missing storage).
bool StorageOnNode(const json::object& props, absl::string_view node);
// Whether a storage.cfg entry allows `content` ("images", "rootdir", "iso", ...).
bool StorageHasContent(const json::object& storage, absl::string_view content);
struct StorageSize {
  std::int64_t total;
  std::int64_t used;
};
StorageSize StorageSizeOn(absl::string_view node, absl::string_view sid);
json::object StorageResource(absl::string_view node, absl::string_view sid,
                             const json::object* props);

// "/nodes/{node}/qemu" or "/nodes/{node}/lxc".
bool IsGuestCollection(absl::string_view template_path);

// Entity ids and the path segments of a concrete path joined back.
std::string JoinPath(const std::vector<std::string>& segments, std::size_t count);
std::string Sha1Hex(absl::string_view data);
// Splits Proxmox list parameters ("100,101 102;103").
std::vector<std::string> SplitList(absl::string_view s);
// Whether `item` is an entry of a comma-separated list of storage.cfg ("images,rootdir").
bool InList(absl::string_view list, absl::string_view item);

}  // namespace pvegw::mockstate

#endif  // PVEGW_MOCKSTATE_BACKEND_IMPL_H_
