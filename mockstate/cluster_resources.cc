// Cluster-wide views of the mock world: /cluster/resources and /cluster/nextid.
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

absl::StatusOr<json::value> MockBackend::Impl::ClusterResources(CallContext& ctx) {
  const Descriptor* row = ctx.op->data != nullptr ? ctx.op->data->message_type() : nullptr;
  if (row == nullptr) return json::value(json::array());
  const NameSet fields = AllWireNames(row);
  const std::string filter = ctx.Param("type").value_or("");
  json::array rows;
  auto emit = [&](const json::object& props) {
    json::object out = ShapeObject(row, JsonText(props.at("id")), Shape(&props, &fields));
    // What pvestatd reports beyond the schema's keys.
    for (const char* k :
         {"cgroup-mode", "cpu",       "disk",   "mem",        "uptime",  "maxdisk",
          "maxmem",      "maxcpu",    "shared", "plugintype", "content", "status",
          "node",        "level",     "tags",   "template",   "pool",    "name",
          "diskread",    "diskwrite", "netin",  "netout",     "lock",    "hastate"}) {
      if (const json::value* v = props.if_contains(k); v != nullptr && !out.contains(k))
        out[k] = *v;
    }
    rows.push_back(std::move(out));
  };
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
    PVEGW_ASSIGN_OR_RETURN(auto nodes, ListEntities(txn, "/nodes"));
    PVEGW_ASSIGN_OR_RETURN(auto pools, ListEntities(txn, "/pools"));
    std::map<std::int64_t, std::string> pool_of;
    for (const auto& [poolid, props] : pools) {
      if (const json::value* vms = props.if_contains("vms"); vms != nullptr && vms->is_array()) {
        for (const auto& v : vms->get_array()) {
          if (v.is_int64()) pool_of[v.get_int64()] = poolid;
        }
      }
    }
    if (filter.empty() || filter == "node") {
      for (const auto& [name, props] : nodes) {
        json::object r = props;
        r.erase("ip");
        r["id"] = absl::StrCat("node/", name);
        r["type"] = "node";
        r["node"] = name;
        const std::uint64_t h = StableHash(name);
        r["cgroup-mode"] = 2;
        r["cpu"] = static_cast<double>(h % 200) / 1000.0;
        r["mem"] = IntOf(props, "maxmem", 0) / 100 * static_cast<std::int64_t>(20 + h % 50);
        r["disk"] = IntOf(props, "maxdisk", 0) / 100 * static_cast<std::int64_t>(5 + h % 40);
        r["uptime"] = static_cast<std::int64_t>(3 * 86400 + h % 86400);
        emit(r);
      }
    }
    if (filter.empty() || filter == "vm") {
      const std::string prefix = absl::StrCat("V", std::string(1, kSep));
      std::vector<std::pair<std::int64_t, std::pair<std::string, std::string>>> guests;
      PVEGW_RETURN_IF_ERROR(txn.Scan(prefix, [&](absl::string_view key, absl::string_view value) {
        std::int64_t vmid = 0;
        const auto sep = value.find(kSep);
        if (absl::SimpleAtoi(key.substr(prefix.size()), &vmid) && sep != absl::string_view::npos) {
          guests.push_back(
              {vmid, {std::string(value.substr(0, sep)), std::string(value.substr(sep + 1))}});
        }
        return true;
      }));
      std::sort(guests.begin(), guests.end());
      for (const auto& [vmid, where] : guests) {
        const bool lxc = where.first == "lxc";
        const std::string collection = GuestCollection(where.second, lxc);
        std::optional<json::object> props = GetEntity(txn, collection, absl::StrCat(vmid));
        if (!props) continue;
        json::object r = GuestView(*props, collection, lxc, ctx.now_ms);
        r["id"] = absl::StrCat(where.first, "/", vmid);
        r["type"] = where.first;
        r["node"] = where.second;
        r["vmid"] = vmid;
        if (auto it = pool_of.find(vmid); it != pool_of.end()) r["pool"] = it->second;
        if (auto ha =
                GetEntity(txn, "/cluster/ha/resources", absl::StrCat(lxc ? "ct:" : "vm:", vmid))) {
          r["hastate"] = ha->contains("state") ? ha->at("state") : json::value("started");
        }
        emit(r);
      }
    }
    if (filter.empty() || filter == "storage") {
      PVEGW_ASSIGN_OR_RETURN(auto storages, ListEntities(txn, "/storage"));
      for (const auto& [node, node_props] : nodes) {
        for (const auto& [sid, props] : storages) {
          if (!StorageOnNode(props, node)) continue;
          json::object r = StorageResource(node, sid, &props);
          emit(r);
        }
      }
    }
    if (filter.empty() || filter == "pool") {
      for (const auto& [poolid, props] : pools) {
        json::object r;
        r["id"] = absl::StrCat("/pool/", poolid);
        r["type"] = "pool";
        r["pool"] = poolid;
        emit(r);
      }
    }
    return absl::OkStatus();
  }));
  return json::value(std::move(rows));
}

absl::StatusOr<json::value> MockBackend::Impl::NextId(CallContext& ctx) {
  std::optional<std::int64_t> wanted;
  if (ctx.params.contains("vmid")) wanted = IntOf(ctx.params, "vmid", 0);
  std::int64_t found = 0;
  absl::Status taken;
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
    if (wanted) {
      if (LookupGuest(txn, *wanted)) {
        taken = ParamError("vmid", absl::StrCat("VM ", *wanted, " already exists"));
      }
      found = *wanted;
      return absl::OkStatus();
    }
    for (found = 100; LookupGuest(txn, found); ++found) {
    }
    return absl::OkStatus();
  }));
  PVEGW_RETURN_IF_ERROR(taken);
  return json::value(found);
}

}  // namespace pvegw::mockstate
