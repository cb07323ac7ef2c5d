// One file on purpose (~840 lines): the dispatcher and the generic collection/item logic share
// one set of private helpers; the per-area handlers live in guests, pools, storage, tasks, ...
#include "mockstate/mock_backend.h"

#include <openssl/sha.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/status_mapping.h"
#include "mockstate/backend_impl.h"

namespace pvegw::mockstate {
namespace {

using ::google::protobuf::FieldDescriptor;

constexpr int kGeneratedEntities = 2;

bool IsParamSegment(absl::string_view s) {
  return s.size() >= 2 && s.front() == '{' && s.back() == '}';
}

// What a collection holds, for messages: its last literal segment, singular ("group").
std::string KindOf(absl::string_view template_path) {
  std::vector<std::string> segments = api::SplitPath(template_path);
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    if (IsParamSegment(*it)) continue;
    std::string kind = *it;
    if (absl::EndsWith(kind, "s")) kind.pop_back();
    return kind;
  }
  return "item";
}

// Templates of collections whose entities start empty: things below a guest are created
// by the user (snapshots, firewall rules, ...), not invented by the mock.
bool StartsEmpty(absl::string_view template_path) {
  return absl::StartsWith(template_path, "/nodes/{node}/qemu/{vmid}/") ||
         absl::StartsWith(template_path, "/nodes/{node}/lxc/{vmid}/") ||
         template_path == "/nodes/{node}/tasks" ||
         // A user's tokens are the ones created through the API; a storage holds the
         // volumes written to it.
         template_path == "/access/users/{userid}/token" ||
         template_path == "/nodes/{node}/storage/{storage}/content";
}

// Collections whose rows are what the world holds (volumes written to a storage, users and
// their API tokens), so a list answers those keys and nothing generated.
bool OnlyStoredRows(absl::string_view template_path) {
  return template_path == "/nodes/{node}/storage/{storage}/content" ||
         template_path == "/access/users" || template_path == "/access/users/{userid}/token" ||
         template_path == "/access/domains" || template_path == "/access/groups";
}

}  // namespace

// --- Keys and small helpers -------------------------------------------------------------

std::string EntityKey(absl::string_view collection, absl::string_view id) {
  return absl::StrCat("E", std::string(1, kSep), collection, std::string(1, kSep), id);
}
std::string EntityPrefix(absl::string_view collection) {
  return absl::StrCat("E", std::string(1, kSep), collection, std::string(1, kSep));
}
std::string MarkerKey(absl::string_view collection) {
  return absl::StrCat("M", std::string(1, kSep), collection);
}
std::string OverrideKey(absl::string_view path) {
  return absl::StrCat("O", std::string(1, kSep), path);
}
std::string VmidKey(std::int64_t vmid) { return absl::StrCat("V", std::string(1, kSep), vmid); }
std::string MetaKey(absl::string_view name) {
  return absl::StrCat("S", std::string(1, kSep), name);
}

absl::Status IndexGuest(WriteTxn& txn, std::int64_t vmid, bool lxc, absl::string_view node) {
  return txn.Put(VmidKey(vmid), absl::StrCat(lxc ? "lxc" : "qemu", std::string(1, kSep), node));
}

absl::Status ParamError(const std::vector<api::ParamViolation>& violations) {
  std::vector<FieldViolation> fields;
  for (const api::ParamViolation& v : violations) fields.push_back({v.param, v.message});
  return HttpParamError(fields);
}

absl::Status ParamError(absl::string_view param, absl::string_view message) {
  return ParamError(std::vector<api::ParamViolation>{{std::string(param), std::string(message)}});
}

bool IsGuestCollection(absl::string_view template_path) {
  return template_path == "/nodes/{node}/qemu" || template_path == "/nodes/{node}/lxc";
}

std::string JoinPath(const std::vector<std::string>& segments, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < segments.size(); ++i)
    absl::StrAppend(&out, "/", segments[i]);
  return out.empty() ? "/" : out;
}

std::string Sha1Hex(absl::string_view data) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  std::string out;
  for (unsigned char c : digest) absl::StrAppend(&out, absl::Hex(c, absl::kZeroPad2));
  return out;
}

std::vector<std::string> SplitList(absl::string_view s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, absl::ByAnyChar(",; \t\n"), absl::SkipEmpty())) {
    out.emplace_back(part);
  }
  return out;
}

bool InList(absl::string_view list, absl::string_view item) {
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    if (part == item) return true;
  }
  return false;
}

std::string CallContext::PathParam(absl::string_view name) const {
  for (const auto& [k, v] : route->path_params) {
    if (k == name) return v;
  }
  return "";
}

std::optional<std::string> CallContext::Param(absl::string_view name) const {
  if (const json::value* v = params.if_contains(json::string_view(name.data(), name.size()))) {
    return JsonText(*v);
  }
  return std::nullopt;
}

bool CallContext::IsPathParam(absl::string_view name) const {
  return std::any_of(route->path_params.begin(), route->path_params.end(),
                     [&](const auto& p) { return p.first == name; });
}

