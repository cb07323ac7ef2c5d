// The default world a fresh namespace starts with, and custom data from a file.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "mockstate/backend_impl.h"

namespace pvegw::mockstate {
namespace {

using ::google::protobuf::FieldDescriptor;

json::object Obj(std::initializer_list<std::pair<json::string_view, json::value_ref>> items) {
  return json::object(items);
}

struct SeedGuest {
  std::int64_t vmid;
  const char* node;
  bool lxc;
  const char* status;
  json::object config;
};

std::vector<SeedGuest> SeedGuests() {
  return {
      {100, "pve1", false, "running",
       Obj({{"name", "web01"},
            {"memory", "4096"},
            {"cores", 2},
            {"sockets", 1},
            {"ostype", "l26"},
            {"scsihw", "virtio-scsi-single"},
            {"boot", "order=scsi0;net0"},
            {"scsi0", "local-lvm:vm-100-disk-0,iothread=1,size=32G"},
            {"net0", "virtio=BC:24:11:00:01:00,bridge=vmbr0,firewall=1"},
            {"agent", "1"},
            {"onboot", 1},
            {"tags", "prod;web"}})},
      {101, "pve1", false, "running",
       Obj({{"name", "db01"},
            {"memory", "8192"},
            {"cores", 4},
            {"sockets", 1},
            {"ostype", "l26"},
            {"scsihw", "virtio-scsi-single"},
            {"scsi0", "local-lvm:vm-101-disk-0,size=100G"},
            {"net0", "virtio=BC:24:11:00:01:01,bridge=vmbr0"},
            {"onboot", 1},
            {"tags", "prod;db"}})},
      {102, "pve2", false, "stopped",
       Obj({{"name", "build01"},
            {"memory", "2048"},
            {"cores", 2},
            {"sockets", 1},
            {"ostype", "l26"},
            {"scsi0", "local-lvm:vm-102-disk-0,size=64G"},
            {"net0", "virtio=BC:24:11:00:01:02,bridge=vmbr0"}})},
      {103, "pve2", false, "stopped",
       Obj({{"name", "debian-12-template"},
            {"memory", "1024"},
            {"cores", 1},
            {"ostype", "l26"},
            {"scsi0", "local-lvm:base-103-disk-0,size=8G"},
            {"template", 1},
            {"net0", "virtio=BC:24:11:00:01:03,bridge=vmbr0"}})},
      {200, "pve1", true, "running",
       Obj({{"hostname", "dns01"},
            {"arch", "amd64"},
            {"memory", 512},
            {"swap", 512},
            {"cores", 1},
            {"ostype", "debian"},
            {"rootfs", "local-lvm:vm-200-disk-0,size=8G"},
            {"net0", "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:02:00,ip=dhcp"},
            {"onboot", 1},
            {"tags", "infra"},
            {"unprivileged", 1}})},
      {201, "pve2", true, "stopped",
       Obj({{"hostname", "proxy01"},
            {"arch", "amd64"},
            {"memory", 1024},
            {"swap", 512},
            {"cores", 2},
            {"ostype", "alpine"},
            {"rootfs", "local-lvm:vm-201-disk-0,size=4G"},
            {"net0", "name=eth0,bridge=vmbr0,gw=10.0.0.1,hwaddr=BC:24:11:00:02:01,ip=10.0.0.21/24"},
            {"tags", "infra;edge"},
            {"unprivileged", 1}})},
  };
}

// Bounds on custom data: YAML aliases can make a file refer to itself (`a: &x [*x]`) or
// expand a few lines into billions of values.
constexpr int kMaxDataDepth = 64;
constexpr std::size_t kMaxDataValues = 5'000'000;

struct DataBudget {
  int depth = 0;
  std::size_t values = 0;
};

// yaml-cpp node -> JSON: plain scalars that read as numbers or booleans become them,
// quoted scalars stay strings.
absl::StatusOr<json::value> ToJson(const YAML::Node& node, const std::string& file,
                                   DataBudget& budget) {
  if (++budget.values > kMaxDataValues) {
    return absl::InvalidArgumentError(absl::StrCat(
        file, ": more than ", kMaxDataValues, " values (YAML aliases expanding without end?)"));
  }
  if (node.IsSequence() || node.IsMap()) {
    if (budget.depth >= kMaxDataDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":", node.Mark().line + 1, ": nested deeper than ", kMaxDataDepth,
                       " levels (a YAML alias that contains itself?)"));
    }
  }
  struct Deeper {
    explicit Deeper(DataBudget& b) : b(b) { ++b.depth; }
    ~Deeper() { --b.depth; }
    DataBudget& b;
  } deeper(budget);
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json::value(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") return json::value(s);  // quoted
      std::int64_t i = 0;
      if (absl::SimpleAtoi(s, &i)) return json::value(i);
      double d = 0;
      if (absl::SimpleAtod(s, &d) &&
          (s.find('.') != std::string::npos || s.find('e') != std::string::npos)) {
        return json::value(d);
      }
      if (s == "true" || s == "True" || s == "TRUE") return json::value(1);
      if (s == "false" || s == "False" || s == "FALSE") return json::value(0);
      if (s == "null" || s == "~") return json::value(nullptr);
      return json::value(s);
    }
    case YAML::NodeType::Sequence: {
      json::array arr;
      for (const auto& item : node) {
        PVEGW_ASSIGN_OR_RETURN(json::value v, ToJson(item, file, budget));
        arr.push_back(std::move(v));
      }
      return json::value(std::move(arr));
    }
    case YAML::NodeType::Map: {
      json::object obj;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return absl::InvalidArgumentError(absl::StrCat(file, ":", kv.first.Mark().line + 1,
                                                         ": mapping keys must be plain text"));
        }
        PVEGW_ASSIGN_OR_RETURN(json::value v, ToJson(kv.second, file, budget));
        obj[kv.first.Scalar()] = std::move(v);
      }
      return json::value(std::move(obj));
    }
  }
  return json::value(nullptr);
}

