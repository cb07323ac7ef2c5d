// Storage of the mock world as a node sees it: /nodes/{node}/storage with usage.
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

absl::StatusOr<json::value> MockBackend::Impl::NodeStorage(CallContext& ctx) {
  const Descriptor* row = ctx.op->data != nullptr ? ctx.op->data->message_type() : nullptr;
  const std::string node = ctx.PathParam("node");
  const std::string content_filter = ctx.Param("content").value_or("");
  const std::string storage_filter = ctx.Param("storage").value_or("");
  const CollectionInfo* info = Collection("/storage");
  json::array rows;
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
    PVEGW_ASSIGN_OR_RETURN(auto storages, ListEntities(txn, "/storage"));
    for (auto& [sid, props] : storages) {
      if (!storage_filter.empty() && sid != storage_filter) continue;
      const std::string content = props.contains("content") ? JsonText(props.at("content")) : "";
      if (!content_filter.empty()) {
        bool any = false;
        for (const std::string& c : SplitList(content_filter)) {
          any =
              any || absl::StrContains(absl::StrCat(",", content, ","), absl::StrCat(",", c, ","));
        }
        if (!any) continue;
      }
      if (props.contains("nodes") &&
          !absl::StrContains(absl::StrCat(",", JsonText(props.at("nodes")), ","),
                             absl::StrCat(",", node, ","))) {
        continue;
      }
      json::object view = props;
      const std::uint64_t h = StableHash(absl::StrCat("storage/", node, "/", sid));
      const std::int64_t total = static_cast<std::int64_t>(h % 8 + 1) << 40;
      const std::int64_t used = static_cast<std::int64_t>(h % 400) << 30;
      view["storage"] = sid;
      view["active"] = 1;
      view["enabled"] = props.contains("disable") && JsonText(props.at("disable")) == "1" ? 0 : 1;
      view["total"] = total;
      view["used"] = used;
      view["avail"] = total - used;
      view["used_fraction"] = static_cast<double>(used) / static_cast<double>(total);
      if (!view.contains("shared")) view["shared"] = 0;
      if (row != nullptr) {
        rows.push_back(ShapeObject(row, absl::StrCat("/nodes/", node, "/storage/", sid),
                                   Shape(&view, info != nullptr ? &info->settable : nullptr)));
      }
    }
    return absl::OkStatus();
  }));
  return json::value(std::move(rows));
}

namespace {

// Keeps the rows of a list answer whose `key` is one of `wanted` (a Proxmox list such as
// "iso,vztmpl"); `wanted` empty keeps all.
json::value FilterRows(json::value rows, absl::string_view key, absl::string_view wanted) {
  if (wanted.empty() || !rows.is_array()) return rows;
  const std::vector<std::string> allowed = SplitList(wanted);
  json::array kept;
  for (auto& row : rows.get_array()) {
    const json::value* v =
        row.is_object() ? row.get_object().if_contains(json::string_view(key.data(), key.size()))
                        : nullptr;
    if (v != nullptr && std::find(allowed.begin(), allowed.end(), JsonText(*v)) != allowed.end())
      kept.push_back(std::move(row));
  }
  return kept;
}

}  // namespace

absl::StatusOr<json::value> MockBackend::Impl::StorageList(CallContext& ctx) {
  PVEGW_ASSIGN_OR_RETURN(json::value rows, GenericGet(ctx));
  return FilterRows(std::move(rows), "type", ctx.Param("type").value_or(""));
}

absl::StatusOr<json::value> MockBackend::Impl::StorageContentList(CallContext& ctx) {
  PVEGW_ASSIGN_OR_RETURN(json::value rows, GenericGet(ctx));
  rows = FilterRows(std::move(rows), "content", ctx.Param("content").value_or(""));
  return FilterRows(std::move(rows), "vmid", ctx.Param("vmid").value_or(""));
}

absl::StatusOr<json::value> MockBackend::Impl::VolumeInfo(CallContext& ctx) {
  const std::string node = ctx.PathParam("node");
  const std::string sid = ctx.PathParam("storage");
  const std::string volid = ctx.PathParam("volume");
  json::object out;
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
    std::optional<json::object> storage = GetEntity(txn, "/storage", sid);
    std::optional<json::object> volume =
        GetEntity(txn, absl::StrCat("/nodes/", node, "/storage/", sid, "/content"), volid);
    if (!storage || !volume) {
      return HttpError(500, absl::StrCat("can't find volume '", volid, "'"));
    }
    // pve-storage's path(): the directory layout of a dir-like storage, the device of a
    // volume group.
    const std::string name = volid.substr(volid.find(':') + 1);
    const std::string content =
        volume->contains("content") ? JsonText(volume->at("content")) : "images";
    if (storage->contains("path")) {
      const std::string base = JsonText(storage->at("path"));
      const std::size_t slash = name.find('/');
      const std::string file = slash == std::string::npos ? name : name.substr(slash + 1);
      if (content == "iso") {
        out["path"] = absl::StrCat(base, "/template/iso/", file);
      } else if (content == "vztmpl") {
        out["path"] = absl::StrCat(base, "/template/cache/", file);
      } else if (content == "backup") {
        out["path"] = absl::StrCat(base, "/dump/", file);
      } else {
        out["path"] = absl::StrCat(base, "/images/", name);
      }
    } else if (storage->contains("vgname")) {
      out["path"] = absl::StrCat("/dev/", JsonText(storage->at("vgname")), "/", name);
    }
    const std::int64_t size = IntOf(*volume, "size", 0);
    out["size"] = size;
    out["used"] = size;
    if (const json::value* format = volume->if_contains("format")) out["format"] = *format;
    for (const char* key : {"notes", "protected"}) {
      if (const json::value* v = volume->if_contains(key)) out[key] = *v;
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace pvegw::mockstate
