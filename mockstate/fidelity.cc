// What real Proxmox hosts send beyond their schema, so the mock looks like one to a client
// that knows real hosts (compared with recorded answers by tests/mockstate/
// replay_fidelity_test.cc): guest runtime details, row ids and types, digests, ...
#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "mockstate/backend_impl.h"

namespace pvegw::mockstate {
namespace {

std::int64_t Int(const json::object& o, absl::string_view key, std::int64_t fallback) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
  std::int64_t n = 0;
  if (v->is_string() && absl::SimpleAtoi(std::string(v->get_string()), &n)) return n;
  return fallback;
}

bool Running(const json::object& view) {
  const json::value* s = view.if_contains("status");
  return s != nullptr && s->is_string() && s->get_string() == "running";
}

void CopyKeys(const json::object& from, json::object& to, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (const json::value* v = from.if_contains(k); v != nullptr && !to.contains(k)) to[k] = *v;
  }
}

// Disks of a VM config as QEMU's block devices name them ("scsi0", "ide2", ...).
std::vector<std::string> Drives(const json::object& props) {
  std::vector<std::string> drives;
  for (const auto& kv : props) {
    const std::string key(kv.key());
    for (const char* bus : {"scsi", "virtio", "sata", "ide", "efidisk"}) {
      if (absl::StartsWith(key, bus) && key.size() > std::string(bus).size() &&
          absl::ascii_isdigit(static_cast<unsigned char>(key[std::string(bus).size()]))) {
        drives.push_back(key);
      }
    }
  }
  std::sort(drives.begin(), drives.end());
  return drives;
}

// QEMU's query-blockstats for one drive of a running VM.
json::object BlockStats(std::uint64_t h, bool running) {
  json::object b;
  const auto n = [&](int shift, std::uint64_t mod) {
    return running ? static_cast<std::int64_t>((h >> shift) % mod) : std::int64_t{0};
  };
  b["rd_bytes"] = n(3, 1ull << 32);
  b["wr_bytes"] = n(5, 1ull << 32);
  b["rd_operations"] = n(7, 1u << 20);
  b["wr_operations"] = n(9, 1u << 20);
  b["flush_operations"] = n(11, 1u << 16);
  b["unmap_operations"] = n(13, 1u << 10);
  b["rd_total_time_ns"] = n(15, 1ull << 34);
  b["wr_total_time_ns"] = n(17, 1ull << 35);
  b["flush_total_time_ns"] = n(19, 1ull << 33);
  b["unmap_total_time_ns"] = n(21, 1ull << 24);
  b["unmap_bytes"] = n(23, 1ull << 34);
  b["rd_merged"] = 0;
  b["wr_merged"] = 0;
  b["unmap_merged"] = 0;
  b["wr_highest_offset"] = n(25, 1ull << 32);
  b["idle_time_ns"] = n(27, 1ull << 33);
  for (const char* k : {"failed_rd_operations", "failed_wr_operations", "failed_flush_operations",
                        "failed_unmap_operations", "invalid_rd_operations", "invalid_wr_operations",
                        "invalid_flush_operations", "invalid_unmap_operations"}) {
    b[k] = 0;
  }
  b["account_failed"] = true;
  b["account_invalid"] = true;
  b["timed_stats"] = json::array();
  return b;
}

