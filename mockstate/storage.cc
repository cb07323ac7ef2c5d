// Storage of the mock world as a node sees it: /nodes/{node}/storage with usage.
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "mockstate/backend_impl.h"

namespace pvegw::mockstate {

using ::google::protobuf::Descriptor;

bool StorageOnNode(const json::object& props, absl::string_view node) {
  return !props.contains("nodes") || InList(JsonText(props.at("nodes")), node);
}

bool StorageHasContent(const json::object& storage, absl::string_view content) {
  return storage.contains("content") && InList(JsonText(storage.at("content")), content);
}

StorageSize StorageSizeOn(absl::string_view node, absl::string_view sid) {
  const std::uint64_t h = StableHash(absl::StrCat("storage/", node, "/", sid));
  return {static_cast<std::int64_t>(h % 8 + 1) << 40, static_cast<std::int64_t>(h % 400) << 30};
}

json::object StorageResource(absl::string_view node, absl::string_view sid,
                             const json::object* props) {
  json::object r;
  r["id"] = absl::StrCat("storage/", node, "/", sid);
  r["type"] = "storage";
  r["node"] = json::string_view(node.data(), node.size());
  r["storage"] = json::string_view(sid.data(), sid.size());
  r["status"] = "available";
  if (props != nullptr) {
    if (props->contains("type")) r["plugintype"] = props->at("type");
    if (props->contains("content")) r["content"] = props->at("content");
    r["shared"] = props->contains("shared") ? props->at("shared") : json::value(0);
  }
  const StorageSize size = StorageSizeOn(node, sid);
  r["maxdisk"] = size.total;
  r["disk"] = size.used;
  return r;
}

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
      if (!content_filter.empty()) {
        const std::vector<std::string> wanted = SplitList(content_filter);
        if (std::none_of(wanted.begin(), wanted.end(),
                         [&](const std::string& c) { return StorageHasContent(props, c); })) {
          continue;
        }
      }
      if (!StorageOnNode(props, node)) continue;
      json::object view = props;
      const auto [total, used] = StorageSizeOn(node, sid);
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

namespace {

// The appliance index pve-manager serves from download.proxmox.com (APLInfo.pm), a few
// current system templates.
struct Appliance {
  const char* os;
  const char* package;
  const char* version;
  const char* headline;
  const char* infopage;
  std::int64_t size;
};
constexpr Appliance kAppliances[] = {
    {"debian-12", "debian-12-standard", "12.7-1", "Debian 12 Bookworm (standard)",
     "https://pve.proxmox.com/wiki/Linux_Container#pct_supported_distributions", 126516234},
    {"ubuntu-24.04", "ubuntu-24.04-standard", "24.04-2", "Ubuntu 24.04 Noble (standard)",
     "https://pve.proxmox.com/wiki/Linux_Container#pct_supported_distributions", 141762560},
    {"alpine-3.20", "alpine-3.20-default", "20240908", "Alpine Linux 3.20",
     "https://pve.proxmox.com/wiki/Linux_Container#pct_supported_distributions", 3047424},
};

std::string ApplianceTemplate(const Appliance& a) {
  return absl::StrCat(a.package, "_", a.version, "_amd64.tar.",
                      absl::StartsWith(a.os, "alpine") ? "xz" : "zst");
}

// Puts the volume `<sid>:<content>/<name>` into the storage's content list on `node`.
absl::Status PutVolume(WriteTxn& txn, absl::string_view node, absl::string_view sid,
                       absl::string_view content, absl::string_view name, std::int64_t size,
                       std::int64_t now_ms) {
  const std::string collection = absl::StrCat("/nodes/", node, "/storage/", sid, "/content");
  const std::string volid = absl::StrCat(sid, ":", content, "/", name);
  std::string format = content == "iso" ? "iso" : "raw";
  if (absl::EndsWith(name, ".tar.zst")) format = "tzst";
  if (absl::EndsWith(name, ".tar.xz")) format = "txz";
  if (absl::EndsWith(name, ".tar.gz")) format = "tgz";
  if (absl::EndsWith(name, ".tar.bz2")) format = "tbz2";
  if (absl::EndsWith(name, ".tar")) format = "tar";
  if (content == "import") format = std::string(name.substr(name.rfind('.') + 1));
  json::object volume;
  volume["volid"] = volid;
  volume["content"] = std::string(content);
  volume["format"] = format;
  volume["size"] = size;
  volume["ctime"] = now_ms / 1000;
  PVEGW_RETURN_IF_ERROR(MockBackend::Impl::PutEntity(txn, collection, volid, volume));
  return txn.Put(MarkerKey(collection), "1");
}

// Stores a downloaded volume `<sid>:<content>/<name>` on `node`, where the storage must hold
// that content.
absl::Status StoreDownload(WriteTxn& txn, absl::string_view node, absl::string_view sid,
                           absl::string_view content, absl::string_view name, std::int64_t size,
                           std::int64_t now_ms) {
  std::optional<json::object> storage = MockBackend::Impl::GetEntity(txn, "/storage", sid);
  if (!storage) return HttpError(500, absl::StrCat("storage '", sid, "' does not exist"));
  if (!StorageHasContent(*storage, content)) {
    // pve-storage API2/Storage/Status.pm download_url.
    return HttpError(500, absl::StrCat("storage '", sid, "' is not configured for content-type '",
                                       content, "'"));
  }
  return PutVolume(txn, node, sid, content, name, size, now_ms);
}

// pve-storage's normalize_content_filename: the last path component, every character but
// [a-zA-Z0-9_.-] replaced by '_'.
std::string NormalizeContentFilename(absl::string_view name) {
  absl::ConsumeSuffix(&name, "\n");
  if (const std::size_t cut = name.find_last_of("/\\"); cut != absl::string_view::npos) {
    name = name.substr(cut + 1);
  }
  std::string out(name);
  for (char& c : out) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      c = '_';
    }
  }
  return out;
}

