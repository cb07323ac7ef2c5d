#include "codegen/named_formats.h"

#include <cstdlib>
#include <map>

#include "codegen/json_util.h"

namespace pvegw::codegen {
namespace {

namespace json = boost::json;

struct NamedFormat {
  const char* name;
  const char* message;  // the generated message's name
  const char* keys;     // JSON, the key hash as Proxmox's Perl declares it
};

// Each table is the Perl hash passed to register_format, keys as in the Proxmox VE 9 schema's
// `typetext` of the fields that use it (keys added by later Proxmox versions, such as the cpu
// format's `level`, are left out: a host that sends them keeps them in
// additional_properties). Perl regexes (qr//) are written as their pattern text; Proxmox
// anchors every pattern (^(?:...)$) when it checks a value.
constexpr NamedFormat kFormats[] = {
    // qemu-server src/PVE/QemuServer/Network.pm, $ipconfig_fmt (cloud-init ipconfig[n]).
    {"pve-qm-ipconfig", "CloudInitIpConfig", R"json({
      "ip": {"type": "string", "format": "pve-ipv4-config", "format_description": "IPv4Format/CIDR",
             "description": "IPv4 address in CIDR format.", "optional": 1, "default": "dhcp"},
      "gw": {"type": "string", "format": "ipv4", "format_description": "GatewayIPv4",
             "description": "Default gateway for IPv4 traffic.", "optional": 1, "requires": "ip"},
      "ip6": {"type": "string", "format": "pve-ipv6-config", "format_description": "IPv6Format/CIDR",
              "description": "IPv6 address in CIDR format.", "optional": 1, "default": "dhcp"},
      "gw6": {"type": "string", "format": "ipv6", "format_description": "GatewayIPv6",
              "description": "Default gateway for IPv6 traffic.", "optional": 1, "requires": "ip6"}
    })json"},
    // qemu-server src/PVE/QemuServer.pm, $boot_fmt.
    {"pve-qm-boot", "QemuBoot", R"json({
      "legacy": {"type": "string", "optional": 1, "default_key": 1, "pattern": "[acdn]{1,4}",
                 "format_description": "[acdn]{1,4}", "default": "cdn",
                 "description": "Boot on floppy (a), hard disk (c), CD-ROM (d), or network (n). Deprecated, use 'order=' instead."},
      "order": {"type": "string", "optional": 1, "format": "pve-qm-bootdev-list",
                "format_description": "device[;device...]",
                "description": "The guest will attempt to boot from devices in the order they appear here (';'-separated). Overrides the deprecated 'legacy=[acdn]*' value when given."}
    })json"},
    // qemu-server src/PVE/QemuServer/CPUConfig.pm, $cpu_fmt (registered as pve-vm-cpu-conf
    // and pve-cpu-conf). reported-model's enum is the host's CPU model list
    // (get_all_cpu_models), not a fixed set: kept as text.
    {"pve-vm-cpu-conf", "QemuCpu", R"json({
      "cputype": {"type": "string", "optional": 1, "default_key": 1, "default": "kvm64",
                  "format_description": "string",
                  "description": "Emulated CPU type. Can be default or custom name (custom model names must be prefixed with 'custom-')."},
      "reported-model": {"type": "string", "optional": 1, "default": "kvm64",
                         "description": "CPU model and vendor to report to the guest. Must be a QEMU/KVM supported model. Only valid for custom CPU model definitions, default models will always report themselves to the guest OS."},
      "hidden": {"type": "boolean", "optional": 1, "default": 0,
                 "description": "Do not identify as a KVM virtual machine. Only affects vCPUs with x86-64 architecture."},
      "hv-vendor-id": {"type": "string", "optional": 1, "pattern": "[a-zA-Z0-9]{1,12}",
                       "format_description": "vendor-id",
                       "description": "The Hyper-V vendor ID. Some drivers or programs inside Windows guests need a specific ID."},
      "flags": {"type": "string", "optional": 1,
                "pattern": "[+-][a-zA-Z0-9\\-_\\.]+(;[+-][a-zA-Z0-9\\-_\\.]+)*",
                "format_description": "+FLAG[;-FLAG...]",
                "description": "List of additional CPU flags separated by ';'. Use '+FLAG' to enable, '-FLAG' to disable a flag."},
      "guest-phys-bits": {"type": "integer", "optional": 1, "minimum": 32, "maximum": 64,
                          "description": "Number of physical address bits available to the guest."},
      "phys-bits": {"type": "string", "optional": 1, "format": "pve-phys-bits",
                    "format_description": "8-64|host",
                    "description": "The physical memory address bits that are reported to the guest OS. Should be smaller or equal to the host's. Set to 'host' to use value from host CPU."}
    })json"},
    // qemu-server src/PVE/QemuServer/PCI.pm, $hostpci_fmt; host's pattern is $PCIRE.
    {"pve-qm-hostpci", "QemuHostPci", R"json({
      "host": {"type": "string", "optional": 1, "default_key": 1,
               "pattern": "(?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\\.[a-f0-9])?(;(?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\\.[a-f0-9])?)*",
               "format_description": "HOSTPCIID[;HOSTPCIID2...]",
               "description": "Host PCI device pass through: the PCI ID of a host's PCI device ('bus:dev.func', hexadecimal) or a ';'-separated list of its virtual functions. Either this or the 'mapping' key must be set."},
      "mapping": {"type": "string", "optional": 1, "format": "pve-configid",
                  "format_description": "mapping-id",
                  "description": "The ID of a cluster wide mapping. Either this or the default-key 'host' must be set."},
      "rombar": {"type": "boolean", "optional": 1, "default": 1,
                 "description": "Specify whether or not the device's ROM will be visible in the guest's memory map."},
      "romfile": {"type": "string", "optional": 1, "pattern": "[^,;]+", "format_description": "string",
                  "description": "Custom pci device rom filename (must be located in /usr/share/kvm/)."},
      "pcie": {"type": "boolean", "optional": 1, "default": 0,
               "description": "Choose the PCI-express bus (needs the 'q35' machine model)."},
      "x-vga": {"type": "boolean", "optional": 1, "default": 0,
                "description": "Enable vfio-vga device support."},
      "legacy-igd": {"type": "boolean", "optional": 1, "default": 0,
                     "description": "Pass this device in legacy IGD mode, making it the primary and exclusive graphics device in the VM. Requires 'pc-i440fx' machine type and VGA set to 'none'."},
      "mdev": {"type": "string", "optional": 1, "pattern": "[^/\\.:]+", "format_description": "string",
               "description": "The type of mediated device to use. An instance of this type will be created on startup of the VM and will be cleaned up when the VM stops."},
      "vendor-id": {"type": "string", "optional": 1, "pattern": "^0x[0-9a-fA-F]{4}$",
                    "format_description": "hex id", "description": "Override PCI vendor ID visible to guest"},
      "device-id": {"type": "string", "optional": 1, "pattern": "^0x[0-9a-fA-F]{4}$",
                    "format_description": "hex id", "description": "Override PCI device ID visible to guest"},
      "sub-vendor-id": {"type": "string", "optional": 1, "pattern": "^0x[0-9a-fA-F]{4}$",
                        "format_description": "hex id", "description": "Override PCI subsystem vendor ID visible to guest"},
      "sub-device-id": {"type": "string", "optional": 1, "pattern": "^0x[0-9a-fA-F]{4}$",
                        "format_description": "hex id", "description": "Override PCI subsystem device ID visible to guest"},
      "driver": {"type": "string", "optional": 1, "default": "vfio", "enum": ["vfio", "keep"],
                 "description": "If set to 'keep' the device will neither be reset nor bound to the 'vfio-pci' driver. Useful for devices that already have the correct driver loaded."}
    })json"},
    // pve-common src/PVE/JSONSchema.pm, pve_parse_startup_order: "[[order=]\d+] [,up=\d+]
    // [,down=\d+]", non-negative whole numbers; the order may stand without its key.
    {"pve-startup-order", "StartupOrder", R"json({
      "order": {"type": "integer", "optional": 1, "default_key": 1, "minimum": 0,
                "description": "A non-negative number defining the general startup order. Shutdown is done with reverse ordering."},
      "up": {"type": "integer", "optional": 1, "minimum": 0,
             "description": "Delay in seconds to wait before the next guest is started."},
      "down": {"type": "integer", "optional": 1, "minimum": 0,
               "description": "Delay in seconds to wait before the next guest is stopped."}
    })json"},
    // pve-access-control src/PVE/Auth/Plugin.pm, $tfa_format (a realm's `tfa` option).
    {"pve-tfa-config", "RealmTfa", R"json({
      "type": {"type": "string", "enum": ["yubico", "oath"], "format_description": "TFATYPE",
               "description": "The type of the 2nd factor authentication."},
      "id": {"type": "string", "optional": 1, "format_description": "ID", "description": "Yubico API ID."},
      "key": {"type": "string", "optional": 1, "format_description": "KEY", "description": "Yubico API Key."},
      "url": {"type": "string", "optional": 1, "format_description": "URL", "description": "Yubico API URL."},
      "digits": {"type": "integer", "optional": 1, "minimum": 6, "maximum": 8, "default": 6,
                 "format_description": "COUNT", "description": "TOTP digits."},
      "step": {"type": "integer", "optional": 1, "minimum": 10, "default": 30,
               "format_description": "SECONDS", "description": "TOTP time period."}
    })json"},
    // qemu-server src/PVE/QemuServer.pm, $watchdog_fmt.
    {"pve-qm-watchdog", "QemuWatchdog", R"json({
      "model": {"type": "string", "optional": 1, "default_key": 1, "enum": ["i6300esb", "ib700"],
                "default": "i6300esb", "description": "Watchdog type to emulate."},
      "action": {"type": "string", "optional": 1,
                 "enum": ["reset", "shutdown", "poweroff", "pause", "debug", "none"],
                 "description": "The action to perform if after activation the guest fails to poll the watchdog in time."}
    })json"},
    // qemu-server src/PVE/QemuServer.pm, $cicustom_fmt.
    {"pve-qm-cicustom", "CloudInitCustom", R"json({
      "meta": {"type": "string", "optional": 1, "format": "pve-volume-id", "format_description": "volume",
               "description": "Specify a custom file containing all meta data passed to the VM via cloud-init. This is provider specific meaning configdrive2 and nocloud differ."},
      "network": {"type": "string", "optional": 1, "format": "pve-volume-id", "format_description": "volume",
                  "description": "To pass a custom file containing all network data to the VM via cloud-init."},
      "user": {"type": "string", "optional": 1, "format": "pve-volume-id", "format_description": "volume",
               "description": "To pass a custom file containing all user data to the VM via cloud-init."},
      "vendor": {"type": "string", "optional": 1, "format": "pve-volume-id", "format_description": "volume",
                 "description": "To pass a custom file containing all vendor data to the VM via cloud-init."}
    })json"},
    // qemu-server src/PVE/QemuServer.pm, $smbios1_fmt.
    {"pve-qm-smbios1", "QemuSmbios1", R"json({
      "uuid": {"type": "string", "optional": 1,
               "pattern": "[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}",
               "format_description": "UUID", "description": "Set SMBIOS1 UUID."},
      "version": {"type": "string", "optional": 1, "pattern": "[A-Za-z0-9+\\/]+={0,2}",
                  "format_description": "Base64 encoded string", "description": "Set SMBIOS1 version."},
      "serial": {"type": "string", "optional": 1, "pattern": "[A-Za-z0-9+\\/]+={0,2}",
                 "format_description": "Base64 encoded string", "description": "Set SMBIOS1 serial number."},
      "manufacturer": {"type": "string", "optional": 1, "pattern": "[A-Za-z0-9+\\/]+={0,2}",
                       "format_description": "Base64 encoded string", "description": "Set SMBIOS1 manufacturer."},
      "product": {"type": "string", "optional": 1, "pattern": "[A-Za-z0-9+\\/]+={0,2}",
                  "format_description": "Base64 encoded string", "description": "Set SMBIOS1 product ID."},
      "sku": {"type": "string", "optional": 1, "pattern": "[A-Za-z0-9+\\/]+={0,2}",
              "format_description": "Base64 encoded string", "description": "Set SMBIOS1 SKU string."},
      "family": {"type": "string", "optional": 1, "pattern": "[A-Za-z0-9+\\/]+={0,2}",
                 "format_description": "Base64 encoded string", "description": "Set SMBIOS1 family string."},
      "base64": {"type": "boolean", "optional": 1,
                 "description": "Flag to indicate that the SMBIOS values are base64 encoded"}
    })json"},
    // qemu-server src/PVE/QemuServer/RNG.pm, $rng_fmt.
    {"pve-qm-rng", "QemuRng", R"json({
      "source": {"type": "string", "default_key": 1, "enum": ["/dev/urandom", "/dev/random", "/dev/hwrng"],
                 "description": "The file on the host to gather entropy from. '/dev/hwrng' can be used to pass through a hardware RNG from the host."},
      "max_bytes": {"type": "integer", "optional": 1, "default": 1024,
                    "description": "Maximum bytes of entropy allowed to get injected into the guest every 'period' milliseconds. Use `0` to disable limiting (potentially dangerous!)."},
      "period": {"type": "integer", "optional": 1, "default": 1000,
                 "description": "Every 'period' milliseconds the entropy-injection quota is reset, allowing the guest to retrieve another 'max_bytes' of entropy."}
    })json"},
    // qemu-server src/PVE/QemuServer/CPUConfig.pm, $sev_fmt.
    {"pve-qemu-sev-fmt", "QemuAmdSev", R"json({
      "type": {"type": "string", "default_key": 1, "format_description": "sev-type",
               "enum": ["std", "es", "snp"], "maxLength": 3,
               "description": "Enable standard SEV with type='std' or enable experimental SEV-ES with the 'es' option or enable experimental SEV-SNP with the 'snp' option."},
      "no-debug": {"type": "boolean", "optional": 1, "default": 0,
                   "description": "Sets policy bit to disallow debugging of guest"},
      "no-key-sharing": {"type": "boolean", "optional": 1, "default": 0,
                         "description": "Sets policy bit to disallow key sharing with other guests (Ignored for SEV-SNP)"},
      "allow-smt": {"type": "boolean", "optional": 1, "default": 1,
                    "description": "Sets policy bit to allow Simultaneous Multi Threading (SMT) (Ignored unless for SEV-SNP)"},
      "kernel-hashes": {"type": "boolean", "optional": 1, "default": 0,
                        "description": "Add kernel hashes to guest firmware for measured linux kernel launch"}
    })json"},
    // qemu-server src/PVE/QemuServer/CPUConfig.pm, $tdx_fmt.
    {"pve-qemu-tdx-fmt", "QemuIntelTdx", R"json({
      "type": {"type": "string", "default_key": 1, "format_description": "tdx-type", "enum": ["tdx"],
               "description": "Enable TDX"},
      "attestation": {"type": "boolean", "default": 1,
                      "description": "Enable TDX attestation by including quote-generation-socket"},
      "vsock-cid": {"type": "integer", "optional": 1, "minimum": 2, "default": 2,
                    "description": "CID for vsock of Quote Generation Service"},
      "vsock-port": {"type": "integer", "optional": 1, "minimum": 0, "default": 4050,
                     "description": "Port for vsock of Quote Generation Service"}
    })json"},
    // pve-guest-common src/PVE/VZDump/Common.pm, register_format('backup-fleecing', ...)
    // (storage: the standard option pve-storage-id).
    {"backup-fleecing", "BackupFleecing", R"json({
      "enabled": {"type": "boolean", "optional": 1, "default": 0, "default_key": 1,
                  "description": "Enable backup fleecing. Cache backup data from blocks where new guest writes happen on specified storage instead of copying them directly to the backup target."},
      "storage": {"type": "string", "optional": 1, "format": "pve-storage-id",
                  "description": "Use this storage to storage fleecing images. For efficient space usage, it's best to use a local storage that supports discard and either thin provisioning or sparse files."}
    })json"},
    // pve-guest-common src/PVE/VZDump/Common.pm, register_format('backup-performance', ...).
    {"backup-performance", "BackupPerformance", R"json({
      "max-workers": {"type": "integer", "optional": 1, "minimum": 1, "maximum": 256, "default": 16,
                      "description": "Applies to VMs. Allow up to this many IO workers at the same time."},
      "pbs-entries-max": {"type": "integer", "optional": 1, "minimum": 1, "default": 1048576,
                          "description": "Applies to container backups sent to PBS. Limits the number of entries allowed in memory at a given time to avoid unintended OOM situations."}
    })json"},
    // pve-storage src/PVE/Storage/Plugin.pm, $prune_backups_format (validate_prune_backups'
    // rewrite of all-zero values to keep-all=1 is Proxmox's, after parsing).
    {"prune-backups", "PruneBackups", R"json({
      "keep-all": {"type": "boolean", "optional": 1,
                   "description": "Keep all backups. Conflicts with the other options when true."},
      "keep-last": {"type": "integer", "optional": 1, "minimum": 0, "format_description": "N",
                    "description": "Keep the last <N> backups."},
      "keep-hourly": {"type": "integer", "optional": 1, "minimum": 0, "format_description": "N",
                  "description": "Keep backups for the last <N> different hours. If there is more than one backup for a single hour, only the latest one is kept."},
      "keep-daily": {"type": "integer", "optional": 1, "minimum": 0, "format_description": "N",
                  "description": "Keep backups for the last <N> different days. If there is more than one backup for a single day, only the latest one is kept."},
      "keep-weekly": {"type": "integer", "optional": 1, "minimum": 0, "format_description": "N",
                  "description": "Keep backups for the last <N> different weeks. If there is more than one backup for a single week, only the latest one is kept."},
      "keep-monthly": {"type": "integer", "optional": 1, "minimum": 0, "format_description": "N",
                  "description": "Keep backups for the last <N> different months. If there is more than one backup for a single month, only the latest one is kept."},
      "keep-yearly": {"type": "integer", "optional": 1, "minimum": 0, "format_description": "N",
                  "description": "Keep backups for the last <N> different years. If there is more than one backup for a single year, only the latest one is kept."}
    })json"},
    // pve-common src/PVE/JSONSchema.pm, $remote_format (fingerprint: the standard option
    // fingerprint-sha256).
    {"proxmox-remote", "ProxmoxRemote", R"json({
      "host": {"type": "string", "format_description": "ADDRESS",
               "description": "Remote Proxmox hostname or IP"},
      "port": {"type": "integer", "optional": 1, "format_description": "PORT",
               "description": "Port to connect to"},
      "apitoken": {"type": "string", "format_description": "PVEAPIToken=user@realm!token=SECRET",
                   "description": "A full Proxmox API token including the secret value."},
      "fingerprint": {"type": "string", "optional": 1, "pattern": "([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}",
                      "format_description": "FINGERPRINT",
                      "description": "Remote host's certificate fingerprint, if not trusted by system store."}
    })json"},
    // pve-access-control src/PVE/Auth/Plugin.pm, $realm_sync_options_desc (scope and
    // remove-vanished: the standard options sync-scope and sync-remove-vanished).
    {"realm-sync-options", "RealmSyncOptions", R"json({
      "scope": {"type": "string", "optional": 1, "enum": ["users", "groups", "both"],
                "description": "Select what to sync."},
      "remove-vanished": {"type": "string", "optional": 1, "default": "none",
                          "pattern": "(?:(?:(?:acl|properties|entry);)*(?:acl|properties|entry))|none",
                          "description": "A semicolon-separated list of things to remove when they or the user vanishes during a sync: 'entry', 'properties', 'acl', or 'none' (the default)."},
      "full": {"type": "boolean", "optional": 1,
               "description": "DEPRECATED: use 'remove-vanished' instead. If set, uses the LDAP Directory as source of truth, deleting users or groups not returned from the sync and removing all locally modified properties of synced users."},
      "enable-new": {"type": "boolean", "optional": 1, "default": 1,
                     "description": "Enable newly synced users immediately."},
      "purge": {"type": "boolean", "optional": 1,
                "description": "DEPRECATED: use 'remove-vanished' instead. Remove ACLs for users or groups which were removed from the config during a sync."}
    })json"},
};