// --- Impl -------------------------------------------------------------------------------

MockBackend::Impl::Impl(std::shared_ptr<const api::ApiIndex> api, MockOptions options,
                        std::unique_ptr<Store> store)
    : api_(std::move(api)), options_(std::move(options)), store_(std::move(store)) {
  if (!options_.now_ms) {
    options_.now_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  BuildCollections();
  RegisterHandlers();
}

void MockBackend::Impl::BuildCollections() {
  struct Messages {
    const char* template_path;
    const char* missing;
    const char* duplicate;
  };
  static const Messages kMessages[] = {
      {"/nodes", "no such cluster node '{id}'", "node '{id}' already exists"},
      {"/nodes/{node}/qemu",
       "Configuration file 'nodes/{node}/qemu-server/{id}.conf' does not exist",
       "unable to create VM {id} - VM {id} already exists on node '{where}'"},
      {"/nodes/{node}/lxc", "Configuration file 'nodes/{node}/lxc/{id}.conf' does not exist",
       "unable to create CT {id} - CT {id} already exists on node '{where}'"},
      {"/access/users", "no such user ('{id}')", "create user failed: user '{id}' already exists"},
      {"/access/groups", "group '{id}' does not exist",
       "create group failed: group '{id}' already exists"},
      {"/access/roles", "role '{id}' does not exist",
       "create role failed: role '{id}' already exists"},
      {"/pools", "pool '{id}' does not exist", "create pool failed: pool '{id}' already exists"},
      {"/storage", "storage '{id}' does not exist",
       "create storage failed: storage ID '{id}' already defined"},
      {"/nodes/{node}/storage", "storage '{id}' does not exist",
       "storage ID '{id}' already defined"},
      {"/nodes/{node}/tasks", "no such task '{id}'", "task '{id}' already exists"},
      {"/access/users/{userid}/token", "no such token '{id}' for user '{userid}'",
       "Token already exists."},
  };
  for (const auto& op : api_->operations()) {
    if (op->verb != "GET" || op->rules.child_link().empty()) continue;
    CollectionInfo info;
    info.template_path = op->path;
    info.child_key = op->rules.child_link();
    if (absl::StartsWith(info.child_key, "{") && absl::EndsWith(info.child_key, "}")) {
      info.child_key = info.child_key.substr(1, info.child_key.size() - 2);
    }
    if (auto item = api_->ParamChild(op->path)) info.item_template = *item;
    info.directory = info.item_template.empty() && !api_->LiteralChildren(op->path).empty();
    if (op->data != nullptr && op->data->is_repeated() &&
        op->data->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (absl::StartsWith(op->data->message_type()->full_name(), "google.protobuf.")) {
        info.untyped_rows = true;
      } else {
        info.row = op->data->message_type();
      }
    }
    // Keys set through create/update calls are "config": shown only once set.
    std::vector<const api::ApiOperation*> writers = {api_->Find("POST", op->path)};
    if (!info.item_template.empty()) {
      writers.push_back(api_->Find("PUT", info.item_template));
      writers.push_back(api_->Find("PUT", info.item_template + "/config"));
      writers.push_back(api_->Find("POST", info.item_template + "/config"));
    }
    for (const api::ApiOperation* w : writers) {
      if (w == nullptr) continue;
      for (const auto& [name, field] : w->params) {
        if (!api::Rules(field).path_param()) info.settable.insert(name);
      }
      for (const FieldDescriptor* field : w->indexed_params)
        info.settable.insert(api::WireName(field));
    }
    info.missing_message = "{kind} '{id}' does not exist";
    info.duplicate_message = "{kind} '{id}' already exists";
    for (const Messages& m : kMessages) {
      if (info.template_path == m.template_path) {
        info.missing_message = m.missing;
        info.duplicate_message = m.duplicate;
      }
    }
    if (info.template_path == "/nodes/{node}/storage" && api_->Find("GET", "/storage") != nullptr) {
      info.source = "/storage";
    }
    collections_.emplace(info.template_path, std::move(info));
  }
}

void MockBackend::Impl::RegisterHandlers() {
  auto add = [&](const std::string& verb, const std::string& path, Handler handler) {
    if (api_->Find(verb, path) != nullptr) handlers_[verb + " " + path] = std::move(handler);
  };
  for (const bool lxc : {false, true}) {
    const std::string base = lxc ? "/nodes/{node}/lxc" : "/nodes/{node}/qemu";
    add("POST", base, [this, lxc](CallContext& c) { return GuestCreate(c, lxc); });
    add("DELETE", base + "/{vmid}", [this, lxc](CallContext& c) { return GuestDelete(c, lxc); });
    add("GET", base + "/{vmid}/config",
        [this, lxc](CallContext& c) { return GuestConfigGet(c, lxc); });
    add("PUT", base + "/{vmid}/config",
        [this, lxc](CallContext& c) { return GuestConfig(c, lxc); });
    add("POST", base + "/{vmid}/config",
        [this, lxc](CallContext& c) { return GuestConfig(c, lxc); });
    add("POST", base + "/{vmid}/clone", [this, lxc](CallContext& c) { return GuestClone(c, lxc); });
    add("PUT", base + "/{vmid}/resize",
        [this, lxc](CallContext& c) { return GuestResize(c, lxc); });
    add("POST", base + "/{vmid}/template",
        [this, lxc](CallContext& c) { return GuestTemplate(c, lxc); });
    add("GET", base + "/{vmid}/pending",
        [this, lxc](CallContext& c) { return GuestPending(c, lxc); });
    add("POST", base + "/{vmid}/snapshot/{snapname}/rollback",
        [this, lxc](CallContext& c) { return GuestRollback(c, lxc); });
    add("POST", base + "/{vmid}/migrate",
        [this, lxc](CallContext& c) { return GuestMigrate(c, lxc); });
    for (const char* action :
         {"start", "stop", "shutdown", "reboot", "suspend", "resume", "reset"}) {
      add("POST", absl::StrCat(base, "/{vmid}/status/", action),
          [this, lxc, action](CallContext& c) { return GuestStatus(c, lxc, action); });
    }
  }
  add("PUT", "/nodes/{node}/qemu/{vmid}/unlink", [this](CallContext& c) { return GuestUnlink(c); });
  add("POST", "/access/ticket", [this](CallContext& c) { return Login(c); });
  add("POST", "/access/users", [this](CallContext& c) { return UserCreate(c); });
  add("DELETE", "/access/users/{userid}", [this](CallContext& c) { return UserDelete(c); });
  add("PUT", "/access/password", [this](CallContext& c) { return PasswordChange(c); });
  add("POST", "/access/users/{userid}/token/{tokenid}",
      [this](CallContext& c) { return TokenCreate(c); });
  add("PUT", "/access/users/{userid}/token/{tokenid}",
      [this](CallContext& c) { return TokenUpdate(c); });
  add("DELETE", "/access/users/{userid}/token/{tokenid}",
      [this](CallContext& c) { return TokenDelete(c); });
  add("GET", "/cluster/resources", [this](CallContext& c) { return ClusterResources(c); });
  add("GET", "/cluster/nextid", [this](CallContext& c) { return NextId(c); });
  add("GET", "/nodes/{node}/storage", [this](CallContext& c) { return NodeStorage(c); });
  add("GET", "/storage", [this](CallContext& c) { return StorageList(c); });
  add("GET", "/nodes/{node}/storage/{storage}/content",
      [this](CallContext& c) { return StorageContentList(c); });
  add("GET", "/nodes/{node}/storage/{storage}/content/{volume}",
      [this](CallContext& c) { return VolumeInfo(c); });
  add("GET", "/nodes/{node}/aplinfo", [this](CallContext& c) { return ApplianceList(c); });
  add("POST", "/nodes/{node}/aplinfo", [this](CallContext& c) { return ApplianceDownload(c); });
  add("POST", "/nodes/{node}/storage/{storage}/upload",
      [this](CallContext& c) { return StorageUpload(c); });
  add("POST", "/nodes/{node}/storage/{storage}/download-url",
      [this](CallContext& c) { return DownloadUrl(c); });
  add("GET", "/access/groups", [this](CallContext& c) { return GroupList(c); });
  add("GET", "/access/users", [this](CallContext& c) { return UserList(c); });
  add("GET", "/access/groups/{groupid}", [this](CallContext& c) { return GroupGet(c); });
  add("GET", "/pools", [this](CallContext& c) { return PoolList(c); });
  add("GET", "/pools/{poolid}", [this](CallContext& c) { return PoolGet(c); });
  for (const char* path : {"/pools", "/pools/{poolid}"}) {
    add("PUT", path, [this](CallContext& c) { return PoolUpdate(c); });
    add("DELETE", path, [this](CallContext& c) { return PoolDelete(c); });
  }
  add("GET", "/nodes/{node}/tasks", [this](CallContext& c) { return TaskList(c); });
  add("GET", "/nodes/{node}/tasks/{upid}/status", [this](CallContext& c) { return TaskStatus(c); });
  add("GET", "/nodes/{node}/tasks/{upid}/log", [this](CallContext& c) { return TaskLog(c); });
  add("DELETE", "/nodes/{node}/tasks/{upid}", [this](CallContext& c) { return TaskStop(c); });
}

const CollectionInfo* MockBackend::Impl::Collection(absl::string_view template_path) const {
  auto it = collections_.find(template_path);
  return it == collections_.end() ? nullptr : &it->second;
}

ShapeOptions MockBackend::Impl::Shape(const json::object* props, const NameSet* settable) const {
  ShapeOptions o;
  o.props = props;
  o.settable = settable;
  return o;
}

std::optional<json::object> MockBackend::Impl::GetEntity(ReadTxn& txn, absl::string_view collection,
                                                         absl::string_view id) {
  std::optional<absl::string_view> raw = txn.Get(EntityKey(collection, id));
  if (!raw) return std::nullopt;
  json::error_code ec;
  json::value v = json::parse(json::string_view(raw->data(), raw->size()), ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

absl::Status MockBackend::Impl::PutEntity(WriteTxn& txn, absl::string_view collection,
                                          absl::string_view id, const json::object& props) {
  return txn.Put(EntityKey(collection, id), json::serialize(props));
}

absl::Status MockBackend::Impl::DeleteEntity(WriteTxn& txn, absl::string_view collection,
                                             absl::string_view id) {
  const std::string item = absl::StrCat(collection, "/", id);
  PVEGW_RETURN_IF_ERROR(txn.Delete(EntityKey(collection, id)));
  // Sub-collections of the entity: their collection paths start with "<item>/".
  PVEGW_RETURN_IF_ERROR(txn.DeletePrefix(absl::StrCat("E", std::string(1, kSep), item, "/")));
  PVEGW_RETURN_IF_ERROR(txn.DeletePrefix(MarkerKey(item + "/")));
  PVEGW_RETURN_IF_ERROR(txn.Delete(OverrideKey(item)));
  return txn.DeletePrefix(OverrideKey(item + "/"));
}

absl::StatusOr<std::vector<std::pair<std::string, json::object>>> MockBackend::Impl::ListEntities(
    ReadTxn& txn, absl::string_view collection) {
  std::vector<std::pair<std::string, json::object>> out;
  const std::string prefix = EntityPrefix(collection);
  PVEGW_RETURN_IF_ERROR(txn.Scan(prefix, [&](absl::string_view key, absl::string_view value) {
    json::error_code ec;
    json::value v = json::parse(json::string_view(value.data(), value.size()), ec);
    if (!ec && v.is_object()) {
      out.emplace_back(std::string(key.substr(prefix.size())), std::move(v.get_object()));
    }
    return true;
  }));
  return out;
}

absl::Status MockBackend::Impl::EnsureCollection(absl::string_view collection,
                                                 const CollectionInfo& info) {
  bool present = false;
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
    present = txn.Get(MarkerKey(collection)).has_value();
    return absl::OkStatus();
  }));
  if (present) return absl::OkStatus();
  return store_->Write([&](WriteTxn& txn) -> absl::Status {
    if (txn.Get(MarkerKey(collection))) return absl::OkStatus();  // another process won
    if ((info.row != nullptr || info.untyped_rows) && !info.directory &&
        !StartsEmpty(info.template_path)) {
      std::set<std::string> ids;
      for (int i = 0; i < kGeneratedEntities; ++i) {
        const std::string seed = absl::StrCat(collection, "#", i);
        json::object row;
        if (info.row != nullptr) row = ShapeObject(info.row, seed, Shape(nullptr, nullptr));
        // The id must pass the checks of the item path it will be fetched by.
        std::string id;
        if (const FieldDescriptor* id_field = ItemIdField(info)) {
          id = JsonText(GenerateValue(id_field, seed, Shape(nullptr, nullptr), 0));
        } else if (row.contains(info.child_key)) {
          id = JsonText(row[info.child_key]);
        } else {
          id = absl::StrCat(info.child_key, i + 1);
        }
        if (id.empty() || !ids.insert(id).second) id = absl::StrCat(id, "-", i);
        const FieldDescriptor* key_field =
            info.row != nullptr ? api::FieldByWireName(info.row, info.child_key) : nullptr;
        row[info.child_key] =
            key_field != nullptr ? CoerceToField(json::value(id), key_field) : json::value(id);
        PVEGW_RETURN_IF_ERROR(PutEntity(txn, collection, id, row));
      }
    }
    return txn.Put(MarkerKey(collection), "1");
  });
}