// status/current of a guest: what pvestatd/QEMU add to the schema's keys. `ha` is the
// guest's HA resource, if it is one.
void GuestStatusKeys(const json::object& props, const json::object& view, bool lxc,
                     const std::optional<json::object>& ha, json::object& out) {
  CopyKeys(view, out,
           {"disk", "maxdisk", "type", "tags", "template", "lock", "cpu", "cpus", "mem", "maxmem",
            "netin", "netout", "diskread", "diskwrite", "uptime", "name", "vmid", "status"});
  if (lxc) CopyKeys(view, out, {"swap", "maxswap"});
  // pve-ha-manager's view: {"managed": 0} unless the guest is an HA resource.
  json::object ha_status;
  ha_status["managed"] = ha ? 1 : 0;
  if (ha) {
    ha_status["state"] = ha->contains("state") ? ha->at("state") : json::value("started");
    if (ha->contains("group")) ha_status["group"] = ha->at("group");
  }
  out["ha"] = std::move(ha_status);
  const bool running = Running(view);
  for (auto& kv : out) {
    if (!absl::StartsWith(absl::string_view(kv.key().data(), kv.key().size()), "pressure")) {
      continue;
    }
    const json::value* v = view.if_contains(kv.key());
    kv.value() = v != nullptr ? *v : json::value(0.0);
  }
  if (!running) {
    // Nothing of a running process is left.
    for (const char* k : {"pid", "running-machine", "running-qemu", "spice", "clipboard"}) {
      out.erase(k);
    }
    return;
  }
  CopyKeys(view, out, {"pid"});
  if (lxc) return;
  const std::uint64_t h = StableHash(absl::StrCat("qemu/", Int(props, "vmid", 0)));
  const std::int64_t maxmem = Int(view, "maxmem", 512 << 20);
  const std::int64_t mem = Int(view, "mem", maxmem / 2);
  const std::int64_t freemem = std::max<std::int64_t>(0, maxmem - mem);
  out["agent"] = props.contains("agent") ? Int(props, "agent", 0) : 0;
  out["shares"] = Int(props, "shares", 1000);
  out["balloon"] = maxmem;
  out["balloon_min"] = props.contains("balloon") ? Int(props, "balloon", 0) << 20 : maxmem;
  out["freemem"] = freemem;
  json::object balloon;
  balloon["actual"] = maxmem;
  balloon["max_mem"] = maxmem;
  balloon["total_mem"] = maxmem - (maxmem / 64);
  balloon["free_mem"] = freemem;
  balloon["major_page_faults"] = static_cast<std::int64_t>(h % 5000);
  balloon["minor_page_faults"] = static_cast<std::int64_t>(h % 5000000);
  balloon["mem_swapped_in"] = 0;
  balloon["mem_swapped_out"] = 0;
  balloon["last_update"] = Int(view, "uptime", 0) > 0 ? std::int64_t{1700000000} : 0;
  out["ballooninfo"] = std::move(balloon);
  json::object blockstat;
  for (const std::string& drive : Drives(props)) {
    blockstat[drive] = BlockStats(StableHash(absl::StrCat(h, drive)), true);
  }
  out["blockstat"] = std::move(blockstat);
  json::object nics;
  for (const auto& kv : props) {
    const std::string key(kv.key());
    if (!absl::StartsWith(key, "net") || key.size() < 4 ||
        !absl::ascii_isdigit(static_cast<unsigned char>(key[3]))) {
      continue;
    }
    nics[absl::StrCat("tap", Int(props, "vmid", 0), "i", key.substr(3))] =
        json::object{{"netin", Int(view, "netin", 0)}, {"netout", Int(view, "netout", 0)}};
  }
  out["nics"] = std::move(nics);
  out["proxmox-support"] = json::object{{"pbs-dirty-bitmap", true},
                                        {"pbs-dirty-bitmap-migration", true},
                                        {"pbs-dirty-bitmap-savevm", true},
                                        {"pbs-masterkey", true},
                                        {"query-bitmap-info", true},
                                        {"backup-max-workers", true},
                                        {"pbs-library-version", "1.5.2 (UNKNOWN)"}};
  if (!out.contains("running-machine")) out["running-machine"] = "pc-i440fx-9.2+pve1";
  if (!out.contains("running-qemu")) out["running-qemu"] = "9.2.0";
}

// One RRD point every `step` seconds, the last 70 like Proxmox's `hour` frame.
json::array RrdPoints(const json::object& base, std::int64_t now_ms, const std::string& timeframe,
                      bool running, absl::string_view seed) {
  std::int64_t step = 60;
  if (timeframe == "day") step = 1800;
  if (timeframe == "week") step = 10800;
  if (timeframe == "month") step = 43200;
  if (timeframe == "year") step = 604800;
  const std::int64_t last = (now_ms / 1000) / step * step;
  json::array points;
  for (int i = 69; i >= 0; --i) {
    const std::int64_t t = last - i * step;
    const std::uint64_t h = StableHash(absl::StrCat(seed, "@", t));
    json::object p;
    p["time"] = t;
    p["maxcpu"] = Int(base, "maxcpu", 1);
    p["maxmem"] = Int(base, "maxmem", 0);
    p["maxdisk"] = Int(base, "maxdisk", 0);
    p["disk"] = Int(base, "disk", 0);
    if (running) {
      p["cpu"] = static_cast<double>(h % 300) / 1000.0;
      p["mem"] = Int(base, "maxmem", 0) / 2 + static_cast<std::int64_t>(h % (1 << 24));
      p["netin"] = static_cast<double>(h % 100000) / 10.0;
      p["netout"] = static_cast<double>((h >> 9) % 100000) / 10.0;
      p["diskread"] = static_cast<double>((h >> 17) % 500000) / 10.0;
      p["diskwrite"] = static_cast<double>((h >> 23) % 500000) / 10.0;
    }
    points.push_back(std::move(p));
  }
  return points;
}

