// Simulated Proxmox tasks: real UPIDs, a run time, log lines, then "OK".
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "api/upid.h"
#include "common/status_macros.h"
#include "mockstate/backend_impl.h"

namespace pvegw::mockstate {
namespace {

constexpr std::int64_t kDefaultLogLimit = 50;
constexpr std::int64_t kDefaultListLimit = 50;

std::string TaskCollection(absl::string_view node) {
  return absl::StrCat("/nodes/", node, "/tasks");
}

std::int64_t Int(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->get_int64() : 0;
}

// The lines a task writes, in order; the last one only appears once it has finished.
std::vector<std::string> TaskLines(const json::object& task) {
  const std::string type = JsonText(task.at("type"));
  const std::string id = JsonText(task.at("id"));
  const std::string what = id.empty() ? type : absl::StrCat(type, " ", id);
  return {absl::StrCat("starting ", what), absl::StrCat(what, ": in progress"),
          absl::StrCat(what, ": done"), "TASK OK"};
}

// Visible lines at `now_ms`: they appear evenly over the run time.
std::size_t VisibleLines(const json::object& task, std::size_t total, std::int64_t now_ms) {
  const std::int64_t start = Int(task, "start_ms");
  const std::int64_t duration = Int(task, "duration_ms");
  if (task.contains("stopped_ms") || now_ms >= start + duration) return total;
  const std::int64_t elapsed = std::max<std::int64_t>(0, now_ms - start);
  const std::size_t shown =
      1 + static_cast<std::size_t>((total - 2) * elapsed / std::max<std::int64_t>(duration, 1));
  return std::min(shown, total - 1);
}

}  // namespace

absl::StatusOr<std::string> MockBackend::Impl::StartTask(WriteTxn& txn, absl::string_view node,
                                                         absl::string_view type,
                                                         absl::string_view id, std::int64_t now_ms,
                                                         absl::string_view user,
                                                         absl::string_view error) {
  // PIDs come from a counter in the store so that UPIDs stay unique across processes.
  std::int64_t pid = 1000;
  if (auto raw = txn.Get(MetaKey("next_pid"))) {
    (void)absl::SimpleAtoi(*raw, &pid);
  }
  PVEGW_RETURN_IF_ERROR(txn.Put(MetaKey("next_pid"), absl::StrCat(pid + 1)));
  const std::int64_t starttime = now_ms / 1000;
  const std::int64_t pstart = (now_ms / 10) & 0xffffffff;  // clock ticks since "boot"
  api::Upid parts;
  parts.node = std::string(node);
  parts.pid = static_cast<std::uint32_t>(pid);
  parts.pstart = static_cast<std::uint64_t>(pstart);
  parts.starttime = starttime;
  parts.type = std::string(type);
  parts.id = std::string(id);
  parts.user = std::string(user);
  const std::string upid = api::FormatUpid(parts);
  json::object task;
  task["upid"] = upid;
  task["node"] = std::string(node);
  task["pid"] = pid;
  task["pstart"] = pstart;
  task["starttime"] = starttime;
  task["type"] = std::string(type);
  task["id"] = std::string(id);
  task["user"] = std::string(user);
  task["start_ms"] = now_ms;
  task["duration_ms"] = options_.task_duration_ms;
  // A worker that dies: its message becomes the exit status and the log's last line.
  if (!error.empty()) task["error"] = std::string(error);
  PVEGW_RETURN_IF_ERROR(PutEntity(txn, TaskCollection(node), upid, task));
  return upid;
}

json::object MockBackend::Impl::TaskView(const json::object& task, std::int64_t now_ms) const {
  json::object view = task;
  const std::int64_t start = Int(task, "start_ms");
  const std::int64_t end =
      task.contains("stopped_ms") ? Int(task, "stopped_ms") : start + Int(task, "duration_ms");
  if (now_ms >= end) {
    view["status"] = "stopped";
    view["exitstatus"] = task.contains("stopped_ms") ? json::value("interrupted by signal")
                         : task.contains("error")    ? task.at("error")
                                                     : json::value("OK");
    view["endtime"] = end / 1000;
  } else {
    view["status"] = "running";
  }
  for (const char* k : {"start_ms", "duration_ms", "stopped_ms", "error"}) view.erase(k);
  return view;
}

absl::StatusOr<json::value> MockBackend::Impl::TaskList(CallContext& ctx) {
  const std::string node = ctx.PathParam("node");
  const auto param_int = [&](const char* name, std::int64_t fallback) {
    std::int64_t v = fallback;
    if (auto text = ctx.Param(name)) (void)absl::SimpleAtoi(*text, &v);
    return v;
  };
  const std::int64_t start = param_int("start", 0);
  const std::int64_t limit = param_int("limit", kDefaultListLimit);
  const std::string vmid = ctx.Param("vmid").value_or("");
  const std::string typefilter = ctx.Param("typefilter").value_or("");
  const std::string userfilter = ctx.Param("userfilter").value_or("");
  const std::string source = ctx.Param("source").value_or("archive");
  const bool errors_only = ctx.Param("errors").value_or("0") == "1";
  std::vector<json::object> tasks;
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
    PVEGW_ASSIGN_OR_RETURN(auto entities, ListEntities(txn, TaskCollection(node)));
    for (auto& [upid, task] : entities) {
      json::object view = TaskView(task, ctx.now_ms);
      const bool running = view["status"] == json::value("running");
      if (source == "active" && !running) continue;
      if (source == "archive" && running) continue;
      if (!vmid.empty() && JsonText(view["id"]) != vmid) continue;
      if (!typefilter.empty() && !absl::StrContains(JsonText(view["type"]), typefilter)) continue;
      if (!userfilter.empty() && !absl::StrContains(JsonText(view["user"]), userfilter)) continue;
      if (errors_only && view.contains("exitstatus") && view["exitstatus"] == json::value("OK"))
        continue;
      if (view.contains("exitstatus")) view["status"] = view["exitstatus"];  // list shows "OK"
      tasks.push_back(std::move(view));
    }
    return absl::OkStatus();
  }));
  std::sort(tasks.begin(), tasks.end(), [](const json::object& a, const json::object& b) {
    return Int(a, "starttime") != Int(b, "starttime") ? Int(a, "starttime") > Int(b, "starttime")
                                                      : Int(a, "pid") > Int(b, "pid");
  });
  const google::protobuf::Descriptor* row =
      ctx.op->data != nullptr ? ctx.op->data->message_type() : nullptr;
  const NameSet row_fields = row != nullptr ? AllWireNames(row) : NameSet();
  json::array rows;
  for (std::int64_t i = std::max<std::int64_t>(start, 0);
       i < static_cast<std::int64_t>(tasks.size()) &&
       static_cast<std::int64_t>(rows.size()) < limit;
       ++i) {
    json::object& t = tasks[static_cast<std::size_t>(i)];
    if (row_fields.empty()) {
      rows.push_back(std::move(t));
    } else {
      rows.push_back(ShapeObject(row, JsonText(t["upid"]), Shape(&t, &row_fields)));
    }
  }
  return json::value(std::move(rows));
}