const FieldDescriptor* MockBackend::Impl::ItemIdField(const CollectionInfo& info) const {
  if (info.item_template.empty()) return nullptr;
  const std::string param =
      info.item_template.substr(info.item_template.rfind('{') + 1,
                                info.item_template.size() - info.item_template.rfind('{') - 2);
  for (const char* verb : {"GET", "PUT", "DELETE", "POST"}) {
    if (const api::ApiOperation* op = api_->Find(verb, info.item_template)) {
      if (auto it = op->params.find(param); it != op->params.end()) return it->second;
    }
  }
  return nullptr;
}

absl::Status MockBackend::Impl::MissingError(const CollectionInfo& info,
                                             absl::string_view collection, absl::string_view id,
                                             const CallContext& ctx) const {
  std::string kind = KindOf(info.template_path);
  (void)collection;
  return HttpError(500,
                   absl::StrReplaceAll(info.missing_message, {{"{id}", id},
                                                              {"{node}", ctx.PathParam("node")},
                                                              {"{userid}", ctx.PathParam("userid")},
                                                              {"{kind}", kind}}));
}

absl::Status MockBackend::Impl::DuplicateError(const CollectionInfo& info, absl::string_view id,
                                               absl::string_view where) const {
  const std::string kind = KindOf(info.template_path);
  return HttpError(500, absl::StrReplaceAll(info.duplicate_message,
                                            {{"{id}", id}, {"{where}", where}, {"{kind}", kind}}));
}