struct Entry {
  json::object keys;
  std::string message;
};

const std::map<std::string, Entry>& Table() {
  static const auto* table = [] {
    auto* t = new std::map<std::string, Entry>();
    for (const NamedFormat& f : kFormats) {
      boost::system::error_code ec;
      json::value v = json::parse(f.keys, ec);
      if (ec || !v.is_object()) std::abort();  // a typo in the table above; tests catch it
      t->emplace(f.name, Entry{std::move(v.get_object()), f.message});
    }
    return t;
  }();
  return *table;
}

}  // namespace

const json::object* NamedPropertyFormat(absl::string_view name) {
  const auto& table = Table();
  auto it = table.find(std::string(name));
  return it == table.end() ? nullptr : &it->second.keys;
}

std::string NamedFormatMessage(absl::string_view canonical_json) {
  static const auto* by_canon = [] {
    auto* m = new std::map<std::string, std::string, std::less<>>();
    for (const auto& [name, entry] : Table()) {
      m->emplace(CanonicalJson(json::value(entry.keys)), entry.message);
    }
    return m;
  }();
  auto it = by_canon->find(canonical_json);
  return it == by_canon->end() ? std::string() : it->second;
}

std::vector<std::string> NamedPropertyFormatNames() {
  std::vector<std::string> names;
  for (const auto& [name, keys] : Table()) names.push_back(name);
  return names;
}

}  // namespace pvegw::codegen
