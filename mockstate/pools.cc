// Resource pools of the mock world: list, members, update and delete as Proxmox does them.
#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "mockstate/backend_impl.h"

namespace pvegw::mockstate {

using ::google::protobuf::Descriptor;

namespace {

// Members of a pool as Proxmox lists them.
json::array PoolMembers(MockBackend::Impl& impl, ReadTxn& txn, const json::object& pool,
                        std::int64_t now_ms) {
  json::array members;
  if (const json::value* vms = pool.if_contains("vms"); vms != nullptr && vms->is_array()) {
    for (const auto& v : vms->get_array()) {
      if (!v.is_int64()) continue;
      auto where = LookupGuest(txn, v.get_int64());
      if (!where) continue;
      const bool lxc = where->first == "lxc";
      const std::string collection = GuestCollection(where->second, lxc);
      std::optional<json::object> props =
          MockBackend::Impl::GetEntity(txn, collection, absl::StrCat(v.get_int64()));
      if (!props) continue;
      json::object view = impl.GuestView(*props, collection, lxc, now_ms);
      json::object m;
      m["id"] = absl::StrCat(where->first, "/", v.get_int64());
      m["type"] = where->first;
      m["vmid"] = v.get_int64();
      m["node"] = where->second;
      for (const char* k :
           {"name", "status", "maxmem", "maxcpu", "maxdisk", "uptime", "template", "cpu", "mem",
            "disk", "diskread", "diskwrite", "netin", "netout", "tags", "lock"}) {
        if (view.contains(k)) m[k] = view[k];
      }
      m["pool"] = JsonText(pool.contains("poolid") ? pool.at("poolid") : json::value(""));
      members.push_back(std::move(m));
    }
  }
  if (const json::value* st = pool.if_contains("storage"); st != nullptr && st->is_array()) {
    for (const auto& s : st->get_array()) {
      const std::string sid = JsonText(s);
      const std::optional<json::object> storage =
          MockBackend::Impl::GetEntity(txn, "/storage", sid);
      for (const std::string& node : impl.NodeNames(txn)) {
        // The same row as /cluster/resources, sized as in the node's storage list.
        json::object m = StorageResource(node, sid, storage ? &*storage : nullptr);
        members.push_back(std::move(m));
      }
    }
  }
  return members;
}

std::string PoolIdOf(const CallContext& ctx) {
  std::string id = ctx.PathParam("poolid");
  if (id.empty()) id = ctx.Param("poolid").value_or("");
  return id;
}

}  // namespace

absl::StatusOr<json::value> MockBackend::Impl::PoolList(CallContext& ctx) {
  const std::string only = ctx.Param("poolid").value_or("");
  json::array rows;
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
    PVEGW_ASSIGN_OR_RETURN(auto pools, ListEntities(txn, "/pools"));
    for (const auto& [poolid, props] : pools) {
      if (!only.empty() && poolid != only) continue;
      json::object row;
      row["poolid"] = poolid;
      if (props.contains("comment")) row["comment"] = props.at("comment");
      if (!only.empty()) row["members"] = PoolMembers(*this, txn, props, ctx.now_ms);
      rows.push_back(std::move(row));
    }
    if (!only.empty() && rows.empty()) {
      return HttpError(500, absl::StrCat("pool '", only, "' does not exist"));
    }
    return absl::OkStatus();
  }));
  return json::value(std::move(rows));
}

absl::StatusOr<json::value> MockBackend::Impl::PoolGet(CallContext& ctx) {
  const std::string poolid = PoolIdOf(ctx);
  json::object out;
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
    std::optional<json::object> pool = GetEntity(txn, "/pools", poolid);
    if (!pool) return HttpError(500, absl::StrCat("pool '", poolid, "' does not exist"));
    if (pool->contains("comment")) out["comment"] = pool->at("comment");
    out["members"] = PoolMembers(*this, txn, *pool, ctx.now_ms);
    return absl::OkStatus();
  }));
  return json::value(std::move(out));
}