absl::StatusOr<json::object> MockBackend::Impl::LoadOwner(const CallContext& ctx) {
  if (ctx.owner == nullptr) return absl::InternalError("the path lies under no entity");
  std::optional<json::object> props;
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
    props = GetEntity(txn, ctx.owner_collection, ctx.owner_id);
    return absl::OkStatus();
  }));
  // Deleted by another process since the ancestor check.
  if (!props) return MissingError(*ctx.owner, ctx.owner_collection, ctx.owner_id, ctx);
  return *std::move(props);
}

json::object MockBackend::Impl::View(const CollectionInfo& info, absl::string_view collection,
                                     const json::object& props, std::int64_t now_ms) const {
  if (info.template_path == "/nodes/{node}/qemu" || info.template_path == "/nodes/{node}/lxc") {
    return GuestView(props, collection, info.template_path == "/nodes/{node}/lxc", now_ms);
  }
  if (info.template_path == "/nodes/{node}/tasks") return TaskView(props, now_ms);
  return props;
}

absl::Status MockBackend::Impl::CheckAncestors(CallContext& ctx) {
  const api::Route& route = *ctx.route;
  const std::vector<std::string>& tsegs = ctx.op->segments;
  for (std::size_t i = 0; i < tsegs.size(); ++i) {
    if (!IsParamSegment(tsegs[i])) continue;
    // POST on an item path creates that item (API tokens, ...): it need not exist yet.
    if (ctx.op->verb == "POST" && i + 1 == tsegs.size()) continue;
    std::string parent_template;
    for (std::size_t j = 0; j < i; ++j) absl::StrAppend(&parent_template, "/", tsegs[j]);
    const CollectionInfo* info = Collection(parent_template);
    if (info == nullptr || info->directory || info->item_template.empty()) continue;
    const std::string parent = JoinPath(route.segments, i);
    const std::string source = info->source.empty() ? parent : info->source;
    const CollectionInfo* source_info = info->source.empty() ? info : Collection(info->source);
    if (source_info == nullptr) continue;
    PVEGW_RETURN_IF_ERROR(EnsureCollection(source, *source_info));
    bool exists = false;
    PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
      exists = txn.Get(EntityKey(source, route.segments[i])).has_value();
      return absl::OkStatus();
    }));
    if (!exists) return MissingError(*info, parent, route.segments[i], ctx);
    ctx.owner = source_info;
    ctx.owner_collection = source;
    ctx.owner_id = route.segments[i];
    ctx.owner_segment = i;
  }
  return absl::OkStatus();
}