// A digest of a configuration file, as Proxmox sends with its sections.
std::string CollectionDigest(ReadTxn& txn, absl::string_view collection) {
  std::string text;
  auto entities = MockBackend::Impl::ListEntities(txn, collection);
  if (entities.ok()) {
    for (const auto& [id, props] : *entities) absl::StrAppend(&text, id, json::serialize(props));
  }
  return Sha1Hex(text);
}

// Collections whose list rows carry the digest of their configuration file.
bool HasDigestRows(absl::string_view template_path) {
  return absl::StrContains(template_path, "/firewall/") ||
         absl::StartsWith(template_path, "/cluster/sdn/") || template_path == "/storage";
}

}  // namespace

absl::Status MockBackend::Impl::AddRealHostKeys(const CallContext& ctx, json::value& data) {
  const std::string& tmpl = ctx.op->path;
  const bool qemu_guest = absl::StartsWith(tmpl, "/nodes/{node}/qemu/{vmid}");
  const bool lxc_guest = absl::StartsWith(tmpl, "/nodes/{node}/lxc/{vmid}");

  if (tmpl == "/nodes" && data.is_array()) {
    std::map<std::string, json::object> nodes;
    PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
      PVEGW_ASSIGN_OR_RETURN(auto list, ListEntities(txn, "/nodes"));
      for (auto& [name, props] : list) nodes[name] = std::move(props);
      return absl::OkStatus();
    }));
    for (json::value& row : data.get_array()) {
      if (!row.is_object()) continue;
      json::object& r = row.get_object();
      const std::string name = r.contains("node") ? JsonText(r["node"]) : "";
      r["id"] = absl::StrCat("node/", name);
      r["type"] = "node";
      auto it = nodes.find(name);
      const std::int64_t maxdisk = it != nodes.end() ? Int(it->second, "maxdisk", 0) : 0;
      r["maxdisk"] = maxdisk;
      r["disk"] = maxdisk / 100 * static_cast<std::int64_t>(5 + StableHash(name) % 40);
    }
    return absl::OkStatus();
  }

  if ((tmpl == "/nodes/{node}/qemu" || tmpl == "/nodes/{node}/lxc") && data.is_array()) {
    const bool lxc = tmpl == "/nodes/{node}/lxc";
    const std::string collection =
        absl::StrCat("/nodes/", ctx.PathParam("node"), lxc ? "/lxc" : "/qemu");
    std::map<std::string, json::object> views;
    PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
      PVEGW_ASSIGN_OR_RETURN(auto list, ListEntities(txn, collection));
      for (auto& [id, props] : list) views[id] = GuestView(props, collection, lxc, ctx.now_ms);
      return absl::OkStatus();
    }));
    for (json::value& row : data.get_array()) {
      if (!row.is_object() || !row.get_object().contains("vmid")) continue;
      auto it = views.find(JsonText(row.get_object()["vmid"]));
      if (it == views.end()) continue;
      CopyKeys(it->second, row.get_object(), {"disk", "type", "tags", "lock", "template"});
      if (lxc) CopyKeys(it->second, row.get_object(), {"swap", "maxswap"});
    }
    return absl::OkStatus();
  }

  if ((qemu_guest || lxc_guest) && absl::EndsWith(tmpl, "/status/current") && data.is_object() &&
      ctx.owner != nullptr) {
    PVEGW_ASSIGN_OR_RETURN(json::object props, LoadOwner(ctx));
    const json::object view = GuestView(props, ctx.owner_collection, lxc_guest, ctx.now_ms);
    std::optional<json::object> ha;
    PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
      ha = GetEntity(txn, "/cluster/ha/resources",
                     absl::StrCat(lxc_guest ? "ct:" : "vm:", ctx.PathParam("vmid")));
      return absl::OkStatus();
    }));
    GuestStatusKeys(props, view, lxc_guest, ha, data.get_object());
    return absl::OkStatus();
  }

  if ((qemu_guest || lxc_guest) && absl::EndsWith(tmpl, "/snapshot") && data.is_array() &&
      ctx.owner != nullptr) {
    // Proxmox always lists the present state as "current", after the snapshots.
    PVEGW_ASSIGN_OR_RETURN(json::object props, LoadOwner(ctx));
    std::string parent;
    std::int64_t newest = -1;
    for (json::value& row : data.get_array()) {
      if (!row.is_object()) continue;
      json::object& r = row.get_object();
      if (!r.contains("description")) r["description"] = "";
      if (Int(r, "snaptime", 0) >= newest && r.contains("name")) {
        newest = Int(r, "snaptime", 0);
        parent = JsonText(r["name"]);
      }
    }
    json::object current;
    current["name"] = "current";
    current["description"] = "You are here!";
    current["running"] = Running(props) ? 1 : 0;
    current["digest"] = ConfigDigest(props, lxc_guest);
    if (!parent.empty()) current["parent"] = parent;
    data.get_array().push_back(std::move(current));
    return absl::OkStatus();
  }

  const bool untyped = ctx.op->data != nullptr && !ctx.op->data->is_repeated() &&
                       ctx.op->data->message_type() != nullptr &&
                       ctx.op->data->message_type()->full_name() == "google.protobuf.Struct";
  if (qemu_guest && absl::StrContains(tmpl, "/agent/") && untyped && data.is_object() &&
      !data.get_object().contains("result")) {
    // The guest agent's answer is QEMU's: {"result": ...}.
    json::value result = std::move(data);
    if (absl::EndsWith(tmpl, "/network-get-interfaces") && ctx.owner != nullptr) {
      PVEGW_ASSIGN_OR_RETURN(json::object props, LoadOwner(ctx));
      json::array interfaces;
      interfaces.push_back(json::object{
          {"name", "lo"},
          {"hardware-address", "00:00:00:00:00:00"},
          {"ip-addresses",
           json::array{json::object{
               {"ip-address", "127.0.0.1"}, {"ip-address-type", "ipv4"}, {"prefix", 8}}}}});
      std::string mac = "BC:24:11:00:00:00";
      if (const json::value* net0 = props.if_contains("net0"); net0 != nullptr) {
        const std::string text = JsonText(*net0);
        const std::size_t eq = text.find('=');
        if (eq != std::string::npos) mac = text.substr(eq + 1, 17);
      }
      const std::int64_t vmid = Int(props, "vmid", 100);
      interfaces.push_back(json::object{
          {"name", "eth0"},
          {"hardware-address", absl::AsciiStrToLower(mac)},
          {"ip-addresses",
           json::array{json::object{{"ip-address", absl::StrCat("10.0.1.", vmid % 250 + 2)},
                                    {"ip-address-type", "ipv4"},
                                    {"prefix", 24}}}},
          {"statistics",
           json::object{{"rx-bytes", std::int64_t{0}}, {"tx-bytes", std::int64_t{0}}}}});
      result = std::move(interfaces);
    } else if (absl::EndsWith(tmpl, "/get-osinfo")) {
      result = json::object{{"id", "debian"},
                            {"name", "Debian GNU/Linux"},
                            {"pretty-name", "Debian GNU/Linux 12 (bookworm)"},
                            {"version", "12 (bookworm)"},
                            {"version-id", "12"},
                            {"kernel-release", "6.1.0-28-amd64"},
                            {"kernel-version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1"},
                            {"machine", "x86_64"}};
    } else if (absl::EndsWith(tmpl, "/agent/info")) {
      json::array commands;
      for (const char* name : {"guest-ping", "guest-info", "guest-exec", "guest-exec-status",
                               "guest-file-open", "guest-fsfreeze-freeze", "guest-get-osinfo",
                               "guest-network-get-interfaces", "guest-shutdown"}) {
        commands.push_back(
            json::object{{"name", name}, {"enabled", true}, {"success-response", true}});
      }
      result = json::object{{"version", "7.2.15"}, {"supported_commands", std::move(commands)}};
    }
    data = json::object{{"result", std::move(result)}};
    return absl::OkStatus();
  }

  if (absl::EndsWith(tmpl, "/rrddata") && data.is_array()) {
    const std::string timeframe = ctx.Param("timeframe").value_or("hour");
    json::object base;
    bool running = true;
    if ((qemu_guest || lxc_guest) && ctx.owner != nullptr) {
      PVEGW_ASSIGN_OR_RETURN(json::object props, LoadOwner(ctx));
      base = GuestView(props, ctx.owner_collection, lxc_guest, ctx.now_ms);
      running = Running(base);
    } else if (tmpl == "/nodes/{node}/rrddata") {
      PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
        base = GetEntity(txn, "/nodes", ctx.PathParam("node")).value_or(json::object());
        return absl::OkStatus();
      }));
    } else {
      return absl::OkStatus();
    }
    data = RrdPoints(base, ctx.now_ms, timeframe, running, ctx.path);
    return absl::OkStatus();
  }

  if (tmpl == "/nodes/{node}/status" && data.is_object()) {
    json::object node;
    PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
      node = GetEntity(txn, "/nodes", ctx.PathParam("node")).value_or(json::object());
      return absl::OkStatus();
    }));
    json::object& out = data.get_object();
    const std::uint64_t h = StableHash(ctx.path);
    const std::int64_t maxcpu = Int(node, "maxcpu", 8);
    const std::int64_t total = Int(node, "maxmem", std::int64_t{16} << 30);
    const std::int64_t used = total / 100 * static_cast<std::int64_t>(20 + h % 50);
    json::value& memory = out["memory"];
    if (!memory.is_object()) memory = json::object();
    memory.get_object()["total"] = total;
    memory.get_object()["used"] = used;
    memory.get_object()["free"] = total - used;
    if (memory.get_object().contains("available")) memory.get_object()["available"] = total - used;
    out["swap"] = json::object{
        {"total", std::int64_t{8} << 30}, {"used", 0}, {"free", std::int64_t{8} << 30}};
    out["ksm"] = json::object{{"shared", 0}};
    out["idle"] = 0;
    out["wait"] = static_cast<double>(h % 100) / 10000.0;
    out["uptime"] = static_cast<std::int64_t>(3 * 86400 + h % 86400);
    if (!out.contains("kversion")) {
      out["kversion"] =
          "Linux 6.14.8-2-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2 (2025-07-22T10:04Z)";
    }
    json::value& cpuinfo = out["cpuinfo"];
    if (!cpuinfo.is_object()) cpuinfo = json::object();
    json::object& ci = cpuinfo.get_object();
    ci["cpus"] = maxcpu;
    ci["cores"] = std::max<std::int64_t>(1, maxcpu / 2);
    ci["sockets"] = 1;
    ci["hvm"] = "1";
    ci["mhz"] = "2999.998";
    ci["user_hz"] = 100;
    if (!ci.contains("model")) ci["model"] = "AMD EPYC 7302P 16-Core Processor";
    return absl::OkStatus();
  }

  if (tmpl == "/nodes/{node}/network/{iface}" && data.is_object()) {
    json::object& out = data.get_object();
    if (!out.contains("families")) out["families"] = json::array{"inet"};
    if (!out.contains("method6")) out["method6"] = "manual";
    if (!out.contains("priority"))
      out["priority"] = static_cast<std::int64_t>(StableHash(ctx.path) % 20);
    return absl::OkStatus();
  }

  if (tmpl == "/cluster/backup" && data.is_array()) {
    // vzdump jobs report when they run next (the mock's jobs run daily at 01:00).
    const std::int64_t next = (ctx.now_ms / 1000 / 86400 + 1) * 86400 + 3600;
    for (json::value& row : data.get_array()) {
      if (row.is_object() && !row.get_object().contains("next-run"))
        row.get_object()["next-run"] = next;
    }
  }

  if (tmpl == "/cluster/firewall/aliases" && data.is_array()) {
    for (json::value& row : data.get_array()) {
      if (!row.is_object() || !row.get_object().contains("cidr")) continue;
      json::object& r = row.get_object();
      r["ipversion"] = absl::StrContains(JsonText(r["cidr"]), ":") ? 6 : 4;
    }
  }

  const bool digest_rows = HasDigestRows(tmpl) && data.is_array();
  const bool digest_item = tmpl == "/storage/{storage}" && data.is_object();
  if (digest_rows || digest_item) {
    const std::string collection = digest_item ? "/storage" : ctx.path;
    std::string digest;
    PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
      digest = CollectionDigest(txn, collection);
      return absl::OkStatus();
    }));
    if (digest_item) {
      data.get_object()["digest"] = digest;
    } else {
      for (json::value& row : data.get_array()) {
        if (row.is_object()) row.get_object()["digest"] = digest;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace pvegw::mockstate