// Completes custom data for a guest (VMID, node, a state) and indexes it cluster-wide.
absl::Status AdoptGuest(WriteTxn& txn, json::object& props, absl::string_view id,
                        absl::string_view node, bool lxc) {
  std::int64_t vmid = 0;
  if (!absl::SimpleAtoi(id, &vmid)) {
    return absl::InvalidArgumentError(absl::StrCat("'", id, "' is not a VMID"));
  }
  props["vmid"] = vmid;
  props["node"] = std::string(node);
  if (!props.contains("status")) props["status"] = "stopped";
  return IndexGuest(txn, vmid, lxc, node);
}

absl::string_view KindOf(const json::value& v) {
  if (v.is_object()) return "a mapping";
  if (v.is_array()) return "a list";
  return "a scalar";
}

}  // namespace

absl::Status MockBackend::Impl::Seed(WriteTxn& txn) {
  auto mark = [&](const std::string& collection) { return txn.Put(MarkerKey(collection), "1"); };
  // Nodes.
  const std::vector<std::pair<const char*, json::object>> nodes = {
      {"pve1", Obj({{"node", "pve1"},
                    {"status", "online"},
                    {"maxcpu", 16},
                    {"maxmem", std::int64_t{68719476736}},
                    {"maxdisk", std::int64_t{500107862016}},
                    {"level", ""},
                    {"ip", "10.0.0.11"}})},
      {"pve2", Obj({{"node", "pve2"},
                    {"status", "online"},
                    {"maxcpu", 8},
                    {"maxmem", std::int64_t{34359738368}},
                    {"maxdisk", std::int64_t{250059350016}},
                    {"level", ""},
                    {"ip", "10.0.0.12"}})},
  };
  for (const auto& [name, props] : nodes) {
    PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/nodes", name, props));
    for (const char* sub : {"qemu", "lxc", "tasks"}) {
      PVEGW_RETURN_IF_ERROR(mark(absl::StrCat("/nodes/", name, "/", sub)));
    }
  }
  PVEGW_RETURN_IF_ERROR(mark("/nodes"));

  // Guests.
  for (SeedGuest& g : SeedGuests()) {
    json::object props = std::move(g.config);
    props["vmid"] = g.vmid;
    props["node"] = g.node;
    props["status"] = g.status;
    if (std::string(g.status) == "running") {
      props["started_ms"] = Now() - 3 * 24 * 3600 * 1000LL;  // up for three days
      props["pid"] = 1000 + g.vmid * 7;
    }
    const char* type = g.lxc ? "lxc" : "qemu";
    PVEGW_RETURN_IF_ERROR(
        PutEntity(txn, absl::StrCat("/nodes/", g.node, "/", type), absl::StrCat(g.vmid), props));
    PVEGW_RETURN_IF_ERROR(IndexGuest(txn, g.vmid, g.lxc, g.node));
  }

  // Storage, and what is on it.
  PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/storage", "local",
                                  Obj({{"storage", "local"},
                                       {"type", "dir"},
                                       {"path", "/var/lib/vz"},
                                       {"content", "iso,vztmpl,backup,import"},
                                       {"shared", 0}})));
  PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/storage", "local-lvm",
                                  Obj({{"storage", "local-lvm"},
                                       {"type", "lvmthin"},
                                       {"thinpool", "data"},
                                       {"vgname", "pve"},
                                       {"content", "images,rootdir"},
                                       {"shared", 0}})));
  PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/storage", "nfs-backup",
                                  Obj({{"storage", "nfs-backup"},
                                       {"type", "nfs"},
                                       {"server", "10.0.0.50"},
                                       {"export", "/srv/backup"},
                                       {"path", "/mnt/pve/nfs-backup"},
                                       {"content", "backup"},
                                       {"shared", 1}})));
  PVEGW_RETURN_IF_ERROR(mark("/storage"));
  for (const auto& [node, props] : nodes) {
    const std::string local = absl::StrCat("/nodes/", node, "/storage/local/content");
    const std::int64_t ctime = 1735689600;
    for (const auto& [volid, content, format, size] :
         std::vector<std::tuple<const char*, const char*, const char*, std::int64_t>>{
             {"local:iso/debian-12.9.0-amd64-netinst.iso", "iso", "iso", 663748608},
             {"local:iso/ubuntu-24.04.1-live-server-amd64.iso", "iso", "iso", 2773874688},
             {"local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "vztmpl", "tzst",
              126516234}}) {
      PVEGW_RETURN_IF_ERROR(PutEntity(txn, local, volid,
                                      Obj({{"volid", volid},
                                           {"content", content},
                                           {"format", format},
                                           {"size", size},
                                           {"ctime", ctime}})));
    }
    PVEGW_RETURN_IF_ERROR(mark(local));
    const std::string lvm = absl::StrCat("/nodes/", node, "/storage/local-lvm/content");
    for (const SeedGuest& g : SeedGuests()) {
      if (std::string(g.node) != node) continue;
      const std::string volid =
          absl::StrCat("local-lvm:", g.vmid == 103 ? "base" : "vm", "-", g.vmid, "-disk-0");
      PVEGW_RETURN_IF_ERROR(PutEntity(txn, lvm, volid,
                                      Obj({{"volid", volid},
                                           {"content", g.lxc ? "rootdir" : "images"},
                                           {"format", "raw"},
                                           {"vmid", g.vmid},
                                           {"size", std::int64_t{8} << 30},
                                           {"ctime", ctime}})));
    }
    PVEGW_RETURN_IF_ERROR(mark(lvm));
    PVEGW_RETURN_IF_ERROR(mark(absl::StrCat("/nodes/", node, "/storage/nfs-backup/content")));
  }

  // Realms: every Proxmox host has pam and pve (pve-access-control's default domains.cfg).
  PVEGW_RETURN_IF_ERROR(PutEntity(
      txn, "/access/domains", "pam",
      Obj({{"realm", "pam"}, {"type", "pam"}, {"comment", "Linux PAM standard authentication"}})));
  PVEGW_RETURN_IF_ERROR(PutEntity(
      txn, "/access/domains", "pve",
      Obj({{"realm", "pve"}, {"type", "pve"}, {"comment", "Proxmox VE authentication server"}})));
  PVEGW_RETURN_IF_ERROR(mark("/access/domains"));

  // Users, groups, pools.
  PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/access/users", "root@pam",
                                  Obj({{"userid", "root@pam"},
                                       {"enable", 1},
                                       {"expire", 0},
                                       {"comment", "Built-in Superuser"},
                                       {"realm-type", "pam"}})));
  PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/access/users", "admin@pve",
                                  Obj({{"userid", "admin@pve"},
                                       {"enable", 1},
                                       {"expire", 0},
                                       {"firstname", "Ada"},
                                       {"lastname", "Admin"},
                                       {"email", "admin@example.com"},
                                       {"groups", "admins"},
                                       {"realm-type", "pve"}})));
  PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/access/users", "ci-bot@pve",
                                  Obj({{"userid", "ci-bot@pve"},
                                       {"enable", 1},
                                       {"expire", 0},
                                       {"comment", "CI automation"},
                                       {"realm-type", "pve"}})));
  PVEGW_RETURN_IF_ERROR(mark("/access/users"));
  PVEGW_RETURN_IF_ERROR(PutEntity(
      txn, "/access/groups", "admins",
      Obj({{"groupid", "admins"}, {"comment", "Administrators"}, {"users", "admin@pve"}})));
  PVEGW_RETURN_IF_ERROR(mark("/access/groups"));
  PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/pools", "production",
                                  Obj({{"poolid", "production"},
                                       {"comment", "Production services"},
                                       {"vms", json::array{100, 101, 200}},
                                       {"storage", json::array{}}})));
  PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/pools", "development",
                                  Obj({{"poolid", "development"},
                                       {"comment", "Builds and experiments"},
                                       {"vms", json::array{102}},
                                       {"storage", json::array{"nfs-backup"}}})));
  PVEGW_RETURN_IF_ERROR(mark("/pools"));

  // The DNS container is an HA resource, kept on the nodes of its group.
  PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/cluster/ha/groups", "dns-nodes",
                                  Obj({{"group", "dns-nodes"},
                                       {"type", "group"},
                                       {"nodes", "pve1:2,pve2:1"},
                                       {"restricted", 0},
                                       {"nofailback", 0}})));
  PVEGW_RETURN_IF_ERROR(mark("/cluster/ha/groups"));
  PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/cluster/ha/resources", "ct:200",
                                  Obj({{"sid", "ct:200"},
                                       {"type", "ct"},
                                       {"state", "started"},
                                       {"group", "dns-nodes"},
                                       {"max_restart", 1},
                                       {"max_relocate", 1},
                                       {"failback", 1},
                                       {"comment", "DNS must stay up"}})));
  PVEGW_RETURN_IF_ERROR(mark("/cluster/ha/resources"));

  // A nightly backup job of the production VMs.
  PVEGW_RETURN_IF_ERROR(PutEntity(txn, "/cluster/backup", "backup-5c1f3a2b-7d44",
                                  Obj({{"id", "backup-5c1f3a2b-7d44"},
                                       {"type", "vzdump"},
                                       {"schedule", "01:00"},
                                       {"storage", "nfs-backup"},
                                       {"mode", "snapshot"},
                                       {"compress", "zstd"},
                                       {"enabled", 1},
                                       {"vmid", "100,101"},
                                       {"notes-template", "{{guestname}}"},
                                       {"mailnotification", "always"}})));
  PVEGW_RETURN_IF_ERROR(mark("/cluster/backup"));

  // A little task history, finished long ago, so task lists are not empty.
  const std::int64_t day_ms = 24 * 3600 * 1000LL;
  for (const auto& [node, props] : nodes) {
    PVEGW_RETURN_IF_ERROR(StartTask(txn, node, "aptupdate", "", Now() - 2 * day_ms).status());
  }
  PVEGW_RETURN_IF_ERROR(StartTask(txn, "pve1", "qmstart", "100", Now() - 3 * day_ms).status());
  PVEGW_RETURN_IF_ERROR(StartTask(txn, "pve1", "vzstart", "200", Now() - 3 * day_ms).status());
  return StartTask(txn, "pve2", "vzdump", "102", Now() - day_ms).status();
}