// `name` ends with one of `exts` (after at least one character), optionally ignoring case.
bool HasExtension(absl::string_view name, std::initializer_list<absl::string_view> exts,
                  bool ignore_case) {
  for (absl::string_view ext : exts) {
    if (name.size() <= ext.size()) continue;
    const absl::string_view tail = name.substr(name.size() - ext.size());
    if (ignore_case ? absl::EqualsIgnoreCase(tail, ext) : tail == ext) return true;
  }
  return false;
}

// Hex digest of `data` with one of the upload's checksum algorithms (md5, sha1, sha2).
std::string HexDigest(absl::string_view algorithm, absl::string_view data) {
  const EVP_MD* md = EVP_get_digestbyname(std::string(algorithm).c_str());
  if (md == nullptr) return "";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, md, nullptr) != 1) return "";
  std::string out;
  for (unsigned int i = 0; i < len; ++i)
    absl::StrAppend(&out, absl::Hex(digest[i], absl::kZeroPad2));
  return out;
}

}  // namespace

absl::StatusOr<json::value> MockBackend::Impl::ApplianceList(CallContext&) {
  json::array rows;
  for (const Appliance& a : kAppliances) {
    json::object row;
    const std::string tmpl = ApplianceTemplate(a);
    row["template"] = tmpl;
    row["package"] = a.package;
    row["version"] = a.version;
    row["os"] = a.os;
    row["type"] = "lxc";
    row["section"] = "system";
    row["architecture"] = "amd64";
    row["headline"] = a.headline;
    row["description"] = a.headline;
    row["infopage"] = a.infopage;
    row["maintainer"] = "Proxmox Support Team <support@proxmox.com>";
    row["location"] = absl::StrCat("system/", tmpl);
    row["source"] = absl::StrCat("http://download.proxmox.com/images/system/", tmpl);
    rows.push_back(std::move(row));
  }
  return json::value(std::move(rows));
}

absl::StatusOr<json::value> MockBackend::Impl::ApplianceDownload(CallContext& ctx) {
  const std::string node = ctx.PathParam("node");
  const std::string tmpl = ctx.Param("template").value_or("");
  const std::string sid = ctx.Param("storage").value_or("");
  const Appliance* found = nullptr;
  for (const Appliance& a : kAppliances) {
    if (ApplianceTemplate(a) == tmpl) found = &a;
  }
  if (found == nullptr) return HttpError(500, "no such template");
  absl::StatusOr<json::value> result;
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    PVEGW_RETURN_IF_ERROR(StoreDownload(txn, node, sid, "vztmpl", tmpl, found->size, ctx.now_ms));
    result = MutationResult(txn, ctx, "");
    return result.status();
  }));
  return result;
}

