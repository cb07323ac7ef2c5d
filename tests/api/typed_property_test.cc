#include "api/typed_property.h"

#include <google/protobuf/dynamic_message.h>

#include <functional>
#include <memory>
#include <regex>
#include <string>

#include "api/api_index.h"
#include "api/embedded_descriptors.h"
#include "api/property_string.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pvegw::api {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::testing::HasSubstr;
using ::testing::Optional;

// The real PVE 9 API: messages and formats exactly as the gateway serves them.
class TypedPropertyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto api = ApiIndex::FromDescriptorSet(EmbeddedLeanDescriptorSet());
    ASSERT_TRUE(api.ok()) << api.status();
    api_ = api->release();
    factory_ = new google::protobuf::DynamicMessageFactory(api_->pool());
  }

  // The typed form of `field` of request message `request`.
  static std::shared_ptr<const TypedProperty> Bound(const std::string& request,
                                                    const std::string& field) {
    const Descriptor* d = api_->pool()->FindMessageTypeByName("proxmox.ve.v1." + request);
    EXPECT_NE(d, nullptr) << request;
    if (d == nullptr) return nullptr;
    const FieldDescriptor* raw = d->FindFieldByName(field);
    const FieldDescriptor* typed = d->FindFieldByName(field + "_typed");
    EXPECT_NE(raw, nullptr);
    EXPECT_NE(typed, nullptr);
    if (raw == nullptr || typed == nullptr) return nullptr;
    const Descriptor* m = typed->is_map() ? typed->message_type()->map_value()->message_type()
                                          : typed->message_type();
    auto bound = TypedProperty::Bind(m, Rules(raw).property_format());
    EXPECT_TRUE(bound.ok()) << bound.status();
    return bound.ok() ? *bound : nullptr;
  }
  static std::unique_ptr<Message> New(const TypedProperty& p) {
    return std::unique_ptr<Message>(factory_->GetPrototype(p.message())->New());
  }
  // parse -> print.
  static std::string RoundTrip(const TypedProperty& p, const std::string& value) {
    auto msg = New(p);
    absl::Status st = p.Parse(value, msg.get());
    EXPECT_TRUE(st.ok()) << value << ": " << st;
    absl::StatusOr<std::string> printed = p.Print(*msg);
    EXPECT_TRUE(printed.ok()) << printed.status();
    return printed.ok() ? *printed : "";
  }
  static std::string Text(const Message& m) { return m.ShortDebugString(); }

  static ApiIndex* api_;
  static google::protobuf::DynamicMessageFactory* factory_;
};
ApiIndex* TypedPropertyTest::api_ = nullptr;
google::protobuf::DynamicMessageFactory* TypedPropertyTest::factory_ = nullptr;

TEST_F(TypedPropertyTest, NetAliasFillsModelAndMacAndPrintsBackIdentically) {
  auto net = Bound("PostNodesNodeQemuRequest", "net");
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(net->message()->name(), "QemuNet");
  auto msg = New(*net);
  const std::string value = "virtio=BC:24:11:2A:7E:01,bridge=vmbr0,firewall=1,tag=20";
  ASSERT_TRUE(net->Parse(value, msg.get()).ok());
  EXPECT_EQ(
      Text(*msg),
      R"(bridge: "vmbr0" firewall: true macaddr: "BC:24:11:2A:7E:01" model: "virtio" tag: 20)");
  EXPECT_EQ(*net->Print(*msg), value);

  auto e1000 = New(*net);
  ASSERT_TRUE(net->Parse("e1000=BC:24:11:00:00:01,bridge=vmbr1", e1000.get()).ok());
  EXPECT_EQ(Text(*e1000), R"(bridge: "vmbr1" macaddr: "BC:24:11:00:00:01" model: "e1000")");
}

TEST_F(TypedPropertyTest, PrintsTheWayProxmoxDoes) {
  auto net = Bound("PostNodesNodeQemuRequest", "net");
  ASSERT_NE(net, nullptr);
  auto msg = New(*net);
  const Descriptor* d = msg->GetDescriptor();
  const auto* r = msg->GetReflection();
  r->SetInt64(msg.get(), d->FindFieldByName("tag"), 20);
  r->SetString(msg.get(), d->FindFieldByName("bridge"), "vmbr0");
  r->SetBool(msg.get(), d->FindFieldByName("link_down"), false);
  r->SetString(msg.get(), d->FindFieldByName("model"), "virtio");
  // Default key first and bare, then the rest sorted; booleans as 1/0.
  EXPECT_EQ(*net->Print(*msg), "virtio,bridge=vmbr0,link_down=0,tag=20");
  r->SetString(msg.get(), d->FindFieldByName("macaddr"), "BC:24:11:2A:7E:01");
  EXPECT_EQ(*net->Print(*msg), "virtio=BC:24:11:2A:7E:01,bridge=vmbr0,link_down=0,tag=20");
  r->ClearField(msg.get(), d->FindFieldByName("model"));
  EXPECT_EQ(*net->Print(*msg), "bridge=vmbr0,link_down=0,macaddr=BC:24:11:2A:7E:01,tag=20");

  // A required key (mp) comes right after the default key (volume).
  auto mp = Bound("PostNodesNodeLxcRequest", "mp");
  ASSERT_NE(mp, nullptr);
  EXPECT_EQ(mp->message()->name(), "LxcMp");
  EXPECT_EQ(RoundTrip(*mp, "backup=1,mp=/data,local-lvm:vm-100-disk-1,acl=0"),
            "local-lvm:vm-100-disk-1,mp=/data,acl=0,backup=1");
}