absl::StatusOr<json::value> MockBackend::Impl::TaskStatus(CallContext& ctx) {
  PVEGW_ASSIGN_OR_RETURN(const json::object task, LoadOwner(ctx));
  json::object view = TaskView(task, ctx.now_ms);
  if (ctx.op->data == nullptr || ctx.op->data->message_type() == nullptr)
    return json::value(std::move(view));
  const auto* message = ctx.op->data->message_type();
  const NameSet fields = AllWireNames(message);
  return json::value(ShapeObject(message, ctx.path, Shape(&view, &fields)));
}

absl::StatusOr<json::value> MockBackend::Impl::TaskLog(CallContext& ctx) {
  PVEGW_ASSIGN_OR_RETURN(const json::object task, LoadOwner(ctx));
  std::vector<std::string> lines = TaskLines(task);
  if (task.contains("stopped_ms")) {
    lines.back() = "TASK ERROR: interrupted by signal";
  } else if (task.contains("error")) {
    lines.back() = absl::StrCat("TASK ERROR: ", JsonText(task.at("error")));
  }
  const std::size_t visible = VisibleLines(task, lines.size(), ctx.now_ms);
  std::int64_t start = 0;
  std::int64_t limit = kDefaultLogLimit;
  if (auto s = ctx.Param("start")) (void)absl::SimpleAtoi(*s, &start);
  if (auto l = ctx.Param("limit")) (void)absl::SimpleAtoi(*l, &limit);
  json::array rows;
  for (std::int64_t i = std::max<std::int64_t>(start, 0);
       i < static_cast<std::int64_t>(visible) && static_cast<std::int64_t>(rows.size()) < limit;
       ++i) {
    json::object line;
    line["n"] = i + 1;
    line["t"] = lines[static_cast<std::size_t>(i)];
    rows.push_back(std::move(line));
  }
  return json::value(std::move(rows));
}

absl::StatusOr<json::value> MockBackend::Impl::TaskStop(CallContext& ctx) {
  const std::string collection = TaskCollection(ctx.PathParam("node"));
  const std::string upid = ctx.PathParam("upid");
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    std::optional<json::object> task = GetEntity(txn, collection, upid);
    if (!task) return HttpError(500, absl::StrCat("no such task '", upid, "'"));
    if (TaskView(*task, ctx.now_ms)["status"] == json::value("running")) {
      (*task)["stopped_ms"] = ctx.now_ms;
      PVEGW_RETURN_IF_ERROR(PutEntity(txn, collection, upid, *task));
    }
    return absl::OkStatus();
  }));
  return json::value(nullptr);
}

}  // namespace pvegw::mockstate
