#include "mockstate/value_gen.h"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/api_index.h"
#include "api/param_validator.h"
#include "api/property_string.h"

namespace pvegw::mockstate {
namespace {

namespace json = boost::json;
using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;

constexpr int kMaxDepth = 8;
constexpr int kRepeatedCount = 2;
constexpr std::int64_t kEpochBase = 1763000000;  // Nov 2025

bool HasAny(absl::string_view name, std::initializer_list<absl::string_view> words) {
  for (absl::string_view w : words) {
    if (name == w) return true;
  }
  return false;
}

std::string Hex(std::uint64_t h, int digits) {
  return absl::StrFormat("%0*x", digits,
                         h & ((digits >= 16) ? ~0ull : ((1ull << (4 * digits)) - 1)));
}

// A sample value for a named format that its Proxmox validator accepts.
std::string FormatSample(const std::string& format, std::uint64_t h) {
  static const auto* const kSamples = new std::map<std::string, std::string>{
      {"pve-bridge-id", "vmbr0"},
      {"pve-volume-id", "local-lvm:vm-100-disk-0"},
      {"pve-volume-id-or-qm-path", "local-lvm:vm-100-disk-0"},
      {"pve-volume-id-or-absolute-path", "local:iso/debian-12.9.0-amd64-netinst.iso"},
      {"disk-size", "8G"},
      {"ipv4", "10.0.0.10"},
      {"ip", "10.0.0.10"},
      {"address", "10.0.0.10"},
      {"ipv6", "fd00::10"},
      {"CIDRv4", "10.0.0.10/24"},
      {"CIDR", "10.0.0.10/24"},
      {"CIDRv6", "fd00::10/64"},
      {"pve-ipv4-config", "dhcp"},
      {"pve-ipv6-config", "auto"},
      {"pve-storage-id", "local"},
      {"pve-node", "pve1"},
      {"pve-configid", "net0"},
      {"pve-iface", "eth0"},
      {"dns-name", "example.com"},
      {"pve-userid", "root@pam"},
      {"urlencoded", "default"},
  };
  if (format == "mac-addr") {
    return absl::StrFormat("BC:24:11:%02X:%02X:%02X", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
  }
  auto it = kSamples->find(format);
  return it == kSamples->end() ? std::string() : it->second;
}

// A property string that passes its own format object: the default key's value and every
// key Proxmox requires, each generated to pass that key's checks.
std::optional<std::string> GeneratePropertyString(const std::string& format_json, std::uint64_t h) {
  absl::StatusOr<std::shared_ptr<const api::PropertyFormat>> format =
      api::ParsePropertyFormat(format_json);
  if (!format.ok()) return std::nullopt;
  auto value_for = [&](const std::string& name,
                       const api::PropertyKey& key) -> std::optional<std::string> {
    const std::uint64_t kh = StableHash(absl::StrCat(h, "/", name));
    std::vector<std::string> candidates;
    if (!key.enum_values.empty()) {
      candidates.push_back(key.enum_values[kh % key.enum_values.size()]);
    } else if (key.default_value) {
      candidates.push_back(*key.default_value);
    }
    if (key.type == "boolean") candidates.push_back("1");
    if (key.type == "integer" || key.type == "number") {
      double v = key.minimum.value_or(1);
      if (key.maximum && v > *key.maximum) v = *key.maximum;
      candidates.push_back(absl::StrCat(static_cast<std::int64_t>(std::ceil(v))));
    }
    if (!key.format.empty()) candidates.push_back(FormatSample(key.format, kh));
    for (const std::string& c : {absl::StrCat(name, 1 + kh % 9), std::string("1"),
                                 std::string("default"), std::string("a1")}) {
      candidates.push_back(c);
    }
    for (const std::string& c : candidates) {
      if (c.empty() || c.find(',') != std::string::npos) continue;
      api::PropertyFormat single;
      single.keys.emplace(name, key);
      if (!api::CheckPropertyString(single, absl::StrCat(name, "=", c), "x")) return c;
    }
    return std::nullopt;
  };
  std::vector<std::string> parts;
  if (!(*format)->default_key.empty()) {
    const std::string& name = (*format)->default_key;
    auto v = value_for(name, (*format)->keys.at(name));
    if (!v) return std::nullopt;
    parts.push_back(*v);
  }
  for (const auto& [name, key] : (*format)->keys) {
    if (key.optional || !key.alias.empty() || name == (*format)->default_key) continue;
    auto v = value_for(name, key);
    if (!v) return std::nullopt;
    parts.push_back(absl::StrCat(name, "=", *v));
  }
  std::string out = absl::StrJoin(parts, ",");
  if (api::CheckPropertyString(**format, out, "x")) return std::nullopt;
  return out;
}

// Words for generated names and ids (hostnames, zones, groups, ...): what people name
// things, never a word with hex digits.
constexpr const char* kNameWords[] = {"alpha", "bravo", "delta", "echo",   "atlas", "orion",
                                      "vega",  "nova",  "lima",  "sierra", "tango", "zulu"};

// One of kNameWords; with `numbered`, followed by a digit 1-9 ("vega3").
std::string NameWord(std::uint64_t h, bool numbered) {
  const std::string word = kNameWords[h % std::size(kNameWords)];
  return numbered ? absl::StrCat(word, 1 + (h >> 8) % 9) : word;
}

// The letters and digits of a field's Proxmox name, lower case ("ip-config" -> "ipconfig").
std::string NameLetters(const FieldDescriptor* f) {
  std::string letters;
  for (char c : absl::AsciiStrToLower(api::WireName(f))) {
    if (std::isalnum(static_cast<unsigned char>(c))) letters.push_back(c);
  }
  return letters;
}

// A value a real host could send for a string field, derived from the schema (enum, named
// format, pattern) and the field's Proxmox name; nullopt when nothing realistic can be
// derived: such a key is left out, as Proxmox omits unset keys.
std::optional<std::string> RealisticString(const FieldDescriptor* f, std::uint64_t h,
                                           const ShapeOptions& options) {
  const auto& rules = api::Rules(f);
  if (!rules.property_format().empty()) {
    if (auto v = GeneratePropertyString(rules.property_format(), h)) return *v;
  }
  const std::string name = absl::AsciiStrToLower(api::WireName(f));
  const std::string& format = rules.format();
  std::string v;
  bool derived = true;
  if (!rules.enum_values().empty()) {
    return rules.enum_values(static_cast<int>(h % rules.enum_values_size()));
  } else if (format == "pve-node" || name == "node" || name == "target") {
    v = options.node_names.empty() ? "pve1" : options.node_names[h % options.node_names.size()];
  } else if (format == "pve-vmid") {
    v = absl::StrCat(100 + h % 900);
  } else if (absl::StrContains(format, "mac") || HasAny(name, {"macaddr", "hwaddr", "mac"})) {
    v = absl::StrFormat("BC:24:11:%02X:%02X:%02X", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
  } else if (absl::StrContains(format, "cidr") || absl::StrContains(format, "CIDR") ||
             HasAny(name, {"cidr", "subnet", "network"})) {
    v = absl::StrFormat("10.%d.%d.0/24", (h >> 8) % 256, h % 256);
  } else if (name == "inet") {
    v = absl::StrFormat("10.0.%d.%d/24", (h >> 8) % 256, 1 + h % 254);
  } else if (name == "inet6") {
    v = absl::StrCat("fd00::", 1 + h % 254, "/64");
  } else if (name == "level") {
    v = "";  // the subscription level: empty without a subscription
  } else if (HasAny(name, {"comment", "description", "notes"})) {
    constexpr const char* kComments[] = {"managed by automation", "office network", "backup target",
                                         "monitoring"};
    v = kComments[h % std::size(kComments)];
  } else if (format == "ipv6" || HasAny(name, {"ip6", "gw6", "address6", "ipv6"})) {
    v = absl::StrCat("fd00::", 1 + h % 254);
  } else if (absl::StartsWith(format, "ip") ||
             HasAny(name, {"ip", "address", "gateway", "gw", "ipaddress", "addr", "server", "dns1",
                           "dns2", "dns3"})) {
    v = absl::StrFormat("10.0.%d.%d", (h >> 8) % 256, 1 + h % 254);
  } else if (format == "pve-storage-id" || name == "storage") {
    v = (h % 2 == 0) ? "local" : "local-lvm";
  } else if (format == "pve-userid" || HasAny(name, {"userid", "user", "owner", "username"})) {
    v = "root@pam";
  } else if (format == "pve-poolid" || HasAny(name, {"pool", "poolid"})) {
    v = "production";
  } else if (absl::StrContains(format, "volume-id") || HasAny(name, {"volid", "volume"})) {
    v = "local:iso/debian-12.9.0-amd64-netinst.iso";
  } else if (absl::EndsWith(name, "digest") || name == "fingerprint" || name == "ssl_fingerprint") {
    v = Hex(h, 16) + Hex(h * 31 + 7, 16) + Hex(h * 131 + 3, 8);
  } else if (name == "upid") {
    v = absl::StrFormat("UPID:pve1:%08X:%08X:%08X:task::root@pam:", 1000 + h % 60000, h % 0xffffff,
                        kEpochBase + h % 1000000);
  } else if (HasAny(name, {"running-machine", "runningmachine", "machine"})) {
    v = "pc-i440fx-9.2+pve1";
  } else if (HasAny(name, {"running-qemu", "runningqemu"})) {
    v = "9.2.0";
  } else if (HasAny(name, {"runningcpu", "cpu", "cputype"})) {
    v = "x86-64-v2-AES";
  } else if (name == "meta") {
    v = "creation-qemu=9.2.0,ctime=1735689600";
  } else if (HasAny(name, {"version", "release", "pveversion", "kversion"})) {
    v = absl::StrCat("9.0.", h % 10);
  } else if (HasAny(name, {"content"})) {
    v = "images,rootdir";
  } else if (HasAny(name, {"iface", "interface", "ifname", "dev", "device"})) {
    v = "eth0";
  } else if (HasAny(name, {"bridge"})) {
    v = "vmbr0";
  } else if (HasAny(name, {"path"})) {
    v = "/";
  } else if (HasAny(name, {"schedule", "starttime"})) {
    v = "daily";
  } else if (HasAny(name, {"email", "mailto", "from-address", "author"})) {
    v = "root@example.com";
  } else if (HasAny(name, {"domain", "dns", "search", "searchdomain", "zone", "dnszone"}) &&
             format.empty()) {
    v = "example.com";
  } else if (absl::EndsWith(name, "name") || name == "hostname" || name == "id" ||
             HasAny(name, {"groupid", "realm", "roleid", "sid", "tokenid", "alias"})) {
    v = NameWord(h, true);
  } else {
    derived = false;
  }
  if (rules.has_max_length() && v.size() > rules.max_length()) v.resize(rules.max_length());
  // The value must pass the field's own checks: ids generated here are used in paths
  // that are validated. Try plausible spellings until one fits the format and pattern.
  auto fits = [&](const std::string& candidate) {
    return api::ConformsToFormat(format, candidate) &&
           (rules.pattern().empty() || api::MatchesProxmoxPattern(rules.pattern(), candidate)) &&
           (!rules.has_max_length() || candidate.size() <= rules.max_length()) &&
           (!rules.has_min_length() || candidate.size() >= rules.min_length());
  };
  if (derived && fits(v)) return v;
  // A named format says what the value looks like even where the name does not.
  if (const std::string sample = FormatSample(format, h); !sample.empty() && fits(sample)) {
    return sample;
  }
  if (!derived && format.empty() && rules.pattern().empty()) return std::nullopt;
  std::string letters = NameLetters(f);
  if (letters.empty() || !std::isalpha(static_cast<unsigned char>(letters[0])))
    letters = "x" + letters;
  const std::string number = absl::StrCat(1 + (h >> 8) % 9);
  for (const std::string& candidate :
       {NameWord(h, true), letters + number, letters, NameWord(h, false),
        absl::StrCat(100 + h % 900), absl::StrCat(100 + h % 900, "-0"), std::string("/dev/sda"),
        std::string("https://example.com/file.iso"), std::string("global:fsid"),
        std::string("local"), std::string("vmbr0"), std::string("eth0"), std::string("root@pam"),
        std::string("10.0.0.1"), std::string("10.0.0.0/24"), std::string("a1"), Hex(h, 16)}) {
    if (fits(candidate)) return candidate;
  }
  return std::nullopt;
}

std::string GenerateString(const FieldDescriptor* f, std::uint64_t h, const ShapeOptions& options) {
  if (auto v = RealisticString(f, h, options)) return *v;
  // Required, and nothing to derive it from: a plain word of the field's name.
  std::string letters = NameLetters(f);
  return letters.empty() ? std::string("default") : letters;
}

// GenerateValue, except for keys Proxmox would rather leave out (nullopt): optional strings
// (and lists of them) and free-form values nothing realistic can be derived for.
std::optional<json::value> GenerateUnlessLeftOut(const FieldDescriptor* f, absl::string_view seed,
                                                 const ShapeOptions& options, int depth) {
  const auto& rules = api::Rules(f);
  if (!rules.required() && !f->is_map()) {
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        f->message_type()->full_name() == "google.protobuf.Value") {
      return std::nullopt;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      // A single string is that very value (GenerateString); a list is judged by its first.
      std::optional<std::string> first = RealisticString(
          f, StableHash(f->is_repeated() ? absl::StrCat(seed, "#0") : std::string(seed)), options);
      if (!first) return std::nullopt;
      if (!f->is_repeated()) return json::value(*std::move(first));
    }
  }
  return GenerateValue(f, seed, options, depth);
}

std::int64_t GenerateInt(const FieldDescriptor* f, std::uint64_t h) {
  const auto& rules = api::Rules(f);
  const std::string name = absl::AsciiStrToLower(api::WireName(f));
  std::int64_t v = 0;
  if (name == "vmid" || rules.format() == "pve-vmid") {
    v = 100 + static_cast<std::int64_t>(h % 900);
  } else if (HasAny(name, {"maxmem", "mem", "memory", "maxdisk", "disk", "size", "total", "used",
                           "avail", "free", "maxswap", "swap", "netin", "netout", "diskread",
                           "diskwrite", "bytes", "memhost"})) {
    v = static_cast<std::int64_t>(h % 64 + 1) << 30;
  } else if (name == "uptime") {
    v = static_cast<std::int64_t>(h % 5000000);
  } else if (absl::EndsWith(name, "time") || HasAny(name, {"ctime", "mtime", "expire", "date"})) {
    v = kEpochBase + static_cast<std::int64_t>(h % 10000000);
  } else if (name == "pid") {
    v = 1000 + static_cast<std::int64_t>(h % 60000);
  } else if (HasAny(name, {"cpus", "maxcpu", "cores", "sockets", "cpu"})) {
    v = 1 + static_cast<std::int64_t>(h % 16);
  } else if (name == "port") {
    v = 5900 + static_cast<std::int64_t>(h % 100);
  } else if (HasAny(name, {"tag", "vlan"})) {
    v = 1 + static_cast<std::int64_t>(h % 4094);
  } else {
    v = static_cast<std::int64_t>(h % 1000);
  }
  if (rules.has_minimum() && rules.has_maximum()) {
    const double lo = rules.minimum();
    const double hi = rules.maximum();
    if (v < lo || v > hi) {
      const double span = hi - lo + 1;
      v = static_cast<std::int64_t>(lo + std::fmod(static_cast<double>(h % (1ull << 52)), span));
    }
  } else if (rules.has_minimum() && v < rules.minimum()) {
    v = static_cast<std::int64_t>(rules.minimum()) + v;
  } else if (rules.has_maximum() && v > rules.maximum()) {
    v = static_cast<std::int64_t>(rules.maximum());
  }
  return v;
}

double GenerateDouble(const FieldDescriptor* f, std::uint64_t h) {
  const auto& rules = api::Rules(f);
  const std::string name = absl::AsciiStrToLower(api::WireName(f));
  double v = HasAny(name, {"cpu", "wait", "iowait", "used_fraction"})
                 ? static_cast<double>(h % 1000) / 1000.0
                 : static_cast<double>(h % 10000) / 100.0;
  if (rules.has_minimum() && v < rules.minimum()) v = rules.minimum();
  if (rules.has_maximum() && v > rules.maximum()) v = rules.maximum();
  return v;
}

json::value GenerateScalar(const FieldDescriptor* f, std::uint64_t h, const ShapeOptions& options,
                           absl::string_view seed, int depth) {
  const FieldDescriptor* vf = f->is_map() ? f->message_type()->map_value() : f;
  switch (vf->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return json::value(GenerateString(f, h, options));
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return json::value(GenerateInt(f, h));
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return json::value(GenerateDouble(f, h));
    case FieldDescriptor::CPPTYPE_BOOL: {
      const auto& rules = api::Rules(f);
      if (rules.has_default_value()) {
        return json::value(ParseBool(rules.default_value()).value_or(false) ? 1 : 0);
      }
      return json::value(static_cast<int>(h % 2));
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Descriptor* m = vf->message_type();
      const std::string& full = m->full_name();
      if (full == "google.protobuf.Struct") return json::object();
      if (full == "google.protobuf.ListValue") return json::array();
      if (full == "google.protobuf.Value") return json::value(static_cast<std::int64_t>(h % 2));
      if (full == "google.protobuf.Empty") return nullptr;
      if (depth >= kMaxDepth) return json::object();
      ShapeOptions inner = options;
      inner.props = nullptr;
      inner.settable = nullptr;
      json::object o;
      for (int i = 0; i < m->field_count(); ++i) {
        const FieldDescriptor* field = m->field(i);
        // Typed companions are the gateway's reading of a raw field, never an answer key.
        if (api::Rules(field).additional_properties() || !api::Rules(field).typed_of().empty()) {
          continue;
        }
        const std::string wire = api::WireName(field);
        std::optional<json::value> value =
            GenerateUnlessLeftOut(field, absl::StrCat(seed, "/", wire), inner, depth + 1);
        if (!value) continue;
        if (!api::Rules(field).indexed().empty()) {
          o[absl::StrCat(wire, "0")] = *std::move(value);
        } else {
          o[wire] = *std::move(value);
        }
      }
      return o;
    }
    default:
      return nullptr;
  }
}

// Whether a (coerced) value satisfies the field's type, range and enum.
bool FitsField(const json::value& v, const FieldDescriptor* f) {
  if (f->is_repeated() || f->is_map()) return true;
  const auto& rules = api::Rules(f);
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      if (!v.is_int64()) return v.is_uint64() && f->cpp_type() == FieldDescriptor::CPPTYPE_UINT64;
      const std::int64_t n = v.get_int64();
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT32 &&
          (n < std::numeric_limits<std::int32_t>::min() ||
           n > std::numeric_limits<std::int32_t>::max())) {
        return false;
      }
      if (rules.has_minimum() && static_cast<double>(n) < rules.minimum()) return false;
      if (rules.has_maximum() && static_cast<double>(n) > rules.maximum()) return false;
      return true;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return v.is_number();
    case FieldDescriptor::CPPTYPE_BOOL:
      return v.is_int64() && (v.get_int64() == 0 || v.get_int64() == 1);
    case FieldDescriptor::CPPTYPE_STRING: {
      if (!v.is_string()) return false;
      if (rules.enum_values().empty()) return true;
      const std::string s(v.get_string());
      return std::find(rules.enum_values().begin(), rules.enum_values().end(), s) !=
             rules.enum_values().end();
    }
    default:
      return true;
  }
}

}  // namespace