TEST_F(TypedPropertyTest, BooleansSizesAndListsInsideValues) {
  auto net = Bound("PostNodesNodeQemuRequest", "net");
  auto scsi = Bound("PostNodesNodeQemuRequest", "scsi");
  ASSERT_NE(net, nullptr);
  ASSERT_NE(scsi, nullptr);
  EXPECT_EQ(RoundTrip(*net, "virtio,firewall=yes,link_down=off"), "virtio,firewall=1,link_down=0");
  EXPECT_EQ(RoundTrip(*net, "virtio,trunks=10;20-30"), "virtio,trunks=10;20-30");
  auto disk = New(*scsi);
  ASSERT_TRUE(scsi->Parse("local-lvm:vm-100-disk-0,iothread=1,size=32G", disk.get()).ok());
  EXPECT_EQ(Text(*disk), R"(file: "local-lvm:vm-100-disk-0" iothread: true size: "32G")");
  // Sizes are printed as Proxmox's format_size writes them.
  EXPECT_EQ(RoundTrip(*scsi, "local-lvm:vm-100-disk-0,size=32768M"),
            "local-lvm:vm-100-disk-0,size=32G");
  EXPECT_EQ(RoundTrip(*scsi, "local-lvm:8"), "local-lvm:8");
}

TEST_F(TypedPropertyTest, UnknownKeysAreKeptBothWays) {
  auto net = Bound("PostNodesNodeQemuRequest", "net");
  ASSERT_NE(net, nullptr);
  auto msg = New(*net);
  ASSERT_TRUE(net->Parse("virtio,bridge=vmbr0,zz-new=7,aa-new=x", msg.get()).ok());
  EXPECT_THAT(Text(*msg), HasSubstr(R"(additional_properties { key: "aa-new" value: "x" })"));
  EXPECT_THAT(Text(*msg), HasSubstr(R"(additional_properties { key: "zz-new" value: "7" })"));
  EXPECT_EQ(*net->Print(*msg), "virtio,aa-new=x,bridge=vmbr0,zz-new=7");
}

TEST_F(TypedPropertyTest, ValuesThatFailAreClearErrors) {
  auto net = Bound("PostNodesNodeQemuRequest", "net");
  ASSERT_NE(net, nullptr);
  auto parse = [&](const std::string& v) { return net->Parse(v, New(*net).get()); };
  EXPECT_THAT(std::string(parse("virtio,tag=abc").message()),
              HasSubstr("value 'abc' of key 'tag' is not an integer"));
  EXPECT_THAT(std::string(parse("virtio,firewall=maybe").message()), HasSubstr("is not a boolean"));
  EXPECT_THAT(std::string(parse("virtio,bridge=a,bridge=b").message()),
              HasSubstr("duplicate key in comma-separated list property: bridge"));
  EXPECT_THAT(std::string(parse("virtio,e1000").message()),
              HasSubstr("duplicate key in comma-separated list property: model"));
  EXPECT_THAT(std::string(parse("virtio,=x").message()), HasSubstr("missing key"));

  auto msg = New(*net);
  msg->GetReflection()->SetString(msg.get(), msg->GetDescriptor()->FindFieldByName("bridge"),
                                  "vmbr0,tag=5");
  EXPECT_EQ(net->Print(*msg).status().message(), "illegal value with commas for bridge");
}