absl::StatusOr<json::value> MockBackend::Impl::Dispatch(CallContext& ctx) {
  if (ctx.op->verb == "GET") {
    std::optional<json::value> custom;
    PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
      if (auto raw = txn.Get(OverrideKey(ctx.path))) {
        json::error_code ec;
        json::value v = json::parse(json::string_view(raw->data(), raw->size()), ec);
        if (!ec) custom = std::move(v);
      }
      return absl::OkStatus();
    }));
    if (custom) return *std::move(custom);
  }
  PVEGW_RETURN_IF_ERROR(CheckAncestors(ctx));
  auto it = handlers_.find(absl::StrCat(ctx.op->verb, " ", ctx.op->path));
  if (ctx.op->verb != "GET") {
    return it != handlers_.end() ? it->second(ctx) : GenericMutation(ctx);
  }
  absl::StatusOr<json::value> data = it != handlers_.end() ? it->second(ctx) : GenericGet(ctx);
  if (data.ok()) PVEGW_RETURN_IF_ERROR(AddRealHostKeys(ctx, *data));
  return data;
}

absl::StatusOr<json::value> MockBackend::Impl::GenericGet(CallContext& ctx) {
  const std::string& tmpl = ctx.op->path;
  if (const CollectionInfo* info = Collection(tmpl)) {
    json::array rows;
    if (info->directory) {
      for (const std::string& child : api_->LiteralChildren(tmpl)) {
        json::object row;
        row[info->child_key] = child;
        rows.push_back(std::move(row));
      }
      return rows;
    }
    if (!info->item_template.empty() && (info->row != nullptr || info->untyped_rows)) {
      const std::string source = info->source.empty() ? ctx.path : info->source;
      const CollectionInfo* source_info = info->source.empty() ? info : Collection(info->source);
      PVEGW_RETURN_IF_ERROR(EnsureCollection(source, *source_info));
      std::vector<std::pair<std::string, json::object>> entities;
      PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
        PVEGW_ASSIGN_OR_RETURN(entities, ListEntities(txn, source));
        return absl::OkStatus();
      }));
      // Entries of a configuration (storage, backup jobs, firewall, SDN, ...): Proxmox
      // lists each one with everything it holds, also keys its schema does not declare.
      const bool config_entries = api_->Find("POST", source_info->template_path) != nullptr &&
                                  !IsGuestCollection(source_info->template_path);
      for (auto& [id, props] : entities) {
        json::object view = View(*source_info, source, props, ctx.now_ms);
        if (!view.contains(info->child_key)) view[info->child_key] = id;
        if (info->row == nullptr) {
          rows.push_back(std::move(view));
          continue;
        }
        ShapeOptions shape = Shape(&view, &source_info->settable);
        // Rows a real host answers with exactly what it stores: no generated fillers.
        shape.generate = !OnlyStoredRows(source_info->template_path);
        json::object row = ShapeObject(info->row, absl::StrCat(source, "/", id), shape);
        if (config_entries) {
          for (const auto& kv : view) {
            // Secrets are written, never read back.
            if (kv.key() == "password" || kv.key() == "secret") continue;
            if (!row.contains(kv.key())) row[kv.key()] = kv.value();
          }
        }
        rows.push_back(std::move(row));
      }
      return rows;
    }
  }
  // An entity itself, or a view directly below it (config, status/current, ...).
  if (ctx.owner != nullptr) {
    const std::size_t below = ctx.route->segments.size() - (ctx.owner_segment + 1);
    bool params_below = false;
    for (std::size_t i = ctx.owner_segment + 1; i < ctx.op->segments.size(); ++i) {
      params_below = params_below || IsParamSegment(ctx.op->segments[i]);
    }
    if (below <= 2 && !params_below) {
      PVEGW_ASSIGN_OR_RETURN(json::object props, LoadOwner(ctx));
      json::object view = View(*ctx.owner, ctx.owner_collection, props, ctx.now_ms);
      // The id under the item path's own name ({name} for a "pool_name" row, ...).
      const std::string& id_segment = ctx.op->segments[ctx.owner_segment];
      const std::string id_name = id_segment.substr(1, id_segment.size() - 2);
      if (!view.contains(id_name)) view[id_name] = ctx.owner_id;
      const std::string seed = absl::StrCat(ctx.owner_collection, "/", ctx.owner_id);
      // An item answered untyped (the schema declares no properties): what it holds.
      if (below == 0 && ctx.op->data != nullptr && !ctx.op->data->is_repeated() &&
          ctx.op->data->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
          ctx.op->data->message_type()->full_name() == "google.protobuf.Struct") {
        return json::value(std::move(view));
      }
      return ShapeData(ctx.op->data, seed, Shape(&view, &ctx.owner->settable));
    }
  }
  return ShapeData(ctx.op->data, ctx.path, Shape(nullptr, nullptr));
}

