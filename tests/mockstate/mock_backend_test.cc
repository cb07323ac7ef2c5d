// MockBackend end to end: every collection and item behaviour Proxmox has, in one file that
// shares the world fixture (splitting it would repeat the set-up in each part).
#include "mockstate/mock_backend.h"

#include <atomic>
#include <boost/json.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/mockstate_test_util.h"

namespace pvegw::mockstate {
namespace {

namespace json = boost::json;
using testing::FullApi;
using ::testing::HasSubstr;
using testing::ScratchSpace;
using testing::Spawn;
using ::testing::UnorderedElementsAre;
using testing::WaitFor;

constexpr std::int64_t kStartMs = 1764000000000;  // a fixed "now" for reproducible tests

struct Reply {
  int status = 0;
  std::string reason;
  json::object body;
  json::value data;
};

class MockTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Open().ok()); }

  absl::Status Open(const std::string& data_path = "",
                    std::size_t capacity = kDefaultCapacityBytes) {
    MockOptions options;
    options.store = space_.Options(capacity);
    options.data_path = data_path;
    options.now_ms = [this] { return now_.load(); };
    backend_.reset();
    absl::StatusOr<std::unique_ptr<MockBackend>> backend = MockBackend::Create(FullApi(), options);
    if (!backend.ok()) return backend.status();
    backend_ = std::move(*backend);
    return absl::OkStatus();
  }

  // A call Proxmox refuses with its usual status for errors (500): the reason it gives.
  std::string Refusal(const std::string& verb, const std::string& path, RestParams params = {}) {
    Reply r = Call(verb, path, std::move(params));
    EXPECT_EQ(r.status, 500) << verb << " " << path << ": " << r.reason;
    return r.reason;
  }

  Reply Call(const std::string& verb, const std::string& path, RestParams params = {}) {
    RestResponse r = backend_->Call(RestRequest{verb, path, std::move(params)});
    Reply reply;
    reply.status = r.status;
    reply.reason = r.reason;
    json::error_code ec;
    json::value body = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << "body is not JSON: " << r.body;
    if (!ec && body.is_object()) {
      reply.body = body.get_object();
      if (const json::value* d = reply.body.if_contains("data")) reply.data = *d;
    }
    return reply;
  }
  json::value Ok(const std::string& verb, const std::string& path, RestParams params = {}) {
    Reply r = Call(verb, path, std::move(params));
    EXPECT_EQ(r.status, 200) << verb << " " << path << ": " << r.reason << " "
                             << json::serialize(r.body);
    return r.data;
  }
  static std::set<std::string> Ids(const json::value& rows, const char* key) {
    std::set<std::string> ids;
    for (const auto& row : rows.as_array()) {
      const json::value& v = row.as_object().at(key);
      ids.insert(v.is_string() ? std::string(v.get_string()) : json::serialize(v));
    }
    return ids;
  }
  std::string WaitTaskStatus(const std::string& node, const std::string& upid) {
    json::value status = Ok("GET", absl::StrCat("/nodes/", node, "/tasks/", upid, "/status"));
    return std::string(status.as_object().at("status").as_string());
  }

  ScratchSpace space_;
  std::atomic<std::int64_t> now_{kStartMs};
  std::unique_ptr<MockBackend> backend_;
};

const std::regex kUpid(
    R"(UPID:([a-z0-9-]+):[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:([a-z]+):([^:]*):root@pam:)");

// --- The seeded world -----------------------------------------------------------------------

TEST_F(MockTest, SeedWorldIsConsistentEverywhere) {
  json::value nodes = Ok("GET", "/nodes");
  EXPECT_EQ(Ids(nodes, "node"), (std::set<std::string>{"pve1", "pve2"}));
  for (const auto& n : nodes.as_array()) EXPECT_EQ(n.as_object().at("status"), "online");

  const std::set<std::string> pve1_vms = Ids(Ok("GET", "/nodes/pve1/qemu"), "vmid");
  const std::set<std::string> pve2_vms = Ids(Ok("GET", "/nodes/pve2/qemu"), "vmid");
  EXPECT_EQ(pve1_vms, (std::set<std::string>{"100", "101"}));
  EXPECT_EQ(pve2_vms, (std::set<std::string>{"102", "103"}));
  EXPECT_EQ(Ids(Ok("GET", "/nodes/pve1/lxc"), "vmid"), (std::set<std::string>{"200"}));
  EXPECT_EQ(Ids(Ok("GET", "/nodes/pve2/lxc"), "vmid"), (std::set<std::string>{"201"}));

  // Different states, spread over the nodes.
  std::set<std::string> states;
  for (const char* node : {"pve1", "pve2"}) {
    const json::value listing1 = Ok("GET", absl::StrCat("/nodes/", node, "/qemu"));
    for (const auto& vm : listing1.as_array()) {
      states.insert(std::string(vm.as_object().at("status").as_string()));
    }
  }
  EXPECT_EQ(states, (std::set<std::string>{"running", "stopped"}));

  // /cluster/resources agrees with the per-node lists.
  json::value resources = Ok("GET", "/cluster/resources");
  std::set<std::string> ids = Ids(resources, "id");
  for (const char* id :
       {"node/pve1", "node/pve2", "qemu/100", "qemu/101", "qemu/102", "qemu/103", "lxc/200",
        "lxc/201", "storage/pve1/local", "storage/pve2/local-lvm", "/pool/production"}) {
    EXPECT_TRUE(ids.count(id)) << id;
  }
  for (const auto& row : resources.as_array()) {
    const json::object& r = row.as_object();
    if (r.at("type") != "qemu") continue;
    const std::string node(r.at("node").as_string());
    const std::string vmid = json::serialize(r.at("vmid"));
    EXPECT_TRUE((node == "pve1" ? pve1_vms : pve2_vms).count(vmid)) << vmid << " on " << node;
  }
  EXPECT_EQ(Ids(Ok("GET", "/cluster/resources", {{"type", "vm"}}), "id"),
            (std::set<std::string>{"qemu/100", "qemu/101", "qemu/102", "qemu/103", "lxc/200",
                                   "lxc/201"}));
  EXPECT_EQ(Ids(Ok("GET", "/storage"), "storage"),
            (std::set<std::string>{"local", "local-lvm", "nfs-backup"}));
  EXPECT_THAT(Ids(Ok("GET", "/access/users"), "userid"),
              ::testing::IsSupersetOf({"root@pam", "admin@pve", "ci-bot@pve"}));
  EXPECT_EQ(Ids(Ok("GET", "/pools"), "poolid"),
            (std::set<std::string>{"production", "development"}));
  json::value content = Ok("GET", "/nodes/pve1/storage/local/content");
  EXPECT_TRUE(Ids(content, "volid").count("local:iso/debian-12.9.0-amd64-netinst.iso"));
}