std::uint64_t StableHash(absl::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  // splitmix64 finaliser: FNV's low bits are weak for short, similar keys.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

json::value GenerateValue(const FieldDescriptor* field, absl::string_view seed,
                          const ShapeOptions& options, int depth) {
  if (field->is_repeated() && !field->is_map()) {
    json::array arr;
    for (int i = 0; i < kRepeatedCount; ++i) {
      const std::string item_seed = absl::StrCat(seed, "#", i);
      arr.push_back(GenerateScalar(field, StableHash(item_seed), options, item_seed, depth));
    }
    return arr;
  }
  return GenerateScalar(field, StableHash(seed), options, seed, depth);
}

NameSet AllWireNames(const Descriptor* message) {
  NameSet names;
  for (int i = 0; i < message->field_count(); ++i) names.insert(api::WireName(message->field(i)));
  return names;
}

json::value CoerceToField(const json::value& v, const FieldDescriptor* field) {
  const FieldDescriptor* vf = field->is_map() ? field->message_type()->map_value() : field;
  if (field->is_repeated() && !field->is_map()) {
    if (v.is_string() && vf->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      // Proxmox lists such as groups "admins,ops" are arrays in some answers.
      json::array parts;
      for (absl::string_view part :
           absl::StrSplit(absl::string_view(v.get_string().data(), v.get_string().size()),
                          absl::ByAnyChar(",; "), absl::SkipEmpty())) {
        parts.push_back(json::value(std::string(part)));
      }
      return parts;
    }
    if (!v.is_array()) return v;
    json::array out;
    for (const auto& e : v.get_array()) {
      // Element conversion uses the same rules as a singular field of this type.
      switch (vf->cpp_type()) {
        case FieldDescriptor::CPPTYPE_MESSAGE:
          out.push_back(e);
          break;
        default: {
          json::value one = e;
          if (vf->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !e.is_string()) {
            one = e.is_int64() ? json::value(absl::StrCat(e.get_int64())) : e;
          }
          out.push_back(one);
        }
      }
    }
    return out;
  }
  switch (vf->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (v.is_array()) {
        std::string joined;
        for (const auto& e : v.get_array()) {
          if (!joined.empty()) joined += ",";
          joined += e.is_string() ? std::string(e.get_string()) : json::serialize(e);
        }
        return json::value(joined);
      }
      if (v.is_int64()) return json::value(absl::StrCat(v.get_int64()));
      if (v.is_uint64()) return json::value(absl::StrCat(v.get_uint64()));
      if (v.is_double()) return json::value(absl::StrCat(v.get_double()));
      if (v.is_bool()) return json::value(v.get_bool() ? "1" : "0");
      return v;
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      if (v.is_string()) {
        std::int64_t n = 0;
        if (absl::SimpleAtoi(std::string(v.get_string()), &n)) return json::value(n);
      }
      if (v.is_double()) return json::value(static_cast<std::int64_t>(v.get_double()));
      if (v.is_bool()) return json::value(v.get_bool() ? 1 : 0);
      return v;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      if (v.is_string()) {
        double d = 0;
        if (absl::SimpleAtod(std::string(v.get_string()), &d)) return json::value(d);
      }
      return v;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      if (v.is_bool()) return json::value(v.get_bool() ? 1 : 0);
      if (v.is_string()) {
        if (auto b = ParseBool(std::string(v.get_string()))) return json::value(*b ? 1 : 0);
      }
      return v;
    }
    default:
      return v;
  }
}