absl::StatusOr<json::value> MockBackend::Impl::MutationResult(WriteTxn& txn, CallContext& ctx,
                                                              absl::string_view task_id) {
  if (ctx.op->rules.returns_upid()) {
    std::string node = ctx.PathParam("node");
    if (node.empty()) {
      std::vector<std::string> nodes = NodeNames(txn);
      node = nodes.empty() ? "localhost" : nodes.front();
    }
    std::string type = absl::StrReplaceAll(ctx.op->rules.name(), {{"_", ""}});
    if (type.empty()) type = absl::AsciiStrToLower(ctx.op->verb);
    std::string id(task_id);
    if (id.empty() && !ctx.route->path_params.empty()) id = ctx.route->path_params.back().second;
    // The worker types Proxmox's fork_worker calls use, with the guest id as the UPID's id
    // (qemu-server API2/Qemu.pm, pve-container API2/LXC*.pm, pve-storage API2/Storage/*.pm).
    struct ProxmoxTask {
      const char* verb;
      const char* path;
      const char* type;
      const char* id_param;  // "" = the UPID's id is empty (fork_worker's undef)
    };
    static constexpr ProxmoxTask kTasks[] = {
        {"POST", "/nodes/{node}/qemu/{vmid}/snapshot", "qmsnapshot", "vmid"},
        {"POST", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback", "qmrollback", "vmid"},
        {"DELETE", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}", "qmdelsnapshot", "vmid"},
        {"POST", "/nodes/{node}/qemu/{vmid}/template", "qmtemplate", "vmid"},
        {"PUT", "/nodes/{node}/qemu/{vmid}/resize", "resize", "vmid"},
        {"POST", "/nodes/{node}/lxc/{vmid}/snapshot", "vzsnapshot", "vmid"},
        {"POST", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback", "vzrollback", "vmid"},
        {"DELETE", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}", "vzdelsnapshot", "vmid"},
        {"PUT", "/nodes/{node}/lxc/{vmid}/resize", "resize", "vmid"},
        {"DELETE", "/nodes/{node}/storage/{storage}/content/{volume}", "imgdel", ""},
        {"POST", "/nodes/{node}/storage/{storage}/upload", "imgcopy", ""},
        {"POST", "/nodes/{node}/storage/{storage}/download-url", "download", ""},
        {"POST", "/nodes/{node}/aplinfo", "download", ""},
    };
    for (const ProxmoxTask& t : kTasks) {
      if (ctx.op->verb != t.verb || ctx.op->path != t.path) continue;
      type = t.type;
      id = *t.id_param == '\0' ? std::string() : ctx.PathParam(t.id_param);
      break;
    }
    PVEGW_ASSIGN_OR_RETURN(std::string upid, StartTask(txn, node, type, id, ctx.now_ms, ctx.user));
    return json::value(upid);
  }
  const FieldDescriptor* data = ctx.op->data;
  if (data == nullptr ||
      (data->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !data->is_repeated() &&
       data->message_type()->full_name() == "google.protobuf.Empty")) {
    return json::value(nullptr);
  }
  if (!task_id.empty() && data->cpp_type() == FieldDescriptor::CPPTYPE_STRING &&
      !data->is_repeated()) {
    return json::value(std::string(task_id));
  }
  return ShapeData(data, ctx.path, Shape(nullptr, nullptr));
}

absl::StatusOr<json::value> MockBackend::Impl::GenericMutation(CallContext& ctx) {
  const std::string& tmpl = ctx.op->path;
  const std::string& verb = ctx.op->verb;
  const CollectionInfo* info = Collection(tmpl);
  absl::StatusOr<json::value> result;
  // Create: POST on a collection of stored entities.
  if (verb == "POST" && info != nullptr && !info->directory && !info->item_template.empty()) {
    const std::string collection = info->source.empty() ? ctx.path : info->source;
    const CollectionInfo* target = info->source.empty() ? info : Collection(info->source);
    PVEGW_RETURN_IF_ERROR(EnsureCollection(collection, *target));
    const std::string item_param =
        info->item_template.substr(info->item_template.rfind('{') + 1,
                                   info->item_template.size() - info->item_template.rfind('{') - 2);
    std::optional<std::string> id = ctx.Param(info->child_key);
    if (!id) id = ctx.Param(item_param);
    PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
      std::string new_id;
      if (id) {
        new_id = *id;
      } else {
        // Proxmox numbers such entries itself (firewall rules get the next position).
        PVEGW_ASSIGN_OR_RETURN(auto entities, ListEntities(txn, collection));
        new_id = absl::StrCat(entities.size());
      }
      if (new_id.empty() || new_id.size() > 200)
        return ParamError(info->child_key, "invalid identifier");
      if (GetEntity(txn, collection, new_id)) return DuplicateError(*target, new_id, "");
      json::object props;
      for (const auto& kv : ctx.params) {
        if (!ctx.IsPathParam(std::string(kv.key()))) props[kv.key()] = kv.value();
      }
      props[info->child_key] = json::value(new_id);
      PVEGW_RETURN_IF_ERROR(PutEntity(txn, collection, new_id, props));
      result = MutationResult(txn, ctx, new_id);
      return result.status();
    }));
    return result;
  }
  // Update / delete of a stored entity addressed by its own path.
  if (ctx.owner != nullptr && ctx.owner_segment + 1 == ctx.route->segments.size() &&
      (verb == "PUT" || verb == "DELETE")) {
    PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
      std::optional<json::object> props = GetEntity(txn, ctx.owner_collection, ctx.owner_id);
      if (!props) return MissingError(*ctx.owner, ctx.owner_collection, ctx.owner_id, ctx);
      if (verb == "DELETE") {
        PVEGW_RETURN_IF_ERROR(DeleteEntity(txn, ctx.owner_collection, ctx.owner_id));
      } else {
        for (const auto& kv : ctx.params) {
          const std::string key(kv.key());
          if (ctx.IsPathParam(key) || key == "digest") continue;
          if (key == "delete" && kv.value().is_string()) {
            for (const std::string& k : SplitList(JsonText(kv.value()))) props->erase(k);
            continue;
          }
          (*props)[key] = kv.value();
        }
        PVEGW_RETURN_IF_ERROR(PutEntity(txn, ctx.owner_collection, ctx.owner_id, *props));
      }
      result = MutationResult(txn, ctx, ctx.owner_id);
      return result.status();
    }));
    return result;
  }
  // Any other action: a task when Proxmox would start one.
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    result = MutationResult(txn, ctx, "");
    return result.status();
  }));
  return result;
}