TEST_F(MockTest, CollectionsAndItemsAgree) {
  for (const char* node : {"pve1", "pve2"}) {
    const json::value listing2 = Ok("GET", absl::StrCat("/nodes/", node, "/qemu"));
    for (const auto& vm : listing2.as_array()) {
      const std::string vmid = json::serialize(vm.as_object().at("vmid"));
      json::value config = Ok("GET", absl::StrCat("/nodes/", node, "/qemu/", vmid, "/config"));
      EXPECT_EQ(config.as_object().at("name"), vm.as_object().at("name"));
      json::value current =
          Ok("GET", absl::StrCat("/nodes/", node, "/qemu/", vmid, "/status/current"));
      EXPECT_EQ(current.as_object().at("name"), vm.as_object().at("name"));
      EXPECT_EQ(current.as_object().at("status"), vm.as_object().at("status"));
    }
  }
  for (const std::string& user : Ids(Ok("GET", "/access/users"), "userid")) {
    Ok("GET", "/access/users/" + user);
  }
  // A collection nobody seeded gets stable generated entries, each of them fetchable.
  json::value groups = Ok("GET", "/cluster/firewall/groups");
  ASSERT_FALSE(groups.as_array().empty());
  EXPECT_EQ(json::serialize(groups), json::serialize(Ok("GET", "/cluster/firewall/groups")));
  for (const std::string& group : Ids(groups, "group"))
    Ok("GET", "/cluster/firewall/groups/" + group);
}

