// Guest (VM and container) lifecycle of the mock world: create, configure, clone, migrate,
// delete, with their disks and pool memberships. One file on purpose (~860 lines): VMs and
// containers share every step but their config keys; split by kind, each would repeat it.
#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "mockstate/backend_impl.h"

namespace pvegw::mockstate {
namespace {

using ::google::protobuf::Descriptor;

struct GuestKind {
  const char* type;    // "qemu" / "lxc"
  const char* label;   // "VM" / "CT"
  const char* prefix;  // task type prefix "qm" / "vz"
};
constexpr GuestKind kQemu{"qemu", "VM", "qm"};
constexpr GuestKind kLxc{"lxc", "CT", "vz"};
const GuestKind& Kind(bool lxc) { return lxc ? kLxc : kQemu; }

// "local-lvm:vm-100-disk-0,size=32G" -> bytes.
std::int64_t DiskSize(const json::object& props, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    const json::value* v = props.if_contains(key);
    if (v == nullptr || !v->is_string()) continue;
    const std::string s(v->get_string());
    const auto pos = s.find("size=");
    if (pos == std::string::npos) continue;
    double amount = 0;
    std::size_t end = pos + 5;
    while (end < s.size() && (std::isdigit(static_cast<unsigned char>(s[end])) || s[end] == '.'))
      ++end;
    if (!absl::SimpleAtod(s.substr(pos + 5, end - pos - 5), &amount)) continue;
    const char unit = end < s.size() ? s[end] : 'G';
    const int shift = unit == 'T' ? 40 : unit == 'G' ? 30 : unit == 'M' ? 20 : unit == 'K' ? 10 : 0;
    return static_cast<std::int64_t>(amount * static_cast<double>(std::int64_t{1} << shift));
  }
  return 0;
}

// Keys that steer a call rather than describe the guest.
bool IsControlParam(absl::string_view key) {
  static const auto* const kControl = new std::set<std::string, std::less<>>{"node",
                                                                             "start",
                                                                             "pool",
                                                                             "digest",
                                                                             "delete",
                                                                             "revert",
                                                                             "skiplock",
                                                                             "force",
                                                                             "background_delay",
                                                                             "unique",
                                                                             "archive",
                                                                             "storage",
                                                                             "live-restore",
                                                                             "target",
                                                                             "newid",
                                                                             "full",
                                                                             "online",
                                                                             "with-local-disks",
                                                                             "restore",
                                                                             "ignore-unpack-errors",
                                                                             "password",
                                                                             "ssh-public-keys"};
  return kControl->count(key) != 0;
}

// State the mock keeps next to a guest's config that is not part of it.
bool IsRuntimeKey(json::string_view key) {
  return key == "status" || key == "started_ms" || key == "pid" || key == "qmpstatus" ||
         key == "node" || key == "vmid";
}

absl::Status GuestStateError(bool lxc, absl::string_view vmid, absl::string_view what) {
  return HttpError(500, absl::StrCat(Kind(lxc).label, " ", vmid, " ", what));
}

absl::Status RemoveFromPools(WriteTxn& txn, std::int64_t vmid) {
  PVEGW_ASSIGN_OR_RETURN(auto pools, MockBackend::Impl::ListEntities(txn, "/pools"));
  for (auto& [poolid, props] : pools) {
    json::value* vms = props.if_contains("vms");
    if (vms == nullptr || !vms->is_array()) continue;
    json::array kept;
    for (const auto& v : vms->get_array()) {
      if (!(v.is_int64() && v.get_int64() == vmid)) kept.push_back(v);
    }
    if (kept.size() != vms->get_array().size()) {
      *vms = std::move(kept);
      PVEGW_RETURN_IF_ERROR(MockBackend::Impl::PutEntity(txn, "/pools", poolid, props));
    }
  }
  return absl::OkStatus();
}

absl::Status AddToPool(WriteTxn& txn, absl::string_view poolid, std::int64_t vmid) {
  std::optional<json::object> pool = MockBackend::Impl::GetEntity(txn, "/pools", poolid);
  if (!pool) return HttpError(500, absl::StrCat("pool '", poolid, "' does not exist"));
  json::value& vms = (*pool)["vms"];
  if (!vms.is_array()) vms = json::array();
  vms.get_array().push_back(vmid);
  return MockBackend::Impl::PutEntity(txn, "/pools", poolid, *pool);
}

// Keys of a guest's config that hold a volume.
bool IsDiskKey(absl::string_view key, bool lxc) {
  if (lxc)
    return key == "rootfs" || (absl::StartsWith(key, "mp") && key.size() > 2 &&
                               absl::ascii_isdigit(static_cast<unsigned char>(key[2])));
  for (absl::string_view bus : {"scsi", "virtio", "sata", "ide", "efidisk", "tpmstate"}) {
    if (absl::StartsWith(key, bus) && key.size() > bus.size() &&
        std::all_of(key.begin() + bus.size(), key.end(),
                    [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
      return true;
    }
  }
  return false;
}

// qemu-server's NIC models: "virtio=MAC" names the model and the MAC in one key.
bool IsNicModel(absl::string_view key) {
  static const auto* const kModels = new std::set<std::string, std::less<>>{
      "e1000",  "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e",
      "i82551", "i82557b",       "i82559er",      "ne2k_isa",      "ne2k_pci",
      "pcnet",  "rtl8139",       "virtio",        "vmxnet3"};
  return kModels->count(key) != 0;
}

bool IsNetKey(absl::string_view key) {
  return absl::StartsWith(key, "net") && key.size() > 3 &&
         std::all_of(key.begin() + 3, key.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
}

// PVE::Tools::random_ether_addr with datacenter.cfg's default mac_prefix BC:24:11: the
// prefix replaces the leading bytes of a random (unicast, locally administered) address.
std::string RandomMac(std::uint64_t h) {
  return absl::StrFormat("BC:24:11:%02X:%02X:%02X", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
}

// A NIC as Proxmox stores it: qemu-server's parse_net/print_net ("virtio=MAC" first, then
// the other keys sorted) and pve-container's parse_lxc_network/print_lxc_network ("name="
// first, hwaddr= and type=veth added). A missing MAC, or every MAC when `fresh_mac` (a
// clone), is a new random one. A value that names no model is returned as sent.
std::string NormalizeNet(absl::string_view value, bool lxc, std::uint64_t h, bool fresh_mac) {
  std::map<std::string, std::string> pieces;  // key -> "key=value" as sent
  std::string model, mac, name;
  for (absl::string_view piece : absl::StrSplit(value, ',', absl::SkipEmpty())) {
    const std::size_t eq = piece.find('=');
    const std::string key(piece.substr(0, eq));
    const std::string val(eq == absl::string_view::npos ? "" : piece.substr(eq + 1));
    if (!lxc && key == "model") {
      model = val;
    } else if (!lxc && key == "macaddr") {
      mac = val;
    } else if (!lxc && IsNicModel(key)) {
      model = key;
      mac = val;
    } else if (lxc && key == "name") {
      name = std::string(piece);
    } else if (lxc && key == "hwaddr") {
      mac = val;
    } else {
      pieces[key] = std::string(piece);
    }
  }
  if (!lxc && model.empty()) return std::string(value);
  if (mac.empty() || fresh_mac) mac = RandomMac(h);
  std::string out;
  if (lxc) {
    pieces["hwaddr"] = absl::StrCat("hwaddr=", mac);
    pieces["type"] = "type=veth";
    out = name;
  } else {
    out = absl::StrCat(model, "=", mac);
  }
  for (const auto& [key, piece] : pieces) absl::StrAppend(&out, out.empty() ? "" : ",", piece);
  return out;
}

// Gives every NIC in `props` its MAC, as Proxmox does on create, update and clone.
void AddRandomMacs(json::object& props, bool lxc, absl::string_view seed, bool fresh_mac) {
  for (auto& kv : props) {
    const std::string key(kv.key());
    if (!IsNetKey(key) || !kv.value().is_string()) continue;
    const std::string value(kv.value().get_string());
    kv.value() = NormalizeNet(value, lxc, StableHash(absl::StrCat(seed, "/", key)), fresh_mac);
  }
}

// Proxmox's format_size: the largest unit that divides the size.
std::string FormatSize(std::int64_t bytes) {
  const char* units[] = {"K", "M", "G", "T"};
  std::string out = absl::StrCat(bytes);
  for (int i = 0; i < 4 && bytes % 1024 == 0 && bytes > 0; ++i) {
    bytes /= 1024;
    out = absl::StrCat(bytes, units[i]);
  }
  return out;
}

// Allocates the volumes a create or update asks for with Proxmox's STORAGE:SIZE syntax
// ("local-lvm:8" = a new 8 GiB disk): the config then holds the allocated volume
// ("local-lvm:vm-300-disk-0,size=8G"), and the storage lists it.
// A container volume must be on a storage with `rootdir` content (pve-container): on create
// a 400 for `storage`, on update the config check's die (a 500).
absl::Status AllocateDisks(WriteTxn& txn, json::object& props, absl::string_view node,
                           std::int64_t vmid, bool lxc, std::int64_t now_ms, bool create) {
  // Proxmox allocates in its drive order: rootfs before mount points; ide, sata, scsi,
  // virtio, efidisk, tpmstate, each by number.
  std::vector<std::pair<std::pair<int, int>, std::string>> order;
  for (const auto& kv : props) {
    const std::string key(kv.key());
    if (!IsDiskKey(key, lxc) || !kv.value().is_string()) continue;
    int bus = 0;
    for (const char* prefix : {"rootfs", "mp", "ide", "sata", "scsi", "virtio", "efidisk"}) {
      if (absl::StartsWith(key, prefix)) break;
      ++bus;
    }
    std::size_t digits = key.size();
    while (digits > 0 && absl::ascii_isdigit(static_cast<unsigned char>(key[digits - 1]))) --digits;
    int index = 0;
    (void)absl::SimpleAtoi(key.substr(digits), &index);
    order.push_back({{bus, index}, key});
  }
  std::sort(order.begin(), order.end());
  for (const auto& [rank, key] : order) {
    json::value& slot = props[key];
    const std::string value(slot.get_string());
    const std::size_t comma = value.find(',');
    const std::string file = value.substr(0, comma);
    const std::string rest = comma == std::string::npos ? "" : value.substr(comma);
    const std::size_t colon = file.find(':');
    if (colon == std::string::npos) continue;
    const std::string sid = file.substr(0, colon);
    double gib = 0;
    const std::string amount = file.substr(colon + 1);
    // STORAGE:SIZE asks for a new volume; anything else names an existing one.
    const bool new_volume =
        !amount.empty() &&
        std::all_of(amount.begin(), amount.end(),
                    [](char c) { return absl::ascii_isdigit(c) || c == '.'; }) &&
        absl::SimpleAtod(amount, &gib);
    // Every container volume (not a bind mount) needs a storage with "rootdir".
    const bool container_volume = lxc && !absl::StartsWith(file, "/");
    if (!new_volume && !container_volume) continue;
    std::optional<json::object> storage = MockBackend::Impl::GetEntity(txn, "/storage", sid);
    if (!storage) return HttpError(500, absl::StrCat("storage '", sid, "' does not exist"));
    if (container_volume && !StorageHasContent(*storage, "rootdir")) {
      // pve-container API2/LXC.pm create_vm and LXC/Config.pm update_pct_config.
      if (create) {
        return ParamError(
            "storage", absl::StrCat("storage '", sid, "' does not support container directories"));
      }
      return HttpError(500, absl::StrCat("storage '", sid,
                                         "' does not allow content type 'rootdir' (Container)"));
    }
    if (!new_volume) continue;
    // qemu-server's $check_storage_access: a new VM disk needs a storage with "images".
    if (!lxc && !StorageHasContent(*storage, "images")) {
      return ParamError("storage", absl::StrCat("storage '", sid, "' does not support vm images"));
    }
    if (gib <= 0) continue;  // STORAGE:0 goes with import-from, which the mock does not copy
    const std::string content_collection =
        absl::StrCat("/nodes/", node, "/storage/", sid, "/content");
    PVEGW_ASSIGN_OR_RETURN(auto existing, MockBackend::Impl::ListEntities(txn, content_collection));
    const bool path_based = storage->contains("path");
    std::string volid;
    for (int n = 0;; ++n) {
      volid = path_based ? absl::StrCat(sid, ":", vmid, "/vm-", vmid, "-disk-", n, ".raw")
                         : absl::StrCat(sid, ":vm-", vmid, "-disk-", n);
      const bool taken = std::any_of(existing.begin(), existing.end(),
                                     [&](const auto& e) { return e.first == volid; });
      if (!taken) break;
    }
    const std::int64_t bytes = static_cast<std::int64_t>(gib * static_cast<double>(1 << 30));
    json::object volume;
    volume["volid"] = volid;
    volume["content"] = lxc ? "rootdir" : "images";
    volume["format"] = "raw";
    volume["vmid"] = vmid;
    volume["size"] = bytes;
    volume["ctime"] = now_ms / 1000;
    PVEGW_RETURN_IF_ERROR(MockBackend::Impl::PutEntity(txn, content_collection, volid, volume));
    PVEGW_RETURN_IF_ERROR(txn.Put(MarkerKey(content_collection), "1"));
    slot = absl::StrCat(volid, rest, ",size=", FormatSize(bytes));
  }
  return absl::OkStatus();
}

// Destroying a guest destroys its volumes.
absl::Status FreeDisks(WriteTxn& txn, const json::object& props, absl::string_view node, bool lxc) {
  for (const auto& kv : props) {
    if (!IsDiskKey(std::string(kv.key()), lxc) || !kv.value().is_string()) continue;
    const std::string value(kv.value().get_string());
    const std::string volid = value.substr(0, value.find(','));
    const std::size_t colon = volid.find(':');
    if (colon == std::string::npos) continue;
    PVEGW_RETURN_IF_ERROR(txn.Delete(EntityKey(
        absl::StrCat("/nodes/", node, "/storage/", volid.substr(0, colon), "/content"), volid)));
  }
  return absl::OkStatus();
}

// The volume id a disk key holds ("local-lvm:vm-100-disk-0"), or "" for none/cdrom.
std::string DiskVolid(const json::value& v) {
  if (!v.is_string()) return "";
  const std::string value(v.get_string());
  std::string volid = value.substr(0, value.find(','));
  if (volid.find(':') == std::string::npos || absl::StrContains(value, "media=cdrom")) return "";
  return volid;
}

absl::Status FreeVolume(WriteTxn& txn, absl::string_view node, absl::string_view volid) {
  const std::size_t colon = volid.find(':');
  if (colon == absl::string_view::npos) return absl::OkStatus();
  return txn.Delete(EntityKey(
      absl::StrCat("/nodes/", node, "/storage/", volid.substr(0, colon), "/content"), volid));
}

// Removing a disk key as Proxmox's vmconfig_delete_or_detach_drive does: the volume moves
// to the first free unusedN (with force=1, or for an unusedN key, it is destroyed).
absl::Status RemoveDiskKey(WriteTxn& txn, json::object& props, const std::string& key,
                           absl::string_view node, bool lxc, bool force) {
  const json::value* v = props.if_contains(key);
  const bool unused = absl::StartsWith(key, "unused");
  if (v == nullptr || (!unused && !IsDiskKey(key, lxc))) {
    props.erase(key);
    return absl::OkStatus();
  }
  const std::string volid = unused ? JsonText(*v) : DiskVolid(*v);
  props.erase(key);
  if (volid.empty()) return absl::OkStatus();
  if (force || unused) return FreeVolume(txn, node, volid);
  for (int n = 0;; ++n) {
    const std::string slot = absl::StrCat("unused", n);
    if (!props.contains(slot)) {
      props[slot] = volid;
      return absl::OkStatus();
    }
  }
}

// "+1G" / "10G" / "512M" -> bytes (qemu-server's resize size syntax), nullopt when malformed.
std::optional<std::int64_t> ParseSize(absl::string_view text) {
  std::size_t end = 0;
  while (end < text.size() &&
         (absl::ascii_isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.'))
    ++end;
  double amount = 0;
  if (end == 0 || !absl::SimpleAtod(text.substr(0, end), &amount)) return std::nullopt;
  const absl::string_view unit = text.substr(end);
  int shift = 0;
  if (unit == "K")
    shift = 10;
  else if (unit == "M")
    shift = 20;
  else if (unit == "G" || unit.empty())
    shift = unit.empty() ? 0 : 30;
  else if (unit == "T")
    shift = 40;
  else
    return std::nullopt;
  return static_cast<std::int64_t>(amount * static_cast<double>(std::int64_t{1} << shift));
}

}  // namespace

std::string GuestCollection(absl::string_view node, bool lxc) {
  return absl::StrCat("/nodes/", node, "/", lxc ? "lxc" : "qemu");
}

std::int64_t IntOf(const json::object& o, absl::string_view key, std::int64_t fallback) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
  if (v->is_bool()) return v->get_bool() ? 1 : 0;
  if (v->is_string()) {
    // Property strings such as memory "current=4096" or "4096".
    std::string s(v->get_string());
    if (auto pos = s.find("current="); pos != std::string::npos) s = s.substr(pos + 8);
    std::size_t end = 0;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    std::int64_t n = 0;
    if (end > 0 && absl::SimpleAtoi(s.substr(0, end), &n)) return n;
  }
  return fallback;
}

// Where a guest lives, from the cluster-wide index: {"qemu", "pve1"}.
std::optional<std::pair<std::string, std::string>> LookupGuest(ReadTxn& txn, std::int64_t vmid) {
  auto raw = txn.Get(VmidKey(vmid));
  if (!raw) return std::nullopt;
  const auto sep = raw->find(kSep);
  if (sep == absl::string_view::npos) return std::nullopt;
  return std::make_pair(std::string(raw->substr(0, sep)), std::string(raw->substr(sep + 1)));
}

std::string MockBackend::Impl::ConfigDigest(const json::object& props, bool lxc) const {
  const CollectionInfo* info = Collection(lxc ? "/nodes/{node}/lxc" : "/nodes/{node}/qemu");
  std::map<std::string, std::string> config;
  for (const auto& kv : props) {
    const std::string key(kv.key());
    if (key == "digest") continue;
    // "net0" is config when "net" (the indexed parameter) is.
    std::size_t base_len = key.size();
    while (base_len > 0 && std::isdigit(static_cast<unsigned char>(key[base_len - 1]))) --base_len;
    const bool indexed_key = info != nullptr && base_len > 0 && base_len < key.size() &&
                             info->settable.count(key.substr(0, base_len)) != 0;
    if (info == nullptr || info->settable.count(key) != 0 || indexed_key) {
      config[key] = JsonText(kv.value());
    }
  }
  std::string text;
  for (const auto& [k, v] : config) absl::StrAppend(&text, k, ": ", v, "\n");
  return Sha1Hex(text);
}

json::object MockBackend::Impl::GuestView(const json::object& props, absl::string_view seed,
                                          bool lxc, std::int64_t now_ms) const {
  json::object view(props.storage());
  view.reserve(props.size() + 24);  // the derived keys below, without rehashing
  for (const auto& kv : props) view.emplace(kv.key(), kv.value());
  const std::string status = props.contains("status") ? JsonText(props.at("status")) : "stopped";
  const bool running = status == "running";
  const std::uint64_t h = StableHash(absl::StrCat(
      seed, "/", JsonText(props.contains("vmid") ? props.at("vmid") : json::value(""))));
  view["status"] = status;
  if (lxc && props.contains("hostname") && !props.contains("name"))
    view["name"] = props.at("hostname");
  const std::int64_t maxmem = IntOf(props, "memory", 512) << 20;
  view["maxmem"] = maxmem;
  const std::int64_t cpus =
      lxc ? IntOf(props, "cores", 1)
          : IntOf(props, "vcpus", IntOf(props, "cores", 1) * IntOf(props, "sockets", 1));
  view["cpus"] = cpus;
  view["maxcpu"] = cpus;
  if (lxc) view["maxswap"] = IntOf(props, "swap", 512) << 20;
  view["maxdisk"] = lxc ? DiskSize(props, {"rootfs"})
                        : DiskSize(props, {"scsi0", "virtio0", "sata0", "ide0", "efidisk0"});
  view["disk"] = 0;
  view["type"] = Kind(lxc).type;
  view["template"] = IntOf(props, "template", 0) != 0 ? 1 : 0;
  if (!lxc)
    view["qmpstatus"] = props.contains("qmpstatus") ? props.at("qmpstatus") : json::value(status);
  if (running) {
    view["uptime"] =
        std::max<std::int64_t>(0, (now_ms - IntOf(props, "started_ms", now_ms)) / 1000);
    view["pid"] = IntOf(props, "pid", 1000 + static_cast<std::int64_t>(h % 60000));
    view["cpu"] = static_cast<double>(h % 300) / 1000.0;
    view["mem"] = maxmem / 2 + static_cast<std::int64_t>(h % (1 << 20));
    view["netin"] = static_cast<std::int64_t>(h % (1ull << 32));
    view["netout"] = static_cast<std::int64_t>((h >> 7) % (1ull << 32));
    view["diskread"] = static_cast<std::int64_t>((h >> 13) % (1ull << 34));
    view["diskwrite"] = static_cast<std::int64_t>((h >> 17) % (1ull << 33));
  } else {
    view.erase("pid");
    for (const char* k : {"uptime", "cpu", "mem", "netin", "netout", "diskread", "diskwrite"}) {
      view[k] = 0;
    }
  }
  if (lxc) view["swap"] = running ? static_cast<std::int64_t>((h >> 5) % (1 << 20)) : 0;
  // Pressure stall information (PVE 9): none for a stopped guest, and the share of time
  // all tasks stalled ("full") never exceeds the share some did.
  int shift = 0;
  for (const char* res : {"cpu", "io", "memory"}) {
    const double some = running ? static_cast<double>((h >> (shift += 6)) % 500) / 100.0 : 0.0;
    view[absl::StrCat("pressure", res, "some")] = some;
    view[absl::StrCat("pressure", res, "full")] = std::floor(some * 50.0) / 100.0;
  }
  view.erase("started_ms");
  return view;
}

absl::StatusOr<json::value> MockBackend::Impl::GuestCreate(CallContext& ctx, bool lxc) {
  const std::string node = ctx.PathParam("node");
  const std::int64_t vmid = IntOf(ctx.params, "vmid", 0);
  const std::string collection = GuestCollection(node, lxc);
  const CollectionInfo* info = Collection(lxc ? "/nodes/{node}/lxc" : "/nodes/{node}/qemu");
  absl::StatusOr<json::value> result;
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    if (auto where = LookupGuest(txn, vmid)) {
      return DuplicateError(*info, absl::StrCat(vmid), where->second);
    }
    json::object props;
    for (const auto& kv : ctx.params) {
      if (!IsControlParam(std::string(kv.key()))) props[kv.key()] = kv.value();
    }
    // Proxmox writes the architecture of a new container into its config.
    if (lxc && !props.contains("arch")) props["arch"] = "amd64";
    AddRandomMacs(props, lxc, absl::StrCat(vmid), false);
    PVEGW_RETURN_IF_ERROR(AllocateDisks(txn, props, node, vmid, lxc, ctx.now_ms, true));
    props["vmid"] = vmid;
    props["node"] = node;
    const bool start = IntOf(ctx.params, "start", 0) != 0;
    props["status"] = start ? "running" : "stopped";
    if (start) props["started_ms"] = ctx.now_ms;
    if (auto pool = ctx.Param("pool")) PVEGW_RETURN_IF_ERROR(AddToPool(txn, *pool, vmid));
    PVEGW_RETURN_IF_ERROR(PutEntity(txn, collection, absl::StrCat(vmid), props));
    PVEGW_RETURN_IF_ERROR(IndexGuest(txn, vmid, lxc, node));
    PVEGW_RETURN_IF_ERROR(txn.Put(MarkerKey(collection), "1"));
    PVEGW_ASSIGN_OR_RETURN(std::string upid,
                           StartTask(txn, node, absl::StrCat(Kind(lxc).prefix, "create"),
                                     absl::StrCat(vmid), ctx.now_ms, ctx.user));
    result = json::value(upid);
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<json::value> MockBackend::Impl::WithGuest(CallContext& ctx, bool lxc,
                                                         const GuestFn& fn) {
  const std::string collection = GuestCollection(ctx.PathParam("node"), lxc);
  const std::string vmid = ctx.PathParam("vmid");
  absl::StatusOr<json::value> result;
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    std::optional<json::object> props = GetEntity(txn, collection, vmid);
    if (!props) return MissingError(*ctx.owner, collection, vmid, ctx);
    result = fn(txn, *props);
    return result.status();
  }));
  return result;
}

absl::StatusOr<json::value> MockBackend::Impl::GuestDelete(CallContext& ctx, bool lxc) {
  const std::string node = ctx.PathParam("node");
  const std::string vmid = ctx.PathParam("vmid");
  return WithGuest(
      ctx, lxc, [&](WriteTxn& txn, json::object& props) -> absl::StatusOr<json::value> {
        if (JsonText(props["status"]) == "running") {
          return GuestStateError(lxc, vmid, "is running - destroy failed");
        }
        const std::int64_t id = IntOf(props, "vmid", 0);
        PVEGW_RETURN_IF_ERROR(FreeDisks(txn, props, node, lxc));
        PVEGW_RETURN_IF_ERROR(DeleteEntity(txn, GuestCollection(node, lxc), vmid));
        PVEGW_RETURN_IF_ERROR(txn.Delete(VmidKey(id)));
        PVEGW_RETURN_IF_ERROR(RemoveFromPools(txn, id));
        PVEGW_ASSIGN_OR_RETURN(std::string upid,
                               StartTask(txn, node, absl::StrCat(Kind(lxc).prefix, "destroy"), vmid,
                                         ctx.now_ms, ctx.user));
        return json::value(upid);
      });
}

absl::StatusOr<json::value> MockBackend::Impl::GuestConfig(CallContext& ctx, bool lxc) {
  const std::string node = ctx.PathParam("node");
  const std::string vmid = ctx.PathParam("vmid");
  return WithGuest(
      ctx, lxc, [&](WriteTxn& txn, json::object& props) -> absl::StatusOr<json::value> {
        if (auto digest = ctx.Param("digest"); digest && *digest != ConfigDigest(props, lxc)) {
          return HttpError(
              500, "detected modified configuration - file changed by other user? Try again.");
        }
        if (auto del = ctx.Param("delete")) {
          for (const std::string& key : SplitList(*del)) {
            if (key == "vmid" || key == "status") {
              return ParamError("delete", absl::StrCat("unable to delete '", key, "'"));
            }
            PVEGW_RETURN_IF_ERROR(
                RemoveDiskKey(txn, props, key, node, lxc, IntOf(ctx.params, "force", 0) != 0));
          }
        }
        json::object changes;
        for (const auto& kv : ctx.params) {
          const std::string key(kv.key());
          if (ctx.IsPathParam(key) || IsControlParam(key)) continue;
          changes[kv.key()] = kv.value();
        }
        AddRandomMacs(changes, lxc, vmid, false);
        PVEGW_RETURN_IF_ERROR(
            AllocateDisks(txn, changes, node, IntOf(props, "vmid", 0), lxc, ctx.now_ms, false));
        for (const auto& kv : changes) props[kv.key()] = kv.value();
        PVEGW_RETURN_IF_ERROR(PutEntity(txn, GuestCollection(node, lxc), vmid, props));
        if (!ctx.op->rules.returns_upid()) return json::value(nullptr);
        PVEGW_ASSIGN_OR_RETURN(std::string upid,
                               StartTask(txn, node, absl::StrCat(Kind(lxc).prefix, "config"), vmid,
                                         ctx.now_ms, ctx.user));
        return json::value(upid);
      });
}

absl::StatusOr<json::value> MockBackend::Impl::GuestConfigGet(CallContext& ctx, bool lxc) {
  // Exactly what was set, plus the digest: Proxmox invents no keys here, and the guest's
  // runtime values (cpu usage, status) must not leak into config keys of the same name.
  PVEGW_ASSIGN_OR_RETURN(json::object props, LoadOwner(ctx));
  json::object config;
  for (const auto& kv : props) {
    if (!IsRuntimeKey(kv.key())) config[kv.key()] = kv.value();
  }
  config["digest"] = ConfigDigest(props, lxc);
  if (ctx.op->data == nullptr || ctx.op->data->message_type() == nullptr)
    return json::value(std::move(config));
  const google::protobuf::Descriptor* message = ctx.op->data->message_type();
  ShapeOptions only_stored = Shape(&config, nullptr);
  only_stored.generate = false;
  return json::value(ShapeObject(message, ctx.path, only_stored));
}

absl::StatusOr<json::value> MockBackend::Impl::GuestStatus(CallContext& ctx, bool lxc,
                                                           absl::string_view action) {
  const std::string node = ctx.PathParam("node");
  const std::string vmid = ctx.PathParam("vmid");
  return WithGuest(
      ctx, lxc, [&](WriteTxn& txn, json::object& props) -> absl::StatusOr<json::value> {
        const bool running = props.contains("status") && JsonText(props.at("status")) == "running";
        auto stop = [&] {
          props["status"] = "stopped";
          for (const char* k : {"started_ms", "pid", "qmpstatus"}) props.erase(k);
        };
        if (action == "start") {
          if (IntOf(props, "template", 0) != 0) {
            return HttpError(500, lxc ? "you can't start a CT if it's a template"
                                      : "you can't start a vm if it's a template");
          }
          if (running) return GuestStateError(lxc, vmid, "already running");
          props["status"] = "running";
          props["started_ms"] = ctx.now_ms;
          props["pid"] =
              1000 + static_cast<std::int64_t>(StableHash(absl::StrCat(vmid, ctx.now_ms)) % 60000);
          props.erase("qmpstatus");
        } else if (action == "stop") {
          stop();
        } else {
          if (!running) return GuestStateError(lxc, vmid, "not running");
          if (action == "shutdown") {
            stop();
          } else if (action == "reboot" || action == "reset") {
            props["started_ms"] = ctx.now_ms;
            props.erase("qmpstatus");
          } else if (action == "suspend") {
            props["qmpstatus"] = "paused";
          } else if (action == "resume") {
            props.erase("qmpstatus");
          }
        }
        PVEGW_RETURN_IF_ERROR(PutEntity(txn, GuestCollection(node, lxc), vmid, props));
        PVEGW_ASSIGN_OR_RETURN(std::string upid,
                               StartTask(txn, node, absl::StrCat(Kind(lxc).prefix, action), vmid,
                                         ctx.now_ms, ctx.user));
        return json::value(upid);
      });
}

absl::StatusOr<json::value> MockBackend::Impl::GuestClone(CallContext& ctx, bool lxc) {
  const std::string node = ctx.PathParam("node");
  const std::string vmid = ctx.PathParam("vmid");
  const std::int64_t newid = IntOf(ctx.params, "newid", 0);
  const std::string target = ctx.Param("target").value_or(node);
  const CollectionInfo* info = Collection(lxc ? "/nodes/{node}/lxc" : "/nodes/{node}/qemu");
  return WithGuest(
      ctx, lxc, [&](WriteTxn& txn, json::object& source) -> absl::StatusOr<json::value> {
        if (!GetEntity(txn, "/nodes", target)) {
          return HttpError(500, absl::StrCat("no such cluster node '", target, "'"));
        }
        if (auto where = LookupGuest(txn, newid)) {
          return DuplicateError(*info, absl::StrCat(newid), where->second);
        }
        json::object props = source;
        for (const char* k : {"started_ms", "pid", "qmpstatus", "template"}) props.erase(k);
        props["vmid"] = newid;
        props["node"] = target;
        AddRandomMacs(props, lxc, absl::StrCat(newid), true);
        props["status"] = "stopped";
        const char* name_key = lxc ? "hostname" : "name";
        if (auto name = ctx.Param(name_key)) {
          props[name_key] = *name;
        } else if (props.contains(name_key)) {
          props[name_key] = absl::StrCat("Copy-of-", JsonText(props[name_key]));
        }
        if (auto description = ctx.Param("description")) props["description"] = *description;
        if (auto pool = ctx.Param("pool")) PVEGW_RETURN_IF_ERROR(AddToPool(txn, *pool, newid));
        PVEGW_RETURN_IF_ERROR(
            PutEntity(txn, GuestCollection(target, lxc), absl::StrCat(newid), props));
        PVEGW_RETURN_IF_ERROR(IndexGuest(txn, newid, lxc, target));
        PVEGW_ASSIGN_OR_RETURN(std::string upid,
                               StartTask(txn, node, absl::StrCat(Kind(lxc).prefix, "clone"), vmid,
                                         ctx.now_ms, ctx.user));
        return json::value(upid);
      });
}

absl::StatusOr<json::value> MockBackend::Impl::GuestMigrate(CallContext& ctx, bool lxc) {
  const std::string node = ctx.PathParam("node");
  const std::string vmid = ctx.PathParam("vmid");
  const std::string target = ctx.Param("target").value_or("");
  return WithGuest(
      ctx, lxc, [&](WriteTxn& txn, json::object& props) -> absl::StatusOr<json::value> {
        if (target == node) return HttpError(500, "target is local node.");
        if (!GetEntity(txn, "/nodes", target)) {
          return HttpError(500, absl::StrCat("no such cluster node '", target, "'"));
        }
        const bool running = JsonText(props["status"]) == "running";
        if (running && !lxc && IntOf(ctx.params, "online", 0) == 0) {
          return HttpError(500, "can't migrate running VM without --online");
        }
        if (running && lxc && IntOf(ctx.params, "restart", 0) == 0) {
          return HttpError(500, "lxc live migration is currently not implemented; use --restart");
        }
        props["node"] = target;
        PVEGW_RETURN_IF_ERROR(DeleteEntity(txn, GuestCollection(node, lxc), vmid));
        PVEGW_RETURN_IF_ERROR(PutEntity(txn, GuestCollection(target, lxc), vmid, props));
        PVEGW_RETURN_IF_ERROR(IndexGuest(txn, IntOf(props, "vmid", 0), lxc, target));
        PVEGW_ASSIGN_OR_RETURN(
            std::string upid,
            StartTask(txn, node, lxc ? "vzmigrate" : "qmigrate", vmid, ctx.now_ms, ctx.user));
        return json::value(upid);
      });
}

absl::StatusOr<json::value> MockBackend::Impl::GuestRollback(CallContext& ctx, bool lxc) {
  const std::string node = ctx.PathParam("node");
  const std::string vmid = ctx.PathParam("vmid");
  const std::string snapname = ctx.PathParam("snapname");
  return WithGuest(
      ctx, lxc, [&](WriteTxn& txn, json::object& props) -> absl::StatusOr<json::value> {
        // qemu-server/pve-container snapshot_rollback: a running guest is stopped; it runs
        // again afterwards only with start=1 or when the snapshot holds its RAM (vmstate).
        std::optional<json::object> snapshot = GetEntity(
            txn, absl::StrCat(GuestCollection(node, lxc), "/", vmid, "/snapshot"), snapname);
        const json::value* vmstate = snapshot ? snapshot->if_contains("vmstate") : nullptr;
        const bool with_ram =
            vmstate != nullptr && JsonText(*vmstate) != "0" && !JsonText(*vmstate).empty();
        const bool start = IntOf(ctx.params, "start", 0) != 0 || (with_ram && !lxc);
        if (start) {
          props["status"] = "running";
          props["started_ms"] = ctx.now_ms;
          props["pid"] =
              1000 + static_cast<std::int64_t>(StableHash(absl::StrCat(vmid, ctx.now_ms)) % 60000);
        } else {
          props["status"] = "stopped";
          for (const char* k : {"started_ms", "pid"}) props.erase(k);
        }
        props.erase("qmpstatus");
        PVEGW_RETURN_IF_ERROR(PutEntity(txn, GuestCollection(node, lxc), vmid, props));
        return MutationResult(txn, ctx, "");
      });
}

absl::StatusOr<json::value> MockBackend::Impl::GuestResize(CallContext& ctx, bool lxc) {
  const std::string node = ctx.PathParam("node");
  const std::string vmid = ctx.PathParam("vmid");
  const std::string disk = ctx.Param("disk").value_or("");
  const std::string size = ctx.Param("size").value_or("");
  return WithGuest(
      ctx, lxc, [&](WriteTxn& txn, json::object& props) -> absl::StatusOr<json::value> {
        const json::value* v = props.if_contains(disk);
        const std::string volid = v != nullptr ? DiskVolid(*v) : "";
        if (volid.empty()) return ParamError("disk", absl::StrCat("no such disk '", disk, "'"));
        const std::int64_t current = DiskSize(props, {disk.c_str()});
        const bool grow = absl::StartsWith(size, "+");
        std::optional<std::int64_t> bytes = ParseSize(grow ? size.substr(1) : size);
        if (!bytes) return ParamError("size", "unable to parse size");
        const std::int64_t wanted = grow ? current + *bytes : *bytes;
        if (wanted < current) return HttpError(500, "shrinking disks is not supported");
        // The config's size= follows the volume, and so does the storage's content list.
        std::string value(v->get_string());
        std::vector<std::string> parts = absl::StrSplit(value, ',');
        parts.erase(
            std::remove_if(parts.begin() + 1, parts.end(),
                           [](const std::string& p) { return absl::StartsWith(p, "size="); }),
            parts.end());
        parts.push_back(absl::StrCat("size=", FormatSize(wanted)));
        props[disk] = absl::StrJoin(parts, ",");
        const std::string content = absl::StrCat("/nodes/", node, "/storage/",
                                                 volid.substr(0, volid.find(':')), "/content");
        if (std::optional<json::object> volume = GetEntity(txn, content, volid)) {
          (*volume)["size"] = wanted;
          PVEGW_RETURN_IF_ERROR(PutEntity(txn, content, volid, *volume));
        }
        PVEGW_RETURN_IF_ERROR(PutEntity(txn, GuestCollection(node, lxc), vmid, props));
        return MutationResult(txn, ctx, "");
      });
}

absl::StatusOr<json::value> MockBackend::Impl::GuestUnlink(CallContext& ctx) {
  const std::string node = ctx.PathParam("node");
  const std::string vmid = ctx.PathParam("vmid");
  return WithGuest(
      ctx, false, [&](WriteTxn& txn, json::object& props) -> absl::StatusOr<json::value> {
        const bool force = IntOf(ctx.params, "force", 0) != 0;
        for (const std::string& key : SplitList(ctx.Param("idlist").value_or(""))) {
          PVEGW_RETURN_IF_ERROR(RemoveDiskKey(txn, props, key, node, false, force));
        }
        PVEGW_RETURN_IF_ERROR(PutEntity(txn, GuestCollection(node, false), vmid, props));
        return json::value(nullptr);
      });
}

absl::StatusOr<json::value> MockBackend::Impl::GuestTemplate(CallContext& ctx, bool lxc) {
  const std::string node = ctx.PathParam("node");
  const std::string vmid = ctx.PathParam("vmid");
  return WithGuest(
      ctx, lxc, [&](WriteTxn& txn, json::object& props) -> absl::StatusOr<json::value> {
        if (IntOf(props, "template", 0) != 0) {
          return HttpError(500, lxc ? "you can't convert a template to a template"
                                    : "you can't convert a template to a template");
        }
        if (JsonText(props["status"]) == "running") {
          return HttpError(500, lxc ? "you can't convert a CT to template if the CT is running"
                                    : "you can't convert a VM to template if VM is running");
        }
        // vm-<vmid>-disk-<n> becomes base-<vmid>-disk-<n> (the storage's create_base).
        for (auto& kv : props) {
          const std::string key(kv.key());
          if (!IsDiskKey(key, lxc)) continue;
          const std::string volid = DiskVolid(kv.value());
          const std::string from = absl::StrCat("vm-", vmid, "-disk-");
          if (volid.empty() || !absl::StrContains(volid, from)) continue;
          const std::string renamed =
              absl::StrReplaceAll(volid, {{from, absl::StrCat("base-", vmid, "-disk-")}});
          const std::string content = absl::StrCat("/nodes/", node, "/storage/",
                                                   volid.substr(0, volid.find(':')), "/content");
          if (std::optional<json::object> volume = GetEntity(txn, content, volid)) {
            (*volume)["volid"] = renamed;
            PVEGW_RETURN_IF_ERROR(txn.Delete(EntityKey(content, volid)));
            PVEGW_RETURN_IF_ERROR(PutEntity(txn, content, renamed, *volume));
          }
          const std::string value(kv.value().get_string());
          kv.value() = absl::StrCat(renamed, value.substr(volid.size()));
        }
        props["template"] = 1;
        PVEGW_RETURN_IF_ERROR(PutEntity(txn, GuestCollection(node, lxc), vmid, props));
        return MutationResult(txn, ctx, "");
      });
}

absl::StatusOr<json::value> MockBackend::Impl::GuestPending(CallContext& ctx, bool lxc) {
  // PVE::GuestHelpers::config_with_pending_array: one {key, value} per config key; the mock
  // applies changes at once, so nothing is pending.
  PVEGW_ASSIGN_OR_RETURN(json::object props, LoadOwner(ctx));
  std::map<std::string, json::value> config;
  for (const auto& kv : props) {
    if (!IsRuntimeKey(kv.key())) config[std::string(kv.key())] = kv.value();
  }
  config["digest"] = ConfigDigest(props, lxc);
  json::array rows;
  for (const auto& [key, value] : config) {
    json::object row;
    row["key"] = key;
    row["value"] = JsonText(value);  // read from the config file: text
    rows.push_back(std::move(row));
  }
  return json::value(std::move(rows));
}

}  // namespace pvegw::mockstate