// Formats the schema only names (format: "pve-qm-ipconfig"): pve-protogen's built-in tables
// give them keys, so they read and print like the inline ones.
TEST_F(TypedPropertyTest, CloudInitIpConfigFromTheNamedFormat) {
  auto ipconfig = Bound("PostNodesNodeQemuRequest", "ipconfig");
  ASSERT_NE(ipconfig, nullptr);
  EXPECT_EQ(ipconfig->message()->name(), "CloudInitIpConfig");
  auto msg = New(*ipconfig);
  ASSERT_TRUE(ipconfig->Parse("ip=dhcp,gw=192.0.2.1,ip6=auto", msg.get()).ok());
  EXPECT_EQ(Text(*msg), R"(gw: "192.0.2.1" ip: "dhcp" ip6: "auto")");
  // No default key: every key written with its name, sorted.
  EXPECT_EQ(*ipconfig->Print(*msg), "gw=192.0.2.1,ip=dhcp,ip6=auto");
  EXPECT_EQ(RoundTrip(*ipconfig, "ip=10.0.0.5/24,gw=10.0.0.1"), "gw=10.0.0.1,ip=10.0.0.5/24");
  EXPECT_THAT(ipconfig->Parse("dhcp", New(*ipconfig).get()).message(),
              HasSubstr("does not define a default key"));
}

TEST_F(TypedPropertyTest, QemuBootFromTheNamedFormat) {
  auto boot = Bound("PostNodesNodeQemuRequest", "boot");
  ASSERT_NE(boot, nullptr);
  EXPECT_EQ(boot->message()->name(), "QemuBoot");
  auto msg = New(*boot);
  ASSERT_TRUE(boot->Parse("order=scsi0;net0", msg.get()).ok());
  EXPECT_EQ(Text(*msg), R"(order: "scsi0;net0")");
  EXPECT_EQ(*boot->Print(*msg), "order=scsi0;net0");
  // The deprecated bare form is the default key `legacy`.
  auto legacy = New(*boot);
  ASSERT_TRUE(boot->Parse("cdn", legacy.get()).ok());
  EXPECT_EQ(Text(*legacy), R"(legacy: "cdn")");
  EXPECT_EQ(*boot->Print(*legacy), "cdn");
}