TEST_F(MockTest, MissingThingsAnswerLikeProxmox) {
  Reply vm = Call("GET", "/nodes/pve1/qemu/999/config");
  EXPECT_EQ(vm.status, 500);
  EXPECT_EQ(vm.reason, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist");
  EXPECT_TRUE(vm.body.at("data").is_null());
  EXPECT_EQ(Call("GET", "/nodes/pve2/qemu/100/status/current").status, 500) << "100 lives on pve1";
  EXPECT_EQ(Refusal("GET", "/nodes/pve1/lxc/999/status/current"),
            "Configuration file 'nodes/pve1/lxc/999.conf' does not exist");
  EXPECT_EQ(Refusal("GET", "/access/users/nobody@pve"), "no such user ('nobody@pve')");
  EXPECT_EQ(Refusal("GET", "/nodes/pve9/qemu"), "no such cluster node 'pve9'");
  EXPECT_EQ(Refusal("GET", "/pools/nope"), "pool 'nope' does not exist");
  Reply group = Call("GET", "/cluster/firewall/groups/not-there");
  EXPECT_EQ(group.status, 500) << "Proxmox never answers 404";
  EXPECT_EQ(group.reason, "group 'not-there' does not exist");
  Reply unknown = Call("GET", "/nodes/pve1/no-such-thing");
  EXPECT_EQ(unknown.status, 501);
  EXPECT_EQ(unknown.reason, "Method 'GET /nodes/pve1/no-such-thing' not implemented");
  EXPECT_EQ(Call("PATCH", "/version").status, 501);
  EXPECT_EQ(Call("GET", "/nodes/pve1/qemu/%zz/config").status, 400);
}

// --- VM lifecycle ---------------------------------------------------------------------------

TEST_F(MockTest, VmLifecycleEndToEnd) {
  json::value upid = Ok("POST", "/nodes/pve1/qemu",
                        {{"vmid", "150"},
                         {"name", "app01"},
                         {"memory", "2048"},
                         {"cores", "2"},
                         {"net0", "virtio,bridge=vmbr0"},
                         {"ostype", "l26"}});
  std::smatch m;
  const std::string upid_text(upid.as_string());
  ASSERT_TRUE(std::regex_match(upid_text, m, kUpid)) << upid_text;
  EXPECT_EQ(m[1], "pve1");
  EXPECT_EQ(m[2], "qmcreate");
  EXPECT_EQ(m[3], "150");

  // Listed on its node and cluster-wide; config shows exactly what was set.
  EXPECT_TRUE(Ids(Ok("GET", "/nodes/pve1/qemu"), "vmid").count("150"));
  EXPECT_TRUE(Ids(Ok("GET", "/cluster/resources"), "id").count("qemu/150"));
  json::object config = Ok("GET", "/nodes/pve1/qemu/150/config").as_object();
  EXPECT_EQ(config.at("name"), "app01");
  EXPECT_EQ(config.at("memory"), "2048");
  EXPECT_EQ(config.at("cores"), 2);
  // Proxmox stores a NIC with its MAC (qemu-server add_random_macs, prefix BC:24:11).
  EXPECT_TRUE(std::regex_match(std::string(config.at("net0").as_string()),
                               std::regex("virtio=BC:24:11(:[0-9A-F]{2}){3},bridge=vmbr0")))
      << config.at("net0");
  std::set<std::string> keys;
  for (const auto& kv : config) keys.emplace(kv.key());
  EXPECT_EQ(keys, (std::set<std::string>{"name", "memory", "cores", "net0", "ostype", "digest"}))
      << "config shows what was set and nothing invented";
  const std::string digest(config.at("digest").as_string());
  EXPECT_EQ(digest.size(), 40u);
  json::object row;
  const json::value listing3 = Ok("GET", "/nodes/pve1/qemu");
  for (const auto& vm : listing3.as_array()) {
    if (vm.as_object().at("vmid") == 150) row = vm.as_object();
  }
  EXPECT_EQ(row.at("maxmem"), std::int64_t{2048} << 20);
  EXPECT_EQ(row.at("cpus"), 2);
  EXPECT_EQ(row.at("status"), "stopped");

  // Update: set, delete keys, digest check.
  EXPECT_TRUE(Ok("PUT", "/nodes/pve1/qemu/150/config",
                 {{"name", "app02"}, {"delete", "net0"}, {"digest", digest}})
                  .is_null());
  config = Ok("GET", "/nodes/pve1/qemu/150/config").as_object();
  EXPECT_EQ(config.at("name"), "app02");
  EXPECT_FALSE(config.contains("net0"));
  EXPECT_NE(config.at("digest"), json::value(digest));
  EXPECT_THAT(Refusal("PUT", "/nodes/pve1/qemu/150/config", {{"name", "x"}, {"digest", digest}}),
              HasSubstr("detected modified configuration"));
  json::value async = Ok("POST", "/nodes/pve1/qemu/150/config", {{"cores", "4"}});
  EXPECT_TRUE(std::regex_match(std::string(async.as_string()), kUpid)) << "POST config is async";
  EXPECT_EQ(Ok("GET", "/nodes/pve1/qemu/150/config").as_object().at("cores"), 4);

  // Start: a real task that runs for the simulated time, then stops with OK.
  const std::string start(Ok("POST", "/nodes/pve1/qemu/150/status/start").as_string());
  ASSERT_TRUE(std::regex_match(start, m, kUpid)) << start;
  EXPECT_EQ(m[2], "qmstart");
  EXPECT_EQ(Ok("GET", "/nodes/pve1/qemu/150/status/current").as_object().at("status"), "running");
  EXPECT_EQ(WaitTaskStatus("pve1", start), "running");
  json::value partial_log = Ok("GET", "/nodes/pve1/tasks/" + start + "/log");
  EXPECT_FALSE(partial_log.as_array().empty());
  EXPECT_NE(partial_log.as_array().back().as_object().at("t"), "TASK OK");
  now_ += kDefaultTaskDurationMs;
  json::object done = Ok("GET", "/nodes/pve1/tasks/" + start + "/status").as_object();
  EXPECT_EQ(done.at("status"), "stopped");
  EXPECT_EQ(done.at("exitstatus"), "OK");
  EXPECT_EQ(done.at("upid"), json::value(start));
  json::value log = Ok("GET", "/nodes/pve1/tasks/" + start + "/log");
  EXPECT_EQ(log.as_array().back().as_object().at("t"), "TASK OK");
  EXPECT_EQ(log.as_array().front().as_object().at("n"), 1);
  EXPECT_TRUE(Ids(Ok("GET", "/nodes/pve1/tasks"), "upid").count(start));
  EXPECT_GE(Ok("GET", "/nodes/pve1/qemu/150/status/current").as_object().at("uptime").as_int64(),
            2);

  // Proxmox's refusals.
  EXPECT_EQ(Refusal("POST", "/nodes/pve1/qemu/150/status/start"), "VM 150 already running");
  EXPECT_EQ(Refusal("DELETE", "/nodes/pve1/qemu/150"), "VM 150 is running - destroy failed");

  const std::string shutdown(Ok("POST", "/nodes/pve1/qemu/150/status/shutdown").as_string());
  ASSERT_TRUE(std::regex_match(shutdown, m, kUpid));
  EXPECT_EQ(m[2], "qmshutdown");
  EXPECT_EQ(Ok("GET", "/nodes/pve1/qemu/150/status/current").as_object().at("status"), "stopped");
  EXPECT_EQ(Call("POST", "/nodes/pve1/qemu/150/status/shutdown").reason, "VM 150 not running");

  // Delete removes it everywhere.
  const std::string destroy(Ok("DELETE", "/nodes/pve1/qemu/150").as_string());
  ASSERT_TRUE(std::regex_match(destroy, m, kUpid));
  EXPECT_EQ(m[2], "qmdestroy");
  EXPECT_FALSE(Ids(Ok("GET", "/nodes/pve1/qemu"), "vmid").count("150"));
  EXPECT_FALSE(Ids(Ok("GET", "/cluster/resources"), "id").count("qemu/150"));
  EXPECT_EQ(Call("GET", "/nodes/pve1/qemu/150/config").status, 500);
  EXPECT_EQ(Call("GET", "/nodes/pve1/qemu/150/status/current").status, 500);
}

TEST_F(MockTest, PlainAndIndexedParametersMaySharePrefix) {
  // PVE has both `numa` (a flag) and `numa[n]` (per-node settings) on one call.
  Ok("POST", "/nodes/pve1/qemu",
     {{"vmid", "151"}, {"numa", "1"}, {"numa0", "cpus=0-1,memory=1024"}});
  json::object config = Ok("GET", "/nodes/pve1/qemu/151/config").as_object();
  EXPECT_EQ(config.at("numa"), 1);
  EXPECT_EQ(config.at("numa0"), "cpus=0-1,memory=1024");
  EXPECT_EQ(Call("POST", "/nodes/pve1/qemu", {{"vmid", "152"}, {"numa", "maybe"}}).status, 400);
}

TEST_F(MockTest, DuplicateVmidsAreRejectedClusterWide) {
  EXPECT_EQ(Refusal("POST", "/nodes/pve1/qemu", {{"vmid", "100"}}),
            "unable to create VM 100 - VM 100 already exists on node 'pve1'");
  EXPECT_EQ(Refusal("POST", "/nodes/pve2/qemu", {{"vmid", "100"}}),
            "unable to create VM 100 - VM 100 already exists on node 'pve1'");
  EXPECT_THAT(Refusal("POST", "/nodes/pve2/lxc",
                      {{"vmid", "101"}, {"ostemplate", "local:vztmpl/x.tar.zst"}}),
              HasSubstr("already exists on node 'pve1'"));
  EXPECT_EQ(Ok("GET", "/nodes/pve1/qemu/100/config").as_object().at("name"), "web01")
      << "the original is untouched";
  EXPECT_EQ(Ok("GET", "/cluster/nextid"), 104);
  Reply taken = Call("GET", "/cluster/nextid", {{"vmid", "100"}});
  EXPECT_EQ(taken.status, 400);
}

TEST_F(MockTest, TemplatesCannotStartAndStopIsIdempotent) {
  EXPECT_EQ(Call("POST", "/nodes/pve2/qemu/103/status/start").reason,
            "you can't start a vm if it's a template");
  EXPECT_EQ(Call("POST", "/nodes/pve2/qemu/102/status/stop").status, 200);
}

TEST_F(MockTest, ContainerLifecycle) {
  Ok("POST", "/nodes/pve2/lxc",
     {{"vmid", "250"},
      {"hostname", "cache01"},
      {"ostemplate", "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"},
      {"memory", "1024"},
      {"net0", "name=eth0,bridge=vmbr0,ip=dhcp"}});
  json::object row;
  const json::value listing4 = Ok("GET", "/nodes/pve2/lxc");
  for (const auto& ct : listing4.as_array()) {
    if (ct.as_object().at("vmid") == 250) row = ct.as_object();
  }
  ASSERT_FALSE(row.empty());
  EXPECT_EQ(row.at("name"), "cache01");
  EXPECT_EQ(row.at("status"), "stopped");
  EXPECT_EQ(Ok("GET", "/nodes/pve2/lxc/250/config").as_object().at("hostname"), "cache01");
  const std::string start(Ok("POST", "/nodes/pve2/lxc/250/status/start").as_string());
  std::smatch m;
  ASSERT_TRUE(std::regex_match(start, m, kUpid));
  EXPECT_EQ(m[2], "vzstart");
  EXPECT_EQ(Call("POST", "/nodes/pve2/lxc/250/status/start").reason, "CT 250 already running");
  Ok("POST", "/nodes/pve2/lxc/250/status/stop");
  Ok("DELETE", "/nodes/pve2/lxc/250");
  EXPECT_FALSE(Ids(Ok("GET", "/cluster/resources"), "id").count("lxc/250"));
}

// --- Looking like a real host ----------------------------------------------------------------

std::set<std::string> Volids(const json::value& content) {
  std::set<std::string> ids;
  for (const auto& row : content.as_array()) ids.insert(std::string(row.at("volid").as_string()));
  return ids;
}

TEST_F(MockTest, NewDisksBecomeAllocatedVolumes) {
  Ok("POST", "/nodes/pve1/qemu",
     {{"vmid", "300"},
      {"scsi0", "local-lvm:8"},
      {"scsi1", "local-lvm:0.5,discard=on"},
      {"ide2", "local:iso/debian-12.9.0-amd64-netinst.iso,media=cdrom"}});
  json::object config = Ok("GET", "/nodes/pve1/qemu/300/config").as_object();
  EXPECT_EQ(config.at("scsi0"), "local-lvm:vm-300-disk-0,size=8G");
  EXPECT_EQ(config.at("scsi1"), "local-lvm:vm-300-disk-1,discard=on,size=512M");
  EXPECT_EQ(config.at("ide2"), "local:iso/debian-12.9.0-amd64-netinst.iso,media=cdrom")
      << "existing volumes stay as they are";
  const json::value content = Ok("GET", "/nodes/pve1/storage/local-lvm/content");
  EXPECT_TRUE(Volids(content).count("local-lvm:vm-300-disk-0"));
  for (const auto& row : content.as_array()) {
    if (row.at("volid") != "local-lvm:vm-300-disk-0") continue;
    EXPECT_EQ(row.at("size"), std::int64_t{8} << 30);
    EXPECT_EQ(row.at("vmid"), 300);
    EXPECT_EQ(row.at("content"), "images");
  }
  json::object row;
  const json::value vms = Ok("GET", "/nodes/pve1/qemu");
  for (const auto& vm : vms.as_array()) {
    if (vm.at("vmid") == 300) row = vm.as_object();
  }
  EXPECT_EQ(row.at("maxdisk"), std::int64_t{8} << 30);

  // Updates allocate the next free disk number; an unknown storage is Proxmox's error.
  Ok("PUT", "/nodes/pve1/qemu/300/config", {{"virtio0", "local-lvm:4"}});
  EXPECT_EQ(Ok("GET", "/nodes/pve1/qemu/300/config").at("virtio0"),
            "local-lvm:vm-300-disk-2,size=4G");
  EXPECT_EQ(Refusal("PUT", "/nodes/pve1/qemu/300/config", {{"scsi3", "nope:4"}}),
            "storage 'nope' does not exist");

  // Containers: rootfs and mount points alike.
  Ok("POST", "/nodes/pve1/lxc",
     {{"vmid", "301"},
      {"ostemplate", "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"},
      {"rootfs", "local-lvm:4"},
      {"mp0", "local-lvm:2,mp=/data"}});
  config = Ok("GET", "/nodes/pve1/lxc/301/config").as_object();
  EXPECT_EQ(config.at("rootfs"), "local-lvm:vm-301-disk-0,size=4G");
  EXPECT_EQ(config.at("mp0"), "local-lvm:vm-301-disk-1,mp=/data,size=2G");
  EXPECT_EQ(config.at("arch"), "amd64");
  EXPECT_EQ(Ok("GET", "/nodes/pve1/lxc/301/status/current").at("maxdisk"), std::int64_t{4} << 30);

  // Destroying a guest destroys its volumes.
  Ok("DELETE", "/nodes/pve1/qemu/300");
  Ok("DELETE", "/nodes/pve1/lxc/301");
  const std::set<std::string> left = Volids(Ok("GET", "/nodes/pve1/storage/local-lvm/content"));
  for (const char* v : {"local-lvm:vm-300-disk-0", "local-lvm:vm-300-disk-1",
                        "local-lvm:vm-300-disk-2", "local-lvm:vm-301-disk-0"}) {
    EXPECT_FALSE(left.count(v)) << v;
  }
  EXPECT_TRUE(left.count("local-lvm:vm-100-disk-0"));
}

void ExpectPossiblePressure(const json::object& o, bool running, const std::string& where) {
  for (const char* res : {"cpu", "io", "memory"}) {
    const std::string some = absl::StrCat("pressure", res, "some");
    const std::string full = absl::StrCat("pressure", res, "full");
    if (!o.contains(some) || !o.contains(full)) continue;
    const double s = o.at(some).to_number<double>();
    const double f = o.at(full).to_number<double>();
    EXPECT_LE(f, s) << where << " " << res;
    if (!running) {
      EXPECT_EQ(s, 0) << where << " " << res << ": a stopped guest stalls nothing";
    }
  }
}

TEST_F(MockTest, GuestStatusHasWhatRealHostsSend) {
  const json::object running = Ok("GET", "/nodes/pve1/qemu/100/status/current").as_object();
  EXPECT_EQ(json::serialize(running.at("ha")), R"({"managed":0})");
  for (const char* k : {"balloon", "balloon_min", "freemem", "ballooninfo", "proxmox-support",
                        "pid", "agent", "shares", "disk", "running-qemu", "running-machine"}) {
    EXPECT_TRUE(running.contains(k)) << k;
  }
  EXPECT_TRUE(running.at("blockstat").as_object().contains("scsi0"));
  EXPECT_TRUE(running.at("blockstat").at("scsi0").as_object().contains("rd_bytes"));
  EXPECT_EQ(running.at("nics").at("tap100i0").at("netin"), running.at("netin"));
  EXPECT_LE(running.at("freemem").to_number<std::int64_t>(),
            running.at("maxmem").to_number<std::int64_t>());
  ExpectPossiblePressure(running, true, "VM 100");

  const json::object stopped = Ok("GET", "/nodes/pve2/qemu/102/status/current").as_object();
  EXPECT_EQ(json::serialize(stopped.at("ha")), R"({"managed":0})");
  for (const char* k : {"pid", "running-qemu", "running-machine", "blockstat", "ballooninfo"}) {
    EXPECT_FALSE(stopped.contains(k)) << k;
  }
  EXPECT_EQ(stopped.at("cpu").to_number<double>(), 0);
  ExpectPossiblePressure(stopped, false, "VM 102");

  const json::object ct = Ok("GET", "/nodes/pve1/lxc/200/status/current").as_object();
  for (const char* k : {"swap", "maxswap", "type", "pid", "ha", "disk"}) {
    EXPECT_TRUE(ct.contains(k)) << k;
  }
  ExpectPossiblePressure(ct, true, "CT 200");
  EXPECT_EQ(json::serialize(ct.at("ha")), R"({"managed":1,"state":"started","group":"dns-nodes"})")
      << "CT 200 is an HA resource";
  const json::object stopped_ct = Ok("GET", "/nodes/pve2/lxc/201/status/current").as_object();
  EXPECT_FALSE(stopped_ct.contains("pid"));
  ExpectPossiblePressure(stopped_ct, false, "CT 201");

  const json::value resources = Ok("GET", "/cluster/resources");
  for (const auto& row : resources.as_array()) {
    const json::object& r = row.as_object();
    if (r.at("type") != "qemu" && r.at("type") != "lxc") continue;
    ExpectPossiblePressure(r, r.at("status") == "running", json::serialize(r.at("id")));
  }
  const json::value nodes = Ok("GET", "/nodes");
  for (const auto& row : nodes.as_array()) {
    EXPECT_EQ(std::string(row.at("id").as_string()),
              absl::StrCat("node/", std::string(row.at("node").as_string())));
    EXPECT_EQ(row.at("type"), "node");
  }
  // The present state is always listed among the snapshots.
  const json::value snapshots = Ok("GET", "/nodes/pve1/qemu/100/snapshot");
  ASSERT_FALSE(snapshots.as_array().empty());
  EXPECT_EQ(snapshots.as_array().back().at("name"), "current");
  EXPECT_EQ(snapshots.as_array().back().at("running"), 1);
}

TEST_F(MockTest, CloneAndMigrateMoveGuestsConsistently) {
  Ok("POST", "/nodes/pve2/qemu/103/clone", {{"newid", "300"}, {"name", "from-template"}});
  EXPECT_EQ(Ok("GET", "/nodes/pve2/qemu/300/config").as_object().at("name"), "from-template");
  Ok("POST", "/nodes/pve2/qemu/300/migrate", {{"target", "pve1"}});
  EXPECT_TRUE(Ids(Ok("GET", "/nodes/pve1/qemu"), "vmid").count("300"));
  EXPECT_FALSE(Ids(Ok("GET", "/nodes/pve2/qemu"), "vmid").count("300"));
  EXPECT_EQ(Call("POST", "/nodes/pve1/qemu/100/migrate", {{"target", "pve2"}}).reason,
            "can't migrate running VM without --online");
}

// --- Tasks ----------------------------------------------------------------------------------

TEST_F(MockTest, EveryUpidOperationStartsATaskThatFinishes) {
  const std::string upid(
      Ok("POST", "/nodes/pve1/vzdump", {{"vmid", "100"}, {"storage", "nfs-backup"}}).as_string());
  std::smatch m;
  ASSERT_TRUE(std::regex_match(upid, m, kUpid)) << upid;
  EXPECT_EQ(m[1], "pve1");
  EXPECT_EQ(WaitTaskStatus("pve1", upid), "running");
  json::value active = Ok("GET", "/nodes/pve1/tasks", {{"source", "active"}});
  EXPECT_TRUE(Ids(active, "upid").count(upid));
  now_ += kDefaultTaskDurationMs + 1;
  EXPECT_EQ(WaitTaskStatus("pve1", upid), "stopped");
  json::value archive = Ok("GET", "/nodes/pve1/tasks");
  ASSERT_TRUE(Ids(archive, "upid").count(upid));
  for (const auto& t : archive.as_array()) {
    if (t.as_object().at("upid") == json::value(upid)) {
      EXPECT_EQ(t.as_object().at("status"), "OK");
    }
  }
  // A cluster-level UPID call runs on a node too.
  const std::string bulk(Ok("POST", "/cluster/bulk-action/guest/start").as_string());
  EXPECT_TRUE(std::regex_match(bulk, kUpid)) << bulk;
}

TEST_F(MockTest, TaskLogPagingAndStop) {
  const std::string upid(Ok("POST", "/nodes/pve2/qemu/102/status/start").as_string());
  now_ += kDefaultTaskDurationMs;
  json::value all = Ok("GET", "/nodes/pve2/tasks/" + upid + "/log");
  ASSERT_EQ(all.as_array().size(), 4u);
  json::value page =
      Ok("GET", "/nodes/pve2/tasks/" + upid + "/log", {{"start", "1"}, {"limit", "2"}});
  ASSERT_EQ(page.as_array().size(), 2u);
  EXPECT_EQ(page.as_array()[0].as_object().at("n"), 2);
  EXPECT_EQ(
      Call("GET", "/nodes/pve1/tasks/UPID:pve1:00000001:00000001:00000001:x::root@pam:/status")
          .status,
      500);

  const std::string running(Ok("POST", "/nodes/pve2/qemu/102/status/stop").as_string());
  Ok("DELETE", "/nodes/pve2/tasks/" + running);
  json::object stopped = Ok("GET", "/nodes/pve2/tasks/" + running + "/status").as_object();
  EXPECT_EQ(stopped.at("status"), "stopped");
  EXPECT_NE(stopped.at("exitstatus"), "OK");
}

// --- Validation -----------------------------------------------------------------------------

TEST_F(MockTest, ParametersAreValidatedLikeProxmox) {
  Reply r = Call("POST", "/nodes/pve1/qemu",
                 {{"vmid", "5"},
                  {"cores", "many"},
                  {"ostype", "beos"},
                  {"bogus", "1"},
                  {"description", std::string(9000, 'x')},
                  {"onboot", "perhaps"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.reason, "Parameter verification failed.");
  ASSERT_TRUE(r.body.contains("errors")) << json::serialize(r.body);
  const json::object& errors = r.body.at("errors").as_object();
  for (const char* key : {"vmid", "cores", "ostype", "bogus", "description", "onboot"}) {
    ASSERT_TRUE(errors.contains(key)) << key << " in " << json::serialize(errors);
  }
  EXPECT_EQ(errors.at("vmid"), "value must have a minimum value of 100");
  EXPECT_EQ(errors.at("cores"), "type check ('integer') failed - got 'many'");
  EXPECT_THAT(std::string(errors.at("ostype").as_string()),
              HasSubstr("value 'beos' does not have a value in the enumeration 'other, wxp"));
  EXPECT_EQ(
      errors.at("bogus"),
      "property is not defined in schema and the schema does not allow additional properties");
  EXPECT_EQ(errors.at("description"), "value may only be 8192 characters long");
  EXPECT_EQ(errors.at("onboot"), "type check ('boolean') failed - got 'perhaps'");

  Reply missing = Call("POST", "/nodes/pve1/qemu", {});
  EXPECT_EQ(missing.body.at("errors").as_object().at("vmid"),
            "property is missing and it is not optional");
  Reply path = Call("GET", "/nodes/pve1/qemu/abc/config");
  EXPECT_EQ(path.status, 400);
  EXPECT_EQ(path.body.at("errors").as_object().at("vmid"),
            "type check ('integer') failed - got 'abc'");
  Reply pattern = Call("POST", "/access/users", {{"userid", "not a user id"}});
  EXPECT_EQ(pattern.status, 400);
  EXPECT_EQ(pattern.body.at("errors").as_object().at("userid"),
            "invalid format - value 'not a user id' does not look like a valid user name\n");
  EXPECT_FALSE(Ids(Ok("GET", "/nodes/pve1/qemu"), "vmid").count("5")) << "nothing was created";
}

TEST_F(MockTest, PropertyStringsAreCheckedAgainstTheirFormat) {
  Reply r = Call("POST", "/nodes/pve1/qemu",
                 {{"vmid", "160"}, {"net0", "garbage"}, {"scsi0", "nonsense"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.reason, "Parameter verification failed.");
  ASSERT_TRUE(r.body.contains("errors")) << json::serialize(r.body);
  const json::object& errors = r.body.at("errors").as_object();
  EXPECT_THAT(std::string(errors.at("net0").as_string()),
              ::testing::StartsWith("invalid format - format error\nnet0.model: value 'garbage' "
                                    "does not have a value in the enumeration 'e1000, "));
  EXPECT_EQ(errors.at("scsi0"),
            "invalid format - format error\nscsi0.file: invalid format - unable to parse volume "
            "ID 'nonsense'\n\n");
  EXPECT_EQ(Call("GET", "/nodes/pve1/qemu/160/config").status, 500) << "nothing was created";

  r = Call("POST", "/nodes/pve1/qemu",
           {{"vmid", "160"}, {"net0", "virtio,bridge=vmbr0,colour=red"}, {"memory", "8"}});
  EXPECT_EQ(r.body.at("errors").as_object().at("net0"),
            "invalid format - invalid key in comma-separated list property: colour\n");
  EXPECT_THAT(std::string(r.body.at("errors").as_object().at("memory").as_string()),
              HasSubstr("memory.current: value must have a minimum value of 16"));

  r = Call("POST", "/nodes/pve1/lxc",
           {{"vmid", "260"},
            {"ostemplate", "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"},
            {"net0", "bridge=vmbr0"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(std::string(r.body.at("errors").as_object().at("net0").as_string()),
              HasSubstr("net0.name: property is missing and it is not optional"));

  // Well-formed ones pass, aliases and boolean spellings included.
  Ok("POST", "/nodes/pve1/qemu",
     {{"vmid", "160"},
      {"net0", "virtio=BC:24:11:00:01:60,bridge=vmbr0,firewall=yes"},
      {"scsi0", "local-lvm:8,iothread=1"},
      {"memory", "2048"}});
  Reply update = Call("PUT", "/nodes/pve1/qemu/160/config", {{"net1", "e1000,tag=5000"}});
  EXPECT_EQ(update.status, 400);
  EXPECT_THAT(std::string(update.body.at("errors").as_object().at("net1").as_string()),
              HasSubstr("net1.tag: value must have a maximum value of 4094"));
}

// --- Other core objects ---------------------------------------------------------------------

TEST_F(MockTest, UsersCrud) {
  Ok("POST", "/access/users",
     {{"userid", "alice@pve"}, {"email", "alice@example.com"}, {"firstname", "Alice"}});
  EXPECT_EQ(Ok("GET", "/access/users/alice@pve").as_object().at("email"), "alice@example.com");
  EXPECT_EQ(Call("POST", "/access/users", {{"userid", "alice@pve"}}).reason,
            "create user failed: user 'alice@pve' already exists");
  Ok("PUT", "/access/users/alice@pve", {{"firstname", "Alicia"}, {"email", "alicia@example.com"}});
  json::object alice = Ok("GET", "/access/users/alice@pve").as_object();
  EXPECT_EQ(alice.at("firstname"), "Alicia");
  EXPECT_EQ(alice.at("email"), "alicia@example.com");
  Ok("DELETE", "/access/users/alice@pve");
  EXPECT_FALSE(Ids(Ok("GET", "/access/users"), "userid").count("alice@pve"));
  EXPECT_EQ(Call("GET", "/access/users/alice@pve").reason, "no such user ('alice@pve')");
}

TEST_F(MockTest, PoolsTrackMembers) {
  Ok("POST", "/pools", {{"poolid", "staging"}, {"comment", "Stage"}});
  EXPECT_EQ(Call("POST", "/pools", {{"poolid", "staging"}}).reason,
            "create pool failed: pool 'staging' already exists");
  EXPECT_EQ(Call("PUT", "/pools", {{"poolid", "staging"}, {"vms", "100"}}).reason,
            "VM 100 belongs to pool 'production'");
  Ok("PUT", "/pools", {{"poolid", "staging"}, {"vms", "103"}});
  json::value staging = Ok("GET", "/pools/staging");
  ASSERT_EQ(staging.as_object().at("members").as_array().size(), 1u);
  const json::object& member = staging.as_object().at("members").as_array()[0].as_object();
  EXPECT_EQ(member.at("id"), "qemu/103");
  EXPECT_EQ(member.at("name"), "debian-12-template")
      << "open objects keep keys the schema does not list";
  const json::value listing5 = Ok("GET", "/cluster/resources", {{"type", "vm"}});
  for (const auto& row : listing5.as_array()) {
    if (row.as_object().at("id") == "qemu/103") {
      EXPECT_EQ(row.as_object().at("pool"), "staging");
    }
  }
  EXPECT_EQ(Call("DELETE", "/pools", {{"poolid", "staging"}}).reason,
            "delete pool failed: pool 'staging' is not empty");
  Ok("PUT", "/pools", {{"poolid", "staging"}, {"vms", "103"}, {"delete", "1"}});
  Ok("DELETE", "/pools", {{"poolid", "staging"}});
  EXPECT_FALSE(Ids(Ok("GET", "/pools"), "poolid").count("staging"));
  // Destroying a guest takes it out of its pool.
  Ok("POST", "/nodes/pve2/qemu/102/status/stop");
  Ok("DELETE", "/nodes/pve2/qemu/102");
  EXPECT_TRUE(Ok("GET", "/pools/development").as_object().at("members").as_array().size() == 2u)
      << "only the storage members remain";
}

TEST_F(MockTest, StorageCrudAndNodeView) {
  Ok("POST", "/storage",
     {{"storage", "fast"}, {"type", "dir"}, {"path", "/srv/fast"}, {"content", "images"}});
  EXPECT_EQ(Call("POST", "/storage", {{"storage", "fast"}, {"type", "dir"}, {"path", "/x"}}).reason,
            "create storage failed: storage ID 'fast' already defined");
  EXPECT_TRUE(Ids(Ok("GET", "/nodes/pve1/storage"), "storage").count("fast"));
  EXPECT_EQ(Ids(Ok("GET", "/nodes/pve1/storage", {{"content", "backup"}}), "storage"),
            (std::set<std::string>{"local", "nfs-backup"}));
  Ok("GET", "/nodes/pve1/storage/fast/status");
  Ok("DELETE", "/storage/fast");
  EXPECT_EQ(Call("GET", "/nodes/pve1/storage/fast/status").reason, "storage 'fast' does not exist");
}

// --- Determinism, reset, capacity, processes ------------------------------------------------

TEST_F(MockTest, GeneratedAnswersAreDeterministicAcrossNamespaces) {
  const std::string a = json::serialize(Ok("GET", "/nodes/pve1/status"));
  const std::string b = json::serialize(Ok("GET", "/nodes/pve1/status"));
  EXPECT_EQ(a, b);
  ScratchSpace other;
  MockOptions options;
  options.store = other.Options();
  options.now_ms = [] { return kStartMs; };
  auto second = MockBackend::Create(FullApi(), options);
  ASSERT_TRUE(second.ok()) << second.status();
  RestResponse r = (*second)->Call(RestRequest{"GET", "/nodes/pve1/status", {}});
  EXPECT_EQ(json::serialize(json::parse(r.body).as_object().at("data")), a);
}

TEST_F(MockTest, GeneratedValuesPassTheirFieldsPatterns) {
  const std::string repoid(Ok("GET", "/version").as_object().at("repoid").as_string());
  EXPECT_TRUE(std::regex_match(repoid, std::regex("[0-9a-fA-F]{8,64}"))) << repoid;
}

TEST_F(MockTest, ResetRestoresTheSeedWorld) {
  Ok("POST", "/nodes/pve1/qemu", {{"vmid", "150"}});
  ASSERT_TRUE(backend_->Reset().ok());
  EXPECT_FALSE(Ids(Ok("GET", "/nodes/pve1/qemu"), "vmid").count("150"));
  EXPECT_TRUE(Ids(Ok("GET", "/nodes/pve1/qemu"), "vmid").count("100"));
}

TEST_F(MockTest, FullStoreGivesAClearErrorAndStaysUsable) {
  ASSERT_TRUE(Open("", std::size_t{1} << 20).ok());
  Reply last;
  const std::string description(7000, 'd');
  for (int vmid = 1000; vmid < 3000; ++vmid) {
    last = Call("POST", "/nodes/pve1/qemu",
                {{"vmid", absl::StrCat(vmid)}, {"description", description}});
    if (last.status != 200) break;
  }
  ASSERT_EQ(last.status, 500) << "1 MiB never filled up";
  EXPECT_THAT(last.reason, HasSubstr("is full"));
  EXPECT_EQ(Ok("GET", "/nodes/pve1/qemu/100/config").as_object().at("name"), "web01");
  ASSERT_TRUE(backend_->Reset().ok());
  Ok("POST", "/nodes/pve1/qemu", {{"vmid", "1000"}});
}

TEST_F(MockTest, TwoProcessesShareOneWorld) {
  MockOptions options;
  options.store = space_.Options();
  const pid_t child = Spawn([&] {
    auto other = MockBackend::Create(FullApi(), options);
    if (!other.ok()) return 1;
    RestResponse r = (*other)->Call(
        RestRequest{"POST", "/nodes/pve2/qemu", {{"vmid", "777"}, {"name", "from-child"}}});
    if (r.status != 200) return 2;
    // And the child sees what the parent seeded.
    r = (*other)->Call(RestRequest{"GET", "/nodes/pve1/qemu/100/config", {}});
    return r.status == 200 ? 0 : 3;
  });
  ASSERT_EQ(WaitFor(child, 20000), 0);
  EXPECT_EQ(Ok("GET", "/nodes/pve2/qemu/777/config").as_object().at("name"), "from-child");
  EXPECT_TRUE(Ids(Ok("GET", "/cluster/resources"), "id").count("qemu/777"));
}

// --- Custom data ----------------------------------------------------------------------------

TEST_F(MockTest, CustomDataSeedsAndOverridesByConcretePath) {
  const std::string file = space_.dir() + "/world.yaml";
  std::ofstream(file) << R"(# custom mock data
/nodes/pve1/qemu/100/config:
  name: renamed-by-file
  memory: "16384"
/nodes/pve1/qemu/160/config:
  name: from-file
  cores: 3
/nodes/pve2/lxc:
  - vmid: 210
    hostname: yaml-ct
    status: running
/version:
  version: "9.9.9"
  release: "9.9"
  repoid: "deadbeef"
)";
  ASSERT_TRUE(Open(file).ok());
  EXPECT_EQ(Ok("GET", "/nodes/pve1/qemu/100/config").as_object().at("name"), "renamed-by-file");
  EXPECT_EQ(Ok("GET", "/nodes/pve1/qemu/160/config").as_object().at("cores"), 3);
  EXPECT_TRUE(Ids(Ok("GET", "/nodes/pve1/qemu"), "vmid").count("160"));
  EXPECT_EQ(Ids(Ok("GET", "/nodes/pve2/lxc"), "vmid"), (std::set<std::string>{"210"}));
  EXPECT_TRUE(Ids(Ok("GET", "/cluster/resources"), "id").count("lxc/210"));
  EXPECT_EQ(Ok("GET", "/version").as_object().at("version"), "9.9.9");

  const std::string json_file = space_.dir() + "/world.json";
  std::ofstream(json_file) << R"({"/nodes/pve1/qemu/101/config": {"name": "json-name"}})";
  ASSERT_TRUE(Open(json_file).ok());
  EXPECT_EQ(Ok("GET", "/nodes/pve1/qemu/101/config").as_object().at("name"), "json-name");
}

struct BadData {
  std::string name;
  std::string content;
  std::string expected;
  friend void PrintTo(const BadData& b, std::ostream* os) { *os << b.name; }
};

class BadCustomDataTest : public MockTest, public ::testing::WithParamInterface<BadData> {};

TEST_P(BadCustomDataTest, IsAClearStartupError) {
  const std::string file = space_.dir() + "/" + GetParam().name;
  std::ofstream(file) << GetParam().content;
  absl::Status st = Open(file);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr(file));
  EXPECT_THAT(st.message(), HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Files, BadCustomDataTest,
    ::testing::Values(
        BadData{"syntax.yaml", "/version:\n  version: [unclosed\n", ":3:"},
        BadData{"syntax.json", "{\"/version\": {\"version\": }", ":1:"},
        BadData{"list.yaml", "- /version\n", "expected a mapping of API paths"},
        BadData{"relative.yaml", "nodes/pve1: {}\n", "keys must be API paths"},
        BadData{"unknown.yaml", "/nodes/pve1/frobnicate: {}\n", "matches no GET operation"},
        BadData{"kind.yaml", "/nodes/pve1/qemu:\n  vmid: 1\n", "a collection takes a list"},
        BadData{"rowkey.yaml", "/nodes/pve1/qemu:\n  - name: no-id\n",
                "every row needs its 'vmid'"},
        BadData{"scalar.yaml", "/cluster/nextid:\n  - 1\n", "answers a scalar"},
        // YAML aliases: a list that contains itself, and a few lines that expand to 10^8.
        BadData{"self_alias.yaml", "/version: &x [*x]\n", "nested deeper than 64"},
        BadData{"deep.json",
                "{\"/version\": " + std::string(100, '[') + std::string(100, ']') + "}",
                "nested deeper than 64"},
        BadData{"laughs.yaml",
                "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n",
                "more than 5000000 values"}),
    [](const ::testing::TestParamInfo<BadData>& info) {
      std::string n = info.param.name;
      for (char& c : n) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return n;
    });

TEST_F(MockTest, UnreadableCustomDataIsAStartupError) {
  absl::Status st = Open(space_.dir() + "/does-not-exist.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("cannot read"));
}

TEST(MockOptionsTest, EnvironmentIsValidated) {
  ::setenv("PROXMOX_MOCK_TASK_DURATION_MS", "soon", 1);
  absl::StatusOr<MockOptions> bad = MockOptionsFromEnv();
  ::unsetenv("PROXMOX_MOCK_TASK_DURATION_MS");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("PROXMOX_MOCK_TASK_DURATION_MS=soon"));
  ::setenv("PROXMOX_MOCK_STATE_NAMESPACE", "ns1", 1);
  ::setenv("PROXMOX_MOCK_STATE_CAPACITY_MB", "64", 1);
  absl::StatusOr<MockOptions> good = MockOptionsFromEnv();
  ::unsetenv("PROXMOX_MOCK_STATE_NAMESPACE");
  ::unsetenv("PROXMOX_MOCK_STATE_CAPACITY_MB");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->store.ns, "ns1");
  EXPECT_EQ(good->store.capacity_bytes, std::size_t{64} << 20);
}

}  // namespace
}  // namespace pvegw::mockstate