absl::Status MockBackend::Impl::ApplyCustomData() {
  const std::string& file = options_.data_path;
  if (file.empty()) return absl::OkStatus();
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("PROXMOX_MOCK_DATA_PATH: cannot read ", file, ": ", std::strerror(errno)));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(buffer.str());
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("PROXMOX_MOCK_DATA_PATH ", file, ":",
                                                   e.mark.line + 1, ":", e.mark.column + 1, ": ",
                                                   e.msg));
  }
  if (root.IsNull()) return absl::OkStatus();  // an empty file seeds nothing
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("PROXMOX_MOCK_DATA_PATH ", file,
                     ": expected a mapping of API paths to data, e.g. "
                     "\"/nodes/pve1/qemu/100/config: {name: web01}\""));
  }
  DataBudget budget;
  PVEGW_ASSIGN_OR_RETURN(json::value data, ToJson(root, file, budget));
  auto bad = [&](absl::string_view path, absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("PROXMOX_MOCK_DATA_PATH ", file, ": '", path, "': ", what));
  };
  return store_->Write([&](WriteTxn& txn) -> absl::Status {
    for (const auto& kv : data.get_object()) {
      const std::string path(kv.key());
      const json::value& value = kv.value();
      if (!absl::StartsWith(path, "/"))
        return bad(path, "keys must be API paths starting with '/'");
      absl::StatusOr<api::Route> route = api_->Match("GET", path);
      if (!route.ok()) return bad(path, "matches no GET operation of the API");
      const api::ApiOperation& op = *route->op;
      const std::string concrete = JoinPath(route->segments, route->segments.size());
      const CollectionInfo* info = Collection(op.path);
      // A whole collection: its entities are exactly the listed rows.
      if (info != nullptr && !info->directory && !info->item_template.empty()) {
        if (!value.is_array())
          return bad(path, absl::StrCat("a collection takes a list of rows, got ", KindOf(value)));
        const std::string collection = info->source.empty() ? concrete : info->source;
        PVEGW_RETURN_IF_ERROR(txn.DeletePrefix(EntityPrefix(collection)));
        const bool guests = op.path == "/nodes/{node}/qemu" || op.path == "/nodes/{node}/lxc";
        for (const auto& row : value.get_array()) {
          if (!row.is_object() || !row.get_object().contains(info->child_key)) {
            return bad(path, absl::StrCat("every row needs its '", info->child_key, "'"));
          }
          json::object props = row.get_object();
          const std::string id = JsonText(props[info->child_key]);
          if (guests) {
            absl::Status st = AdoptGuest(txn, props, id, route->path_params.front().second,
                                         op.path == "/nodes/{node}/lxc");
            if (!st.ok()) return bad(path, st.message());
          }
          PVEGW_RETURN_IF_ERROR(PutEntity(txn, collection, id, props));
        }
        PVEGW_RETURN_IF_ERROR(txn.Put(MarkerKey(collection), "1"));
        continue;
      }
      // The data of one entity (its own path or a view such as .../config): merged into it.
      const std::vector<std::string>& tsegs = op.segments;
      std::optional<std::pair<std::string, std::string>> owner;
      std::size_t owner_at = 0;
      const CollectionInfo* owner_info = nullptr;
      for (std::size_t i = 0; i < tsegs.size(); ++i) {
        if (tsegs[i].empty() || tsegs[i][0] != '{') continue;
        std::string parent;
        for (std::size_t j = 0; j < i; ++j) absl::StrAppend(&parent, "/", tsegs[j]);
        const CollectionInfo* pinfo = Collection(parent);
        if (pinfo == nullptr || pinfo->directory || pinfo->item_template.empty()) continue;
        owner = std::make_pair(pinfo->source.empty() ? JoinPath(route->segments, i) : pinfo->source,
                               route->segments[i]);
        owner_at = i;
        owner_info = pinfo;
      }
      const bool entity_view = owner && value.is_object() && tsegs.size() - owner_at - 1 <= 2 &&
                               op.data != nullptr && !op.data->is_repeated() &&
                               op.data->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
      if (entity_view) {
        json::object props =
            Impl::GetEntity(txn, owner->first, owner->second).value_or(json::object());
        for (const auto& field : value.get_object()) props[field.key()] = field.value();
        if (!props.contains(owner_info->child_key)) props[owner_info->child_key] = owner->second;
        const bool guests = owner_info->template_path == "/nodes/{node}/qemu" ||
                            owner_info->template_path == "/nodes/{node}/lxc";
        if (guests) {
          absl::Status st = AdoptGuest(txn, props, owner->second, route->path_params.front().second,
                                       owner_info->template_path == "/nodes/{node}/lxc");
          if (!st.ok()) return bad(path, st.message());
        }
        PVEGW_RETURN_IF_ERROR(PutEntity(txn, owner->first, owner->second, props));
        continue;
      }
      // Anything else answers its GET verbatim; it must have the right shape.
      if (op.data != nullptr) {
        const bool want_list = op.data->is_repeated() && !op.data->is_map();
        const bool want_map = !want_list &&
                              op.data->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
                              op.data->message_type()->full_name() != "google.protobuf.Value" &&
                              op.data->message_type()->full_name() != "google.protobuf.ListValue" &&
                              op.data->message_type()->full_name() != "google.protobuf.Empty";
        if (want_list && !value.is_array()) {
          return bad(path, absl::StrCat("GET ", op.path, " answers a list, got ", KindOf(value)));
        }
        if (want_map && !value.is_object()) {
          return bad(path,
                     absl::StrCat("GET ", op.path, " answers a mapping, got ", KindOf(value)));
        }
        if (!want_list && !want_map && op.data->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE &&
            (value.is_object() || value.is_array())) {
          return bad(path, absl::StrCat("GET ", op.path, " answers a scalar, got ", KindOf(value)));
        }
      }
      PVEGW_RETURN_IF_ERROR(txn.Put(OverrideKey(concrete), json::serialize(value)));
    }
    return absl::OkStatus();
  });
}

}  // namespace pvegw::mockstate