RestResponse MockBackend::Impl::Call(const RestRequest& request, absl::string_view user,
                                     const MockBackend::UploadedFile* upload) {
  try {
    const std::string verb = absl::AsciiStrToUpper(request.verb);
    absl::StatusOr<api::Route> route = api_->Match(verb, request.path);
    if (!route.ok()) {
      return RestResponseFromStatus(
          HttpError(route.status().code() == absl::StatusCode::kInvalidArgument ? 400 : 501,
                    route.status().message()));
    }
    api::ValidatedParams validated =
        api::ValidateParams(*route->op, request.params, route->path_params);
    if (!validated.ok()) return RestResponseFromStatus(ParamError(validated.violations));
    CallContext ctx;
    ctx.route = &*route;
    ctx.op = route->op;
    ctx.params = std::move(validated.values);
    ctx.path = JoinPath(route->segments, route->segments.size());
    ctx.now_ms = Now();
    ctx.user = std::string(user);
    ctx.upload = upload;
    absl::StatusOr<json::value> data = Dispatch(ctx);
    if (!data.ok()) return RestResponseFromStatus(data.status());
    json::object body;
    body["data"] = *std::move(data);
    RestResponse response;
    response.body = json::serialize(body);
    return response;
  } catch (const std::exception& e) {
    // A bug in the mock must not take the process down with it.
    return RestResponseFromStatus(HttpError(500, absl::StrCat("internal mock error: ", e.what())));
  }
}

