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

}  // namespace pvegw::mockstate