absl::StatusOr<json::value> MockBackend::Impl::DownloadUrl(CallContext& ctx) {
  const std::string node = ctx.PathParam("node");
  const std::string sid = ctx.PathParam("storage");
  const std::string content = ctx.Param("content").value_or("");
  const std::string filename = ctx.Param("filename").value_or("");
  const std::string url = ctx.Param("url").value_or("");
  absl::StatusOr<json::value> result;
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    // The mock fetches nothing: the size stands for what the URL would have delivered.
    const std::int64_t size = (static_cast<std::int64_t>(StableHash(url) % 4096) + 64) << 20;
    PVEGW_RETURN_IF_ERROR(StoreDownload(txn, node, sid, content, filename, size, ctx.now_ms));
    result = MutationResult(txn, ctx, "");
    return result.status();
  }));
  return result;
}

// pve-storage API2/Storage/Status.pm `upload`, in its order of checks; the checksum is
// verified by the worker, so a mismatch is a failed imgcopy task and no volume.
absl::StatusOr<json::value> MockBackend::Impl::StorageUpload(CallContext& ctx) {
  const std::string node = ctx.PathParam("node");
  const std::string sid = ctx.PathParam("storage");
  const std::string content = ctx.Param("content").value_or("");
  absl::StatusOr<json::value> result;
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    std::optional<json::object> storage = GetEntity(txn, "/storage", sid);
    if (!storage) return HttpError(500, absl::StrCat("storage '", sid, "' does not exist"));
    if (!storage->contains("path")) {
      const std::string type = storage->contains("type") ? JsonText(storage->at("type")) : "";
      return HttpError(500, absl::StrCat("can't upload to storage type '", type, "'"));
    }
    const std::string tmpfilename = ctx.Param("tmpfilename").value_or("");
    if (tmpfilename.empty()) return HttpError(500, "missing temporary file name");
    if (ctx.upload == nullptr || ctx.upload->tmpfilename != tmpfilename) {
      return HttpError(500, absl::StrCat("temporary file '", tmpfilename, "' does not exist"));
    }
    const std::string filename = NormalizeContentFilename(ctx.Param("filename").value_or(""));
    if (content == "iso") {
      if (!HasExtension(filename, {".iso", ".img"}, true)) {
        return ParamError("filename", "wrong file extension");
      }
    } else if (content == "vztmpl") {
      if (!HasExtension(filename, {".tar", ".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2"}, true)) {
        return ParamError("filename", "wrong file extension");
      }
    } else if (content == "import") {
      if (!HasExtension(filename, {".ova", ".qcow2", ".raw", ".vmdk"}, false)) {
        return ParamError("filename", "invalid filename or wrong extension");
      }
    } else {
      return ParamError("content", absl::StrCat("upload content type '", content, "' not allowed"));
    }
    if (!StorageHasContent(*storage, content)) {
      return HttpError(
          500, absl::StrCat("storage '", sid, "' does not support '", content, "' content"));
    }
    std::string error;
    if (auto algorithm = ctx.Param("checksum-algorithm")) {
      const std::string expect = ctx.Param("checksum").value_or("");
      const std::string got = HexDigest(*algorithm, ctx.upload->data);
      if (!absl::EqualsIgnoreCase(got, expect)) {
        error = absl::StrCat("checksum mismatch: got '", got, "' != expect '", expect, "'");
      }
    }
    if (error.empty()) {
      PVEGW_RETURN_IF_ERROR(PutVolume(txn, node, sid, content, filename,
                                      static_cast<std::int64_t>(ctx.upload->data.size()),
                                      ctx.now_ms));
    }
    PVEGW_ASSIGN_OR_RETURN(std::string upid,
                           StartTask(txn, node, "imgcopy", "", ctx.now_ms, ctx.user, error));
    result = json::value(upid);
    return absl::OkStatus();
  }));
  return result;
}

}  // namespace pvegw::mockstate