json::object ShapeObject(const Descriptor* message, absl::string_view seed,
                         const ShapeOptions& options) {
  json::object out;
  out.reserve(static_cast<std::size_t>(message->field_count()));
  // Open objects (the schema declares additionalProperties) also answer the stored keys the
  // schema does not list. Every answer object has the Struct; only declared ones are open.
  bool open = false;
  for (int i = 0; i < message->field_count() && !open; ++i)
    open = api::Rules(message->field(i)).declared_open();
  NameSet matched;
  const json::object* props = options.props;
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* f = message->field(i);
    const auto& rules = api::Rules(f);
    if (rules.additional_properties()) continue;  // the unlisted keys, below
    if (!rules.typed_of().empty()) continue;      // the gateway's reading of a raw field
    const std::string wire = api::WireName(f);
    if (!rules.indexed().empty()) {
      bool any = false;
      if (props != nullptr) {
        for (const auto& kv : *props) {
          const absl::string_view key(kv.key().data(), kv.key().size());
          if (key.size() > wire.size() && absl::StartsWith(key, wire) &&
              std::all_of(key.begin() + wire.size(), key.end(),
                          [](char c) { return c >= '0' && c <= '9'; })) {
            out[kv.key()] = CoerceToField(kv.value(), f);
            if (open) matched.emplace(key);
            any = true;
          }
        }
      }
      if (!any && options.generate &&
          (options.settable == nullptr || options.settable->count(wire) == 0)) {
        if (auto v = GenerateUnlessLeftOut(f, absl::StrCat(seed, "/", wire), options, 0)) {
          out[absl::StrCat(wire, "0")] = *std::move(v);
        }
      }
      continue;
    }
    if (props != nullptr) {
      if (const json::value* v = props->if_contains(wire)) {
        json::value coerced = CoerceToField(*v, f);
        // A stored value of the same name may mean something else here (a pool's size in
        // bytes vs. its replica count); never answer with one the schema rejects.
        if (FitsField(coerced, f)) {
          out[wire] = std::move(coerced);
          if (open) matched.insert(wire);
          continue;
        }
      }
    }
    // Config keys that were never set are absent, as in Proxmox; required ones never are.
    if (!options.generate) continue;
    if (options.settable != nullptr && options.settable->count(wire) != 0 && !rules.required()) {
      continue;
    }
    if (auto v = GenerateUnlessLeftOut(f, absl::StrCat(seed, "/", wire), options, 0)) {
      out[wire] = *std::move(v);
    }
  }
  // Generated pressure stall values stay possible: "full" (all tasks stalled) never
  // exceeds "some".
  for (auto& kv : out) {
    const absl::string_view key(kv.key().data(), kv.key().size());
    if (!absl::StartsWith(key, "pressure") || !absl::EndsWith(key, "full") ||
        !kv.value().is_number()) {
      continue;
    }
    const std::string some_key = absl::StrCat(key.substr(0, key.size() - 4), "some");
    const json::value* some = out.if_contains(some_key);
    if (some != nullptr && some->is_number() &&
        kv.value().to_number<double>() > some->to_number<double>()) {
      kv.value() = *some;
    }
  }
  if (open && props != nullptr) {
    for (const auto& kv : *props) {
      const std::string key(kv.key());
      if (matched.count(key) == 0 && !out.contains(kv.key())) out[kv.key()] = kv.value();
    }
  }
  return out;
}

json::value ShapeData(const FieldDescriptor* data, absl::string_view seed,
                      const ShapeOptions& options) {
  if (data == nullptr) return nullptr;
  if (data->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !data->is_repeated() &&
      data->message_type()->full_name().rfind("google.protobuf.", 0) != 0) {
    return ShapeObject(data->message_type(), seed, options);
  }
  return GenerateValue(data, seed, options, 0);
}

}  // namespace pvegw::mockstate