absl::Status MockBackend::Impl::Initialize() {
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    if (txn.Get(MetaKey("seeded"))) return absl::OkStatus();  // another process seeded it
    PVEGW_RETURN_IF_ERROR(Seed(txn));
    PVEGW_RETURN_IF_ERROR(SeedAccess(txn));
    return txn.Put(MetaKey("seeded"), "1");
  }));
  return ApplyCustomData();
}

absl::Status MockBackend::Impl::Reset() {
  PVEGW_RETURN_IF_ERROR(store_->Reset());
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    PVEGW_RETURN_IF_ERROR(Seed(txn));
    PVEGW_RETURN_IF_ERROR(SeedAccess(txn));
    return txn.Put(MetaKey("seeded"), "1");
  }));
  return ApplyCustomData();
}

std::vector<std::string> MockBackend::Impl::NodeNames(ReadTxn& txn) const {
  std::vector<std::string> names;
  const std::string prefix = EntityPrefix("/nodes");
  txn.Scan(prefix,
           [&](absl::string_view key, absl::string_view) {
             names.emplace_back(key.substr(prefix.size()));
             return true;
           })
      .IgnoreError();  // an unreadable index only means fewer names
  return names;
}

// --- Facade -----------------------------------------------------------------------------

MockBackend::MockBackend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MockBackend::~MockBackend() = default;

absl::StatusOr<std::unique_ptr<MockBackend>> MockBackend::Create(
    std::shared_ptr<const api::ApiIndex> api, MockOptions options) {
  if (api == nullptr) return absl::InvalidArgumentError("MockBackend needs an API index");
  if (options.task_duration_ms < 0) {
    return absl::InvalidArgumentError("task duration must not be negative");
  }
  PVEGW_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(options.store));
  auto impl = std::make_unique<Impl>(std::move(api), std::move(options), std::move(store));
  PVEGW_RETURN_IF_ERROR(impl->Initialize());
  return std::unique_ptr<MockBackend>(new MockBackend(std::move(impl)));
}

RestResponse MockBackend::Call(const RestRequest& request, absl::string_view user) {
  return impl_->Call(request, user);
}
RestResponse MockBackend::CallWithUpload(const RestRequest& request, absl::string_view user,
                                         const UploadedFile& file) {
  return impl_->Call(request, user, &file);
}
absl::Status MockBackend::Reset() { return impl_->Reset(); }
Store& MockBackend::store() { return impl_->store(); }
const api::ApiIndex& MockBackend::api() const { return impl_->api(); }
absl::StatusOr<MockBackend::Identity> MockBackend::VerifyTicket(absl::string_view ticket) {
  return impl_->VerifyTicket(ticket);
}
bool MockBackend::VerifyCsrfToken(absl::string_view token, absl::string_view userid) {
  return impl_->VerifyCsrfToken(token, userid);
}
absl::StatusOr<MockBackend::Identity> MockBackend::VerifyApiToken(absl::string_view full_tokenid,
                                                                  absl::string_view secret) {
  return impl_->VerifyApiToken(full_tokenid, secret);
}
absl::Status MockBackend::SetPassword(absl::string_view userid, absl::string_view password) {
  return impl_->SetPassword(userid, password);
}

absl::StatusOr<MockOptions> MockOptionsFromEnv(MockOptions base) {
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
  if (auto v = env("PROXMOX_MOCK_STATE_NAMESPACE")) base.store.ns = *v;
  if (auto v = env("PROXMOX_MOCK_STATE_DIR")) base.store.dir = *v;
  if (auto v = env("PROXMOX_MOCK_STATE_CAPACITY_MB")) {
    std::uint64_t mb = 0;
    if (!absl::SimpleAtoi(*v, &mb) || mb < 1 || mb > (std::uint64_t{1} << 20)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PROXMOX_MOCK_STATE_CAPACITY_MB=", *v, " is not a size in MiB between 1 and 1048576"));
    }
    base.store.capacity_bytes = static_cast<std::size_t>(mb) << 20;
  }
  if (auto v = env("PROXMOX_MOCK_DATA_PATH")) base.data_path = *v;
  if (auto v = env("PROXMOX_MOCK_TASK_DURATION_MS")) {
    std::int64_t ms = 0;
    if (!absl::SimpleAtoi(*v, &ms) || ms < 0 || ms > 24 * 3600 * 1000) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PROXMOX_MOCK_TASK_DURATION_MS=", *v, " is not a duration in milliseconds (0-86400000)"));
    }
    base.task_duration_ms = ms;
  }
  return base;
}

}  // namespace pvegw::mockstate