TEST_F(TypedPropertyTest, QemuCpuFromTheNamedFormat) {
  auto cpu = Bound("PostNodesNodeQemuRequest", "cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->message()->name(), "QemuCpu");
  auto msg = New(*cpu);
  ASSERT_TRUE(cpu->Parse("host,flags=+aes;-pcid", msg.get()).ok());
  EXPECT_EQ(Text(*msg), R"(cputype: "host" flags: "+aes;-pcid")");
  EXPECT_EQ(*cpu->Print(*msg), "host,flags=+aes;-pcid");
  EXPECT_EQ(RoundTrip(*cpu, "cputype=x86-64-v2-AES,hidden=1,guest-phys-bits=40"),
            "x86-64-v2-AES,guest-phys-bits=40,hidden=1");
  EXPECT_THAT(cpu->Parse("host,guest-phys-bits=many", New(*cpu).get()).message(),
              HasSubstr("is not an integer"));
}

TEST_F(TypedPropertyTest, QemuHostPciFromTheNamedFormat) {
  auto hostpci = Bound("PostNodesNodeQemuRequest", "hostpci");
  ASSERT_NE(hostpci, nullptr);
  EXPECT_EQ(hostpci->message()->name(), "QemuHostPci");
  auto msg = New(*hostpci);
  ASSERT_TRUE(hostpci->Parse("0000:01:00.0,pcie=1", msg.get()).ok());
  EXPECT_EQ(Text(*msg), R"(host: "0000:01:00.0" pcie: true)");
  EXPECT_EQ(*hostpci->Print(*msg), "0000:01:00.0,pcie=1");
  EXPECT_EQ(RoundTrip(*hostpci, "mapping=gpu0,x-vga=on,rombar=0"), "mapping=gpu0,rombar=0,x-vga=1");
  EXPECT_EQ(RoundTrip(*hostpci, "host=01:00.0;01:00.1,driver=keep"), "01:00.0;01:00.1,driver=keep");
}

TEST_F(TypedPropertyTest, OtherNamedFormatsReadAndPrint) {
  struct Case {
    const char* request;
    const char* field;
    const char* message;
    const char* value;
    const char* printed;
  };
  const Case cases[] = {
      {"PostNodesNodeQemuRequest", "watchdog", "QemuWatchdog", "model=ib700,action=reset",
       "ib700,action=reset"},
      {"PostNodesNodeQemuRequest", "cicustom", "CloudInitCustom", "user=local:snippets/u.yaml",
       "user=local:snippets/u.yaml"},
      {"PostNodesNodeQemuRequest", "smbios1", "QemuSmbios1",
       "uuid=863b31c3-42ca-4a92-aed7-4111f342f70a", "uuid=863b31c3-42ca-4a92-aed7-4111f342f70a"},
      {"PostNodesNodeQemuRequest", "rng0", "QemuRng", "source=/dev/urandom,max_bytes=2048",
       "/dev/urandom,max_bytes=2048"},
      {"PostNodesNodeQemuRequest", "amd_sev", "QemuAmdSev", "snp,allow-smt=0", "snp,allow-smt=0"},
      {"PostNodesNodeQemuRequest", "intel_tdx", "QemuIntelTdx", "tdx,attestation=1",
       "tdx,attestation=1"},
      {"PostClusterBackupRequest", "fleecing", "BackupFleecing", "enabled=1,storage=local-lvm",
       "1,storage=local-lvm"},
      {"PostClusterBackupRequest", "performance", "BackupPerformance", "max-workers=8",
       "max-workers=8"},
      {"PostClusterBackupRequest", "prune_backups", "PruneBackups", "keep-last=3,keep-daily=7",
       "keep-daily=7,keep-last=3"},
      {"PostNodesNodeQemuRequest", "startup", "StartupOrder", "order=2,up=30,down=60",
       "2,down=60,up=30"},
      {"PostNodesNodeLxcRequest", "startup", "StartupOrder", "up=10", "up=10"},
      {"PostAccessDomainsRequest", "tfa", "RealmTfa", "type=oath,digits=8,step=60",
       "type=oath,digits=8,step=60"},
      {"PostAccessDomainsRequest", "sync_defaults_options", "RealmSyncOptions",
       "enable-new=1,remove-vanished=acl;properties;entry,scope=both",
       "enable-new=1,remove-vanished=acl;properties;entry,scope=both"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    auto p = Bound(c.request, c.field);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->message()->name(), c.message);
    EXPECT_EQ(RoundTrip(*p, c.value), c.printed);
  }
}

// Every key Proxmox's own `typetext` of a property-string field names ("[gw=<GatewayIPv4>]
// [,ip=...]") is a key of the format the gateway uses for it: the hand-written tables of the
// named formats match the Proxmox VE version the schema comes from, as the inline ones do.
TEST_F(TypedPropertyTest, EveryTypetextKeyIsAKeyOfTheFieldsFormat) {
  const std::regex key_re(R"((?:^|[\[,\s])([A-Za-z][A-Za-z0-9_-]*)=)");
  int checked = 0;
  std::function<void(const Descriptor*)> walk = [&](const Descriptor* d) {
    for (int i = 0; i < d->nested_type_count(); ++i) walk(d->nested_type(i));
    for (int i = 0; i < d->field_count(); ++i) {
      const auto& rules = Rules(d->field(i));
      if (rules.property_format().empty() || rules.typetext().empty()) continue;
      auto format = ParsePropertyFormat(rules.property_format());
      ASSERT_TRUE(format.ok()) << d->field(i)->full_name();
      const std::string& text = rules.typetext();
      for (std::sregex_iterator it(text.begin(), text.end(), key_re), end; it != end; ++it) {
        const std::string key = (*it)[1];
        EXPECT_EQ((*format)->keys.count(key), 1u)
            << d->field(i)->full_name() << ": typetext key '" << key << "' is not in its format";
      }
      ++checked;
    }
  };
  for (const char* file : {"proxmox/ve/v1/nodes.proto", "proxmox/ve/v1/cluster.proto",
                           "proxmox/ve/v1/access.proto", "proxmox/ve/v1/storage.proto"}) {
    const auto* fd = api_->pool()->FindFileByName(file);
    ASSERT_NE(fd, nullptr) << file;
    for (int i = 0; i < fd->message_type_count(); ++i) walk(fd->message_type(i));
  }
  EXPECT_GT(checked, 100);
}

TEST(CanonicalDiskSizeTest, FormatSizeOfParseSize) {
  EXPECT_THAT(CanonicalDiskSize("32G"), Optional(std::string("32G")));
  EXPECT_THAT(CanonicalDiskSize("32768M"), Optional(std::string("32G")));
  EXPECT_THAT(CanonicalDiskSize("1.5G"), Optional(std::string("1536M")));
  EXPECT_THAT(CanonicalDiskSize("8GiB"), Optional(std::string("8G")));
  EXPECT_THAT(CanonicalDiskSize("1024"), Optional(std::string("1K")));
  EXPECT_THAT(CanonicalDiskSize("100"), Optional(std::string("100")));
  EXPECT_THAT(CanonicalDiskSize("2048T"), Optional(std::string("2048T")));
  EXPECT_EQ(CanonicalDiskSize("abc"), std::nullopt);
  EXPECT_EQ(CanonicalDiskSize("5X"), std::nullopt);
  EXPECT_EQ(CanonicalDiskSize(".5G"), std::nullopt);
  EXPECT_EQ(CanonicalDiskSize("99999999999999T"), std::nullopt);
}

}  // namespace
}  // namespace pvegw::api