absl::StatusOr<json::value> MockBackend::Impl::PoolUpdate(CallContext& ctx) {
  const std::string poolid = PoolIdOf(ctx);
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    std::optional<json::object> pool = GetEntity(txn, "/pools", poolid);
    if (!pool) return HttpError(500, absl::StrCat("pool '", poolid, "' does not exist"));
    const bool remove = IntOf(ctx.params, "delete", 0) != 0;
    const bool allow_move = IntOf(ctx.params, "allow-move", 0) != 0;
    if (auto comment = ctx.Param("comment")) (*pool)["comment"] = *comment;
    json::array vms = (*pool)["vms"].is_array() ? (*pool)["vms"].get_array() : json::array();
    for (const std::string& text : SplitList(ctx.Param("vms").value_or(""))) {
      std::int64_t vmid = 0;
      if (!absl::SimpleAtoi(text, &vmid))
        return ParamError("vms", absl::StrCat("invalid VMID '", text, "'"));
      auto it = std::find_if(vms.begin(), vms.end(), [&](const json::value& v) {
        return v.is_int64() && v.get_int64() == vmid;
      });
      if (remove) {
        if (it != vms.end()) vms.erase(it);
        continue;
      }
      if (!LookupGuest(txn, vmid))
        return HttpError(500, absl::StrCat("VM ", vmid, " does not exist"));
      if (it != vms.end()) continue;
      PVEGW_ASSIGN_OR_RETURN(auto pools, ListEntities(txn, "/pools"));
      for (auto& [other_id, other] : pools) {
        if (other_id == poolid || !other["vms"].is_array()) continue;
        json::array& ovms = other["vms"].get_array();
        auto oit = std::find_if(ovms.begin(), ovms.end(), [&](const json::value& v) {
          return v.is_int64() && v.get_int64() == vmid;
        });
        if (oit == ovms.end()) continue;
        if (!allow_move) {
          return HttpError(500, absl::StrCat("VM ", vmid, " belongs to pool '", other_id, "'"));
        }
        ovms.erase(oit);
        PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/pools", other_id, other));
      }
      vms.push_back(vmid);
    }
    (*pool)["vms"] = std::move(vms);
    json::array storage =
        (*pool)["storage"].is_array() ? (*pool)["storage"].get_array() : json::array();
    for (const std::string& sid : SplitList(ctx.Param("storage").value_or(""))) {
      auto it = std::find_if(storage.begin(), storage.end(),
                             [&](const json::value& v) { return JsonText(v) == sid; });
      if (remove) {
        if (it != storage.end()) storage.erase(it);
      } else if (it == storage.end()) {
        if (!GetEntity(txn, "/storage", sid))
          return HttpError(500, absl::StrCat("storage '", sid, "' does not exist"));
        storage.push_back(json::value(sid));
      }
    }
    (*pool)["storage"] = std::move(storage);
    return PutEntity(txn, "/pools", poolid, *pool);
  }));
  return json::value(nullptr);
}

absl::StatusOr<json::value> MockBackend::Impl::PoolDelete(CallContext& ctx) {
  const std::string poolid = PoolIdOf(ctx);
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    std::optional<json::object> pool = GetEntity(txn, "/pools", poolid);
    if (!pool) return HttpError(500, absl::StrCat("pool '", poolid, "' does not exist"));
    const bool has_vms = (*pool)["vms"].is_array() && !(*pool)["vms"].get_array().empty();
    const bool has_storage =
        (*pool)["storage"].is_array() && !(*pool)["storage"].get_array().empty();
    if (has_vms || has_storage) {
      return HttpError(500, absl::StrCat("delete pool failed: pool '", poolid, "' is not empty"));
    }
    return DeleteEntity(txn, "/pools", poolid);
  }));
  return json::value(nullptr);
}

}  // namespace pvegw::mockstate
